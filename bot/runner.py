"""Runs of the bot: one poll (fetch, process, send) and the scheduled loop around it."""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field

from apscheduler.schedulers.blocking import BlockingScheduler
from imapclient import IMAPClient

from bot.app import App
from bot.mailbox import ImapMailbox, MailboxError
from bot.outbox import SendReport, send_outbox
from bot.pipeline import Source, process
from storage import queries
from storage.db import session

log = logging.getLogger("supplierbot.runner")


@dataclass
class PollReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    fetch_error: str = ""
    send: SendReport = field(default_factory=SendReport)

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())) or "nothing new"
        text = f"inbound: {counts}; sent {self.send.sent}, failed {self.send.failed}, waiting {self.send.deferred}"
        errors = "; ".join(e for e in (self.fetch_error, self.send.error) if e)
        return f"{text}; errors: {errors}" if errors else text


def fetch_and_process(app: App, report: PollReport) -> None:
    imap = app.config.imap
    account = f"{imap.username}@{imap.host}:{imap.port}"
    try:
        with ImapMailbox(imap) as box:
            with session(app.engine) as s:
                cursor = queries.cursor_for(s, account, imap.folder)
            # a new UIDVALIDITY means old UIDs mean nothing: start over, the ledger drops repeats
            last = cursor.last_uid if cursor and cursor.uidvalidity == box.uidvalidity else 0
            for uid, raw in box.fetch(box.uids_after(last)):
                outcome = process(app, Source(account, imap.folder, box.uidvalidity, uid), raw)
                report.outcomes[outcome.status.value if outcome else "already seen"] += 1
    except (MailboxError, OSError, IMAPClient.Error) as exc:  # a drop mid-batch: the next poll resumes
        report.fetch_error = str(exc)
        log.warning("imap unavailable", extra={"error": str(exc)})


def poll_once(app: App) -> PollReport:
    """Fetch and apply everything waiting, then send everything queued."""
    report = PollReport()
    fetch_and_process(app, report)
    report.send = asyncio.run(send_outbox(app))
    return report


def run_forever(app: App) -> None:
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(lambda: log.info("poll", extra={"report": poll_once(app).summary()}),
                      "interval", seconds=app.config.bot.poll_interval_seconds, id="poll",
                      max_instances=1, coalesce=True, next_run_time=app.clock())
    scheduler.start()
