"""The outbox sender: delivers queued rows over SMTP (aiosmtplib) and marks each one sent.

Every email also goes to the bot's own address (an extra envelope recipient, in the
same SMTP transaction), so a copy of everything the server accepted lands in the
bot's mailbox. A row whose outcome is unknown (its sender was killed mid-send, or the
connection broke during DATA) is sent again only when that copy is not found within
`bot.sent_copy_wait_seconds`.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosmtplib
from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from bot.app import App
from bot.config import ServerSettings
from bot.login import LoginFailed, LoginWaiting, connect_smtp, smtp_client, smtp_login
from bot.mailbox import MailboxError, find_copies
from bot.sendlog import SENDING, SENT, UNKNOWN, GroupCommit, Mark, SendLog
from bot.smtpfile import NothingSent, sendmail_bytes, sendmail_file
from bot.pipeline import backoff
from storage import queries
from storage.db import session
from storage.models import OutboxMessage, OutboxStatus

log = logging.getLogger("supplierbot.outbox")
MAX_ATTEMPTS = 10
#: far longer than a chunk takes to send; only a sender that vanished on another host waits it out
CLAIM_LEASE = timedelta(minutes=10)
#: rows read from the database in one go when a connection needs its next email (each row holds
#: an email of at most about 1.4 MB; bigger ones are files)
LOAD_BATCH = 16
#: a kept connection left unused longer than this is closed rather than used (servers drop idle
#: sessions after a few minutes; RFC 5321 asks them to wait at least 5)
MAX_IDLE_SECONDS = 120.0


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    error: str = ""


def _client(settings: ServerSettings) -> aiosmtplib.SMTP:
    return smtp_client(settings.host, settings.port, settings.security, settings.timeout_seconds, settings.login)


async def open_connection(settings: ServerSettings) -> aiosmtplib.SMTP:
    """Connected and logged in as configured; LoginFailed or SMTPException/OSError if not."""
    settings.login.check_backoff()  # before connecting: a refused login is not retried every poll
    smtp = _client(settings)
    await connect_smtp(smtp, settings.security, settings.login)
    try:
        await smtp_login(smtp, settings.login)
    except BaseException:
        smtp.close()
        raise
    return smtp


class Sender:
    """Sends the outbox over SMTP connections it keeps open from one send to the next.

        sender = Sender(app)
        report = await sender.send()     # as send_outbox(app), on kept connections
        ...
        await sender.close()             # QUIT on every kept connection

    Use it from one event loop (bot/sending.py's thread keeps one); concurrent
    `send`s on it take turns. A kept connection is used again only if it is still up and was idle
    less than `max_idle` seconds; one the server dropped meanwhile fails before DATA (nothing
    sent) and is replaced by a fresh one (the idle ones are closed too), and its email goes on
    the fresh one. A connection is
    kept only after a send that ended normally on it (never after an error or a cancellation).
    """

    def __init__(self, app: App, max_idle: float = MAX_IDLE_SECONDS) -> None:
        self.app, self.max_idle = app, max_idle
        self.idle: list[tuple[aiosmtplib.SMTP, float]] = []  # connection, when it was left (monotonic)
        self.opened = 0  # connections opened so far
        self._turn: asyncio.Lock | None = None

    async def send(self, chunk: int = 100) -> SendReport:
        """Send every due row (see send_outbox)."""
        if self._turn is None:
            self._turn = asyncio.Lock()
        async with self._turn:
            return await _send_outbox(self.app, chunk, self)

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        await asyncio.gather(*(_quit(smtp) for smtp, _ in idle))

    async def _take(self, fresh: bool = False) -> aiosmtplib.SMTP:
        """A kept connection, else a new one (LoginFailed, SMTPException or OSError if it cannot be had).
        `fresh`: a kept connection was just found dropped, so the idle ones are doubtful too:
        they are closed, and a new one is opened."""
        now = time.monotonic()
        if fresh:  # in doubt: closed without a QUIT, which a half-open one would hold up for 5 s
            for smtp, _ in self.idle:
                smtp.close()
            self.idle = []
        while self.idle:
            smtp, since = self.idle.pop()
            if smtp.is_connected and now - since < self.max_idle:
                return smtp
            await _quit(smtp)
        smtp = await open_connection(self.app.config.smtp)
        self.opened += 1
        return smtp

    def _keep(self, smtp: aiosmtplib.SMTP) -> None:
        if smtp.is_connected:
            self.idle.append((smtp, time.monotonic()))


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    try:
        if smtp.is_connected:
            await asyncio.wait_for(smtp.quit(), 5)
    except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
        pass
    finally:
        smtp.close()


async def send_outbox(app: App, chunk: int = 100) -> SendReport:
    """Send every due row over up to `smtp.connections` parallel connections, opened for this
    send and closed after it (a `Sender` keeps them for the next)."""
    sender = Sender(app)
    try:
        return await _send_outbox(app, chunk, sender)
    finally:
        await sender.close()


async def _send_outbox(app: App, chunk: int, sender: Sender) -> SendReport:
    """Send every due row over up to `smtp.connections` parallel connections.

    Rows are claimed `chunk` at a time before they are sent, so several senders (threads
    of one bot, or bot processes sharing a PostgreSQL store) never send the same row. A
    claim ends when the row is sent, fails, or this run ends; a sender that died holding
    claims loses them at once to a sender on the same host (its pid is gone), else when
    the lease runs out. Each connection takes the next row when it is free, so one big
    email holds up only its own connection, and connections stay open across chunks.
    """
    report = SendReport()
    work = _Work(app, _new_owner(), chunk, SendLog(app.config.storage.data_dir))
    try:
        await asyncio.to_thread(settle_unknown, app, work.sendlog)
        waiting = await work.claim_more()
        lanes = min(app.config.smtp.connections, waiting)
        # the first connection logs in alone: wrong credentials are refused once, not once per lane
        first = await _connect(app, sender, work, report) if lanes else None
        if first is not None:  # a lane that raises cancels the others before _finish gives their rows back
            async with asyncio.TaskGroup() as lanes_running:
                lanes_running.create_task(_send_lane(app, sender, work, report, first))
                for _ in range(lanes - 1):
                    lanes_running.create_task(_send_lane(app, sender, work, report))
        report.deferred = len(work.taken) - report.sent - report.failed
        return report
    finally:
        _finish(app, work)
        work.sendlog.close()


def _finish(app: App, work: _Work) -> None:
    """Fold what was accepted into the outbox, give back the rest; a mark still "sending" here
    (the run was cancelled mid-send) becomes unknown."""
    work.marks.flush_now()  # the "sent" marks not written yet, before "sending" ones are judged
    for mark in work.sendlog.marks():
        if mark.owner == work.owner and mark.state == SENDING:
            work.sendlog.unknown(mark.outbox_id)
    with session(app.engine) as s:
        accepted = _fold(s, work.sendlog)
        queries.release_outbox_claims(s, work.owner)
        s.commit()
    work.sendlog.forget(accepted)


class _Work:
    """The rows this run claimed and no connection has taken yet; claims more when empty.

    Rows are read LOAD_BATCH at a time as connections ask for them (one query and one thread
    hop for several emails), each still checked to be queued and ours when it is read."""

    def __init__(self, app: App, owner: str, chunk: int, sendlog: SendLog) -> None:
        self.app, self.owner, self.chunk, self.sendlog = app, owner, chunk, sendlog
        self.marks = GroupCommit(sendlog)
        self.pending: deque[int] = deque()
        self.loaded: deque[tuple[int, tuple[str, bytes, str] | None]] = deque()
        self.taken: set[int] = set()  # ever claimed by this run (a claim lists in-flight rows too)
        self.exhausted = False  # a claim found nothing new: the lanes finish what they hold
        self.lock = asyncio.Lock()

    async def claim_more(self) -> int:
        claimed = await asyncio.to_thread(_claim, self.app, self.sendlog, self.owner, self.chunk)
        fresh = [i for i in claimed if i not in self.taken]
        self.taken.update(fresh)
        self.pending.extend(fresh)
        return len(fresh)

    async def next(self) -> tuple[int, tuple[str, bytes, str] | None] | None:
        """The next row's id and (recipients, bytes, Message-ID), None for those if it is no longer
        queued and ours; None when there are no more."""
        async with self.lock:
            if not self.loaded:
                if not self.pending and not self.exhausted:
                    await self.marks.flush()  # the "sent" marks, folded in by the claim
                    self.exhausted = not await self.claim_more()
                ids = [self.pending.popleft() for _ in range(min(LOAD_BATCH, len(self.pending)))]
                if ids:
                    rows = await asyncio.to_thread(_load_many, self.app, self.owner, ids)
                    self.loaded.extend((i, rows.get(i)) for i in ids)
            return self.loaded.popleft() if self.loaded else None


def _new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claim(app: App, sendlog: SendLog, owner: str, chunk: int) -> list[int]:
    """Fold accepted marks in, then claim; a row with an open mark (on the wire, or of
    unknown outcome) is left out, whoever holds it."""
    now = app.clock()
    with session(app.engine) as s:
        accepted = _fold(s, sendlog)
        open_marks = [m.outbox_id for m in sendlog.marks() if m.state != SENT]
        dead = [holder for holder in queries.outbox_claimants(s, now) if _holder_is_gone(holder)]
        ids = queries.claim_outbox(s, owner, now, now + CLAIM_LEASE, chunk, dead, open_marks)
        s.commit()
    sendlog.forget(accepted)
    return ids


def _fold(s: Session, sendlog: SendLog) -> list[int]:
    """Mark in the outbox what the send log says was accepted; the ids to forget after the commit."""
    accepted = [m for m in sendlog.marks() if m.state == SENT]
    _mark_sent(s, [(m.outbox_id, m.at) for m in accepted])
    return [m.outbox_id for m in accepted]


_TABLE = OutboxMessage.__table__
#: queries.mark_outbox_sent as one executemany: an ORM UPDATE per row cost ~1 ms, as much as sending
_MARK_SENT = (update(_TABLE).where(_TABLE.c.id == bindparam("row"), _TABLE.c.status == OutboxStatus.QUEUED.value)
              .values(status=OutboxStatus.SENT.value, sent_at=bindparam("at"), claimed_by="", claimed_until=None,
                      attempts=_TABLE.c.attempts + 1))


def _mark_sent(s: Session, accepted: list[tuple[int, datetime]]) -> None:
    """Rows the server accepted (id, when): sent, claims dropped; a row already sent is left alone."""
    if accepted:
        s.connection().execute(_MARK_SENT, [{"row": outbox_id, "at": when} for outbox_id, when in accepted])


def settle_unknown(app: App, sendlog: SendLog) -> None:
    """Decide the rows whose outcome nobody knows: sent if the bot's copy is in its mailbox,
    queued again if no copy came within `bot.sent_copy_wait_seconds`; left for later while the
    mailbox is down."""
    now, wait = app.clock(), timedelta(seconds=app.config.bot.sent_copy_wait_seconds)
    doubtful = [m for m in sendlog.marks() if _is_doubtful(m, now)]
    if not doubtful:
        return
    imap = app.config.imap
    folders = [f for f in (imap.folder, imap.processed_folder, imap.failed_folder) if f]
    try:
        found = find_copies(imap, folders, [m.message_id for m in doubtful])
    except MailboxError as exc:
        log.warning("cannot look for copies of unsure emails", extra={"error": str(exc), "rows": len(doubtful)})
        return
    settled = [m for m in doubtful if m.message_id in found or now - m.at >= wait]
    with session(app.engine) as s:
        queries.mark_outbox_sent(s, [(m.outbox_id, m.at) for m in settled if m.message_id in found],
                                 note="outcome unknown after a crash; its copy was found in the mailbox")
        queries.note_outbox(s, [m.outbox_id for m in settled if m.message_id not in found],
                            f"outcome unknown after a crash; no copy within {wait.seconds} s: sent again")
        s.commit()
    sendlog.forget(m.outbox_id for m in settled)
    log.info("unsure emails settled", extra={"found": len(found), "again": len(settled) - len(found),
                                             "waiting": len(doubtful) - len(settled)})


def _is_doubtful(mark: Mark, now: datetime) -> bool:
    if mark.state == UNKNOWN:
        return True
    return mark.state == SENDING and (_holder_is_gone(mark.owner) or now - mark.at > CLAIM_LEASE)


def _holder_is_gone(holder: str) -> bool:
    """A claimant on this host whose process no longer exists (killed mid-send)."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


async def _connect(app: App, sender: Sender, work: _Work, report: SendReport,
                   fresh: bool = False) -> aiosmtplib.SMTP | None:
    try:
        return await sender._take(fresh)
    except LoginWaiting as exc:  # logged once, when the server refused
        report.error = str(exc)
        return None
    except LoginFailed as exc:
        report.error = str(exc)
    except (aiosmtplib.SMTPException, OSError) as exc:
        report.error = f"SMTP {app.config.smtp.host}:{app.config.smtp.port}: {exc}"
    log.warning("smtp unavailable", extra={"error": report.error, "queued": len(work.pending)})
    return None


async def _send_lane(app: App, sender: Sender, work: _Work, report: SendReport,
                     smtp: aiosmtplib.SMTP | None = None) -> None:
    """One SMTP connection sending rows until there are none, or the connection fails. When it
    failed before an email started (a kept connection the server had dropped), that email goes on a
    fresh connection, once a lane."""
    smtp = smtp or await _connect(app, sender, work, report)
    if smtp is None:
        return
    done, fresh = False, False
    ahead = asyncio.ensure_future(_take_and_mark(app, work))
    try:
        while (item := await ahead) is not None:
            # the next row is taken and its "sending" mark written while this one is on the wire
            ahead = asyncio.ensure_future(_take_and_mark(app, work))
            outcome = await _send_one(app, smtp, work, *item, report, retry=not fresh)
            if outcome is _AGAIN:  # its mark is gone: it is marked again by whoever takes it
                work.loaded.appendleft(item)
                await _quit(smtp)
                smtp, fresh = None, True
                smtp = await _connect(app, sender, work, report, fresh=True)  # not another idle one
                if smtp is None:
                    break
            elif not outcome:
                break
        else:
            done = True
        if not done and (unsent := await ahead) is not None:
            _give_back(work, unsent)
    except BaseException:
        ahead.cancel()  # cancelled mid-mark: _finish makes a "sending" mark of ours unknown
        await asyncio.gather(ahead, return_exceptions=True)  # over before _finish gives the claims back
        raise
    finally:
        if smtp is not None:
            if done:
                sender._keep(smtp)
            else:
                await _quit(smtp)


async def _take_and_mark(app: App, work: _Work) -> tuple[int, tuple[str, bytes, str] | None] | None:
    """The next row, its "sending" mark durable if it is to be sent."""
    item = await work.next()
    if item is not None and _sendable(app, item[1]):
        outbox_id, (_, _, message_id) = item[0], item[1]
        await work.marks.sending(outbox_id, message_id, work.owner, app.clock())
    return item


def _sendable(app: App, found: tuple[str, bytes, str] | None) -> bool:
    if found is None:
        return False
    spilled = app.files.spilled(found[1])
    return spilled is None or spilled.exists()


def _give_back(work: _Work, item: tuple[int, tuple[str, bytes, str] | None]) -> None:
    """A row taken and marked but not sent (its lane stopped): certainly not on the wire."""
    work.sendlog.forget([item[0]])
    work.loaded.appendleft(item)


_AGAIN = "again"  # the email did not start: send it on a fresh connection


async def _send_one(app: App, smtp: aiosmtplib.SMTP, work: _Work, outbox_id: int,
                    found: tuple[str, bytes, str] | None, report: SendReport, retry: bool = False) -> bool | str:
    """Send one row (`found`: as `_load` read it); False when the connection is gone and the rest must
    wait; _AGAIN (if `retry`) when it was gone before the email started.

    No database transaction spans the network call. The "sending" mark is durable before the
    envelope starts: `_take_and_mark` wrote it (in a group with the other connections' marks, in a
    worker thread, while this connection was busy with the email before); the "sent" mark goes
    with the next group.
    """
    sendlog = work.sendlog
    if found is None:
        return True
    recipients, raw, _ = found
    spilled = app.files.spilled(raw)
    if spilled is not None and not spilled.exists():  # nothing to send: the operator must see it, not a retry loop
        sendlog.forget([outbox_id])
        report.failed += _record(app, outbox_id, FileNotFoundError(f"the email's file {spilled} is missing"), True)
        return True
    unsafe = _unsafe_address(recipients.split(","))
    if unsafe:  # before any SMTP command: aiosmtplib would raise in the middle of the envelope
        sendlog.forget([outbox_id])
        report.failed += _record(app, outbox_id, ValueError(f"{unsafe!r} cannot be put on an SMTP command line"), True)
        return True
    try:
        refused = await _sendmail(app, smtp, _with_copy(recipients.split(","), app.config.bot.address), raw)
        _check_delivered(recipients.split(","), refused)
    except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
        sendlog.forget([outbox_id])  # the server answered: not sent
        if _needs_login(exc):  # the configuration is wrong, not this email: it waits for the fix
            report.error = _login_needed(app.config.smtp, exc)
            log.error("smtp needs a login", extra={"error": report.error})
            return False
        permanent = _record(app, outbox_id, exc, _is_permanent(exc))
        report.failed += permanent
        return True
    except NothingSent as exc:  # the connection broke before DATA: certainly not sent
        sendlog.forget([outbox_id])
        if retry:
            return _AGAIN
        _record(app, outbox_id, exc, False)
        return False
    except (aiosmtplib.SMTPException, OSError) as exc:
        # the connection broke during DATA: we cannot tell whether the server took it
        sendlog.unknown(outbox_id)
        _record(app, outbox_id, exc, False)
        return False
    work.marks.sent(outbox_id)  # folded into the outbox at the next claim
    report.sent += 1
    return True


def next_retry(app: App, report: SendReport, failures: int) -> datetime | None:
    """When the sender should run again by itself: the earliest row waiting out a temporary
    refusal, an unsure row whose copy may still come, or (the server was unreachable, the
    `failures`-th time in a row) after a back-off."""
    with session(app.engine) as s:
        due = [queries.next_outbox_attempt(s)]
    wait = timedelta(seconds=app.config.bot.sent_copy_wait_seconds)
    sendlog = SendLog(app.config.storage.data_dir)
    try:
        due += [m.at + wait for m in sendlog.marks() if m.state != SENT]
    finally:
        sendlog.close()
    if report.error:
        due.append(app.clock() + backoff(failures))
    return min((d for d in due if d is not None), default=None)


async def _sendmail(app: App, smtp: aiosmtplib.SMTP, recipients: list[str], raw: bytes) -> dict:
    """The row's bytes, or the file they were written to (an email with large attachments)."""
    spilled = app.files.spilled(raw)
    if spilled is not None:
        return await sendmail_file(smtp, app.config.bot.address, recipients, spilled)
    return await sendmail_bytes(smtp, app.config.bot.address, recipients, raw)


def _check_delivered(recipients: list[str], refused: dict) -> None:
    """The bot's own copy is accepted even when every real recipient is refused: that is a refusal
    all the same (a partial one is logged; those who were accepted have their email)."""
    lost = [aiosmtplib.SMTPRecipientRefused(answer.code, answer.message, address)
            for address, answer in refused.items() if address in recipients]
    if lost and len(lost) == len(recipients):
        raise aiosmtplib.SMTPRecipientsRefused(lost)
    if lost:
        log.warning("some recipients refused", extra={"refused": len(lost), "codes": [r.code for r in lost]})


def _unsafe_address(recipients: list[str]) -> str:
    """The first address that cannot go on an SMTP command line (whitespace, angle brackets: a sender
    who wrote `From: Bob <a b@evil.test>`), or ""; such a row fails for good instead of stopping
    every send that takes it."""
    for address in recipients:
        try:
            aiosmtplib.email.parse_address(address)
        except ValueError:
            return address
    return ""


def _with_copy(recipients: list[str], bot_address: str) -> list[str]:
    """The bot's own address too: its copy is how a crash's unsure email is found again."""
    return recipients if bot_address in recipients else [*recipients, bot_address]


def _load_many(app: App, owner: str, outbox_ids: list[int]) -> dict[int, tuple[str, bytes, str]]:
    """`_load` for several rows in one read: those still queued and ours."""
    with app.engine.connect().execution_options(readonly=True) as connection:  # never waits for the worker
        found = connection.execute(
            select(OutboxMessage.id, OutboxMessage.recipients, OutboxMessage.raw, OutboxMessage.message_id)
            .where(OutboxMessage.id.in_(outbox_ids), OutboxMessage.status == OutboxStatus.QUEUED,
                   OutboxMessage.claimed_by == owner)).all()
    return {int(i): (r, raw, m) for i, r, raw, m in found}


def _record(app: App, outbox_id: int, exc: Exception, permanent: bool) -> bool:
    """Note a failed attempt; True when the row is failed for good."""
    with session(app.engine) as s:
        row = s.get(OutboxMessage, outbox_id)
        assert row is not None
        _failed(row, exc, permanent, app.clock())
        s.commit()
        return row.status is OutboxStatus.FAILED


def _needs_login(exc: Exception) -> bool:
    """530 (authentication required) and 535/538 at MAIL FROM: every email would fail the same way."""
    codes = [r.code for r in exc.recipients] if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) else [
        getattr(exc, "code", 0)]
    return any(code in (530, 535, 538) for code in codes)


