"""Runs of the bot: one poll (fetch, process, send) and the scheduled loop around it."""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.utils import parseaddr

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from imapclient import IMAPClient

from bot.app import App
from bot.config import ServerSettings
from bot.login import LoginWaiting
from bot.mailbox import IdleWatcher, ImapMailbox, MailboxError
from bot.outbox import SendReport, next_retry
from bot.sending import SWITCH_INTERVAL, SenderThread
from bot.apply import Outcome
from bot.jobs import JOBS
from bot.pipeline import Source, enqueue, retry_due
from bot.workers import Worker, hold_fetcher_lease, holds_fetcher_lease, new_owner, release_fetcher_lease
from storage import queries
from storage.db import session
from storage.models import InboundStatus

log = logging.getLogger("supplierbot.runner")


@dataclass
class PollReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    fetch_error: str = ""
    fetched: int = 0  # new messages put in the queue
    send: SendReport = field(default_factory=SendReport)
    process_seconds: float = 0.0  # fetching and applying
    send_seconds: float = 0.0

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())) or "nothing new"
        text = (f"inbound: {counts}; sent {self.send.sent}, failed {self.send.failed}, waiting {self.send.deferred} "
                f"(processing {self.process_seconds:.1f} s, sending {self.send_seconds:.1f} s)")
        errors = "; ".join(e for e in (self.fetch_error, self.send.error) if e)
        return f"{text}; errors: {errors}" if errors else text


def fetch_and_process(app: App, report: PollReport, owner: str = "", worker: Worker | None = None) -> None:
    """Fetch what is new into the queue (if this process holds the fetcher lease), apply what is
    queued with `worker` (None: leave it to the run's workers), retry failed messages and move
    what is done. Queued messages are applied even while the mail server is unreachable."""
    imap = app.config.imap
    account = f"{imap.username}@{imap.host}:{imap.port}"
    moving = bool(imap.processed_folder or imap.failed_folder)
    if not hold_fetcher_lease(app, owner or new_owner()):  # another process fetches this mailbox
        _drain(worker, report)
        return
    try:
        with ImapMailbox(imap, readonly=not moving) as box:
            _fetch_new(app, box, account, report)
            _drain(worker, report)
            report.outcomes.update(_outcome_name(o) for o in retry_due(app))
            if moving:
                settle(app, box, account)
    except (MailboxError, OSError, IMAPClient.Error) as exc:  # a drop mid-batch: the next poll resumes
        report.fetch_error = str(exc)
        if not isinstance(exc.__cause__, LoginWaiting):  # a refused login is logged once, when refused
            log.warning("imap unavailable", extra={"error": str(exc)})
        _drain(worker, report)


def _drain(worker: Worker | None, report: PollReport) -> None:
    if worker is not None:
        report.outcomes.update(_outcome_name(o) for o in worker.drain().values())


def _fetch_new(app: App, box: ImapMailbox, account: str, report: PollReport) -> None:
    folder = app.config.imap.folder
    with session(app.engine) as s:
        cursor = queries.cursor_for(s, account, folder)
    # a new UIDVALIDITY means old UIDs mean nothing: start over, the ledger drops repeats
    last = cursor.last_uid if cursor and cursor.uidvalidity == box.uidvalidity else 0
    uids = box.uids_after(last)
    # the bot's copies of what it sent (one for every email) are known by their From header and
    # never fetched whole: half of what arrives in a busy mailbox
    senders = box.senders(uids) if uids else {}
    own = {uid for uid in uids if is_own_copy(senders.get(uid, b""), app.config.bot.address)}
    for batch in box.fetch_batches([uid for uid in uids if uid not in own], app.files):
        sources = [(Source(account, folder, box.uidvalidity, uid), raw) for uid, raw in batch]
        stored = enqueue(app, sources)
        report.fetched += sum(1 for inbound_id in stored if inbound_id is not None)
        report.outcomes.update("already seen" for inbound_id in stored if inbound_id is None)
    if own:  # after every other message up to them is in the ledger
        _pass_own_copies(app, box, account, sorted(own))


def is_own_copy(raw: bytes, bot_address: str) -> bool:
    """The bot's copy of an email it sent (see bot/outbox.py): kept in the mailbox, never processed."""
    sender = parseaddr(str(BytesHeaderParser().parsebytes(raw[:65536]).get("From", "")))[1]
    return sender.lower() == bot_address.lower()


def _pass_own_copies(app: App, box: ImapMailbox, account: str, uids: list[int]) -> None:
    """Move the cursor past the bot's own copies (the other messages fetched with them are
    committed by now), and file them with the processed mail where mail is moved."""
    with session(app.engine) as s:
        queries.advance_cursor(s, account, app.config.imap.folder, box.uidvalidity, max(uids))
        s.commit()
    if app.config.imap.processed_folder and box.can_move():  # else they stay, like all mail there
        box.move(uids, app.config.imap.processed_folder)