def _login_needed(smtp: ServerSettings, exc: Exception) -> str:
    reason = f"{getattr(exc, 'code', '')} {getattr(exc, 'message', exc)}".strip()
    if not smtp.username:
        return (f"SMTP {smtp.host}:{smtp.port} requires a login ({reason}): set smtp.username and smtp.password "
                f"(or smtp.auth = \"oauth2\"); the emails stay queued")
    return f"SMTP {smtp.host}:{smtp.port} refused to send without a valid login ({reason}); the emails stay queued"


def _reason(exc: Exception) -> str:
    """The server's own words, as an operator would search for them."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(f"{r.code} {r.message} ({r.recipient})" for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _is_permanent(exc: Exception) -> bool:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(r.code >= 500 for r in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500


def _failed(row: OutboxMessage, exc: Exception, permanent: bool, now: datetime) -> None:
    row.attempts += 1
    row.claimed_by, row.claimed_until = "", None
    row.last_error = _reason(exc)[:2000]
    if permanent or row.attempts >= MAX_ATTEMPTS:
        row.status, row.next_attempt_at = OutboxStatus.FAILED, None
    else:
        row.next_attempt_at = now + backoff(row.attempts)
    if row.status is OutboxStatus.FAILED:  # the operator must act: say why, and how to send it again
        log.error("send failed for good; fix the cause, then `supplierbot outbox retry %s`", row.id,
                  extra={"outbox_id": row.id, "attempts": row.attempts, "reason": row.last_error})
    else:
        log.warning("send failed", extra={"outbox_id": row.id, "permanent": permanent, "attempts": row.attempts,
                                          "reason": row.last_error})