def _outcome_name(outcome: Outcome | None) -> str:
    return outcome.status.value if outcome else "already seen"


def settle(app: App, box: ImapMailbox, account: str) -> None:
    """Move what is done to the processed folder and what gave up to the failed folder.

    Runs after the commits; a crash before the location is recorded only means
    the next run moves again, and moving a UID that is gone is a no-op.
    """
    imap = app.config.imap
    with session(app.engine) as s:
        rows = queries.unsettled(s, account, imap.folder, box.uidvalidity)
        done = [(r.id, r.uid) for r in rows if r.status not in (InboundStatus.FAILED, InboundStatus.QUEUED)]
        parked = [(r.id, r.uid) for r in rows if r.status is InboundStatus.FAILED and r.next_attempt_at is None]
    movable = box.can_move()
    for moving, folder, location in ((done, imap.processed_folder, "processed"),
                                     (parked, imap.failed_folder, "failed")):
        if not (folder and moving):
            continue
        if movable:
            box.move([uid for _, uid in moving], folder)  # no transaction is held across the IMAP call
        else:
            _leave(imap, folder)
            location = "left"  # stays in the source folder for good: not looked at again
        with session(app.engine) as s:
            queries.set_location(s, [inbound_id for inbound_id, _ in moving], location)
            s.commit()


def _leave(imap: ServerSettings, folder: str) -> None:
    if imap.login.first_time("cannot move"):
        log.warning(f"the IMAP server offers neither MOVE nor UIDPLUS: mail stays in {imap.folder} instead of "
                    f"moving to {folder} (an EXPUNGE would also delete what a person flagged \\Deleted)",
                    extra={"folder": folder})


def poll_once(app: App) -> PollReport:
    """Fetch and apply everything waiting and send everything queued: the answers of each round
    of applied messages go out (from the sender thread) while the next round is applied.
    `send_seconds` is the sending left after the processing."""
    report = PollReport()
    started = time.perf_counter()
    worker = Worker(app)
    with short_switches():
        sender = SenderThread(app).start()
        sender.kick()  # what was queued before this poll (new orders, reminders) goes out at once
        worker.committed = sender.kick  # and each commit's answers while the next are applied
        try:
            fetch_and_process(app, report, worker.owner, worker)
        finally:
            release_fetcher_lease(app, worker.owner)  # the next poll, in another process, fetches at once
            sending = time.perf_counter()
            report.send = sender.close()
    report.process_seconds, report.send_seconds = sending - started, time.perf_counter() - sending
    return report


_switches = {"users": 0, "before": 0.0}
_switches_lock = threading.Lock()


@contextmanager
def short_switches() -> Iterator[None]:
    """The GIL handed on every millisecond instead of every five while the worker and the sender
    run side by side: an SMTP answer waiting for the sender is not held up by a busy worker.
    Process-wide, so counted: the interval comes back when the last user leaves."""
    with _switches_lock:
        if not _switches["users"]:
            _switches["before"] = sys.getswitchinterval()
            sys.setswitchinterval(min(_switches["before"], SWITCH_INTERVAL))
        _switches["users"] += 1
    try:
        yield
    finally:
        with _switches_lock:
            _switches["users"] -= 1
            if not _switches["users"]:
                sys.setswitchinterval(_switches["before"])


#: how often an idle worker looks at the queue for what another process fetched
QUEUE_CHECK_SECONDS = 0.5


def run_forever(app: App, stop: threading.Event | None = None) -> None:
    """Fetch on new mail (IMAP IDLE) and on a schedule (fallback), apply what is queued, send
    what is decided, run the schedules; until SIGTERM/SIGINT or `stop`.

    Three threads: the poll (fetching, only while this process holds the fetcher lease), the
    worker (claiming and applying queued messages; scans are read in the reader pool meanwhile)
    and the sender (its SMTP connections stay open; kicked by whoever queues mail). Several such
    processes, on one host or several, share one PostgreSQL store.
    """
    stop = stop or threading.Event()
    wake, queued = threading.Event(), threading.Event()
    worker = Worker(app)
    retry = _Retry(app)
    hold_fetcher_lease(app, worker.owner)  # before the schedules start: they run where the fetcher runs
    if app.config.reading.start_early:
        threading.Thread(target=_warm_readers, args=(app,), name="readers-warm", daemon=True).start()
    swept = app.files.sweep_temporary()
    if swept:
        log.info("temporary files of an interrupted write removed", extra={"files": swept})

    def poll() -> PollReport:
        report = PollReport()
        fetch_and_process(app, report, worker.owner)
        queued.set()
        sender.kick()  # what the operator queued (new orders) goes out now
        log.info("poll", extra={"report": report.summary()})
        return report

    def poll_job() -> None:  # one poll at a time (max_instances=1)
        poll_until_quiet(poll, wake, stop)

    # A wake-up during a poll is handled by the loop above; APScheduler's "skipped" warning is noise.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    scheduler = BackgroundScheduler(timezone="UTC")
    sender = SenderThread(app, lambda report: retry.plan(scheduler, report))
    retry.kick = worker.committed = sender.kick
    scheduler.add_job(poll_job, "interval", seconds=app.config.bot.poll_interval_seconds, id="poll",
                      max_instances=1, coalesce=True, next_run_time=app.clock())
    for name, job in JOBS.items():  # each decides itself what is due, so a check every few minutes is enough
        scheduler.add_job(_scheduled(app, name, job, sender, worker.owner), "interval", minutes=5, id=name,
                          max_instances=1, coalesce=True, next_run_time=app.clock())
    scheduler.start()

    def poll_now() -> None:
        wake.set()
        try:
            scheduler.modify_job("poll", next_run_time=datetime.now(timezone.utc))
        except JobLookupError:  # stopping: the scheduler's jobs are gone before the watcher is
            pass

    watcher = IdleWatcher(app.config.imap, poll_now, stop)
    threads = [threading.Thread(target=watcher.run, name="imap-idle", daemon=True),
               threading.Thread(target=_work, args=(worker, stop, queued), name="worker", daemon=True)]
    with short_switches():
        sender.start()
        for thread in threads:
            thread.start()
        _stop_on_signals(stop)
        stop.wait()
        scheduler.shutdown(wait=True)
        for thread in threads:
            thread.join(timeout=5)
        sender.close(timeout=5)  # the last answers go out; one still on the wire after 5 s is settled at the next start
    release_fetcher_lease(app, worker.owner)


#: polls in a row started only because the one before found mail (not announced by IDLE):
#: bounded, as a server that renews UIDVALIDITY at every session has the whole mailbox "found"
#: at every poll
AGAIN_AFTER_FOUND = 5


def poll_until_quiet(poll: Callable[[], PollReport], wake: threading.Event, stop: threading.Event) -> int:
    """Poll, and again while mail came: a poll that found new mail looks again at once, and so
    does mail announced during a poll (`wake`). Mail comes in bursts, and an IMAP server may
    announce it late (Dovecot holds each IDLE notice for half a second), so the rest of a burst
    is fetched at once, not at the next notice. Returns the number of polls."""
    polls, found_only = 0, 0
    while not stop.is_set():
        wake.clear()
        report = poll()
        polls += 1
        if wake.is_set():
            found_only = 0
        elif report.fetched and found_only < AGAIN_AFTER_FOUND:
            found_only += 1
        else:
            return polls
    return polls


def _warm_readers(app: App) -> None:
    try:
        app.readers.warm()
    except Exception:  # the first document starts them instead
        log.warning("reader processes could not be started ahead", exc_info=True)


def _work(worker: Worker, stop: threading.Event, queued: threading.Event) -> None:
    """Apply queued messages as they come; after each commit the sender thread is kicked
    (worker.committed) and sends its answers while the next are applied. A message whose scans
    are being read waits in the worker while the next ones pass it."""
    while not stop.is_set():
        queued.clear()
        try:
            applied = worker.step()
        except Exception:  # the database is away, say: the messages stay queued; try again shortly
            log.exception("worker failed; retrying")
            stop.wait(5.0)
            continue
        if applied or worker.claimed:
            continue
        if worker.reading:
            worker.wait(0.1)
        else:
            queued.wait(QUEUE_CHECK_SECONDS)
    worker.release()


def _scheduled(app: App, name: str, job, sender: SenderThread, owner: str) -> Callable[[], None]:
    def run() -> None:
        if holds_fetcher_lease(app, owner) and job(app):  # one process runs the schedules: the fetcher
            sender.kick()
    return run


class _Retry:
    """The sender's own timer: a temporary refusal (4xx), an unreachable server or an unsure
    email is tried again when it is due, not at the next scheduled poll."""

    def __init__(self, app: App) -> None:
        self.app, self.failures = app, 0
        self.lock = threading.Lock()
        self.kick: Callable[[], None] = lambda: None  # the sender thread's

    def plan(self, scheduler: BackgroundScheduler, report: SendReport) -> None:
        with self.lock:
            self.failures = self.failures + 1 if report.error else 0
            due = next_retry(self.app, report, self.failures)
        if due is not None:
            scheduler.add_job(self._send, "date", args=(scheduler,), run_date=max(due, self.app.clock()),
                              id="outbox-retry", replace_existing=True, misfire_grace_time=None)

    def _send(self, scheduler: BackgroundScheduler) -> None:
        log.info("outbox retry due")
        self.kick()  # the sender's report plans the next retry


def _stop_on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
