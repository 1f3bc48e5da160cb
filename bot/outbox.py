"""The outbox sender: delivers queued rows over SMTP (aiosmtplib) and marks each one sent."""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosmtplib
from sqlalchemy import select, update

from bot.app import App
from bot.config import ServerSettings
from bot.login import LoginFailed, LoginWaiting, connect_smtp, smtp_client, smtp_login
from bot.pipeline import backoff
from storage import queries
from storage.db import session
from storage.models import OutboxMessage, OutboxStatus

log = logging.getLogger("supplierbot.outbox")
MAX_ATTEMPTS = 10
#: far longer than a chunk takes to send; only a sender that vanished on another host waits it out
CLAIM_LEASE = timedelta(minutes=10)


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


async def send_outbox(app: App, chunk: int = 100) -> SendReport:
    """Send every due row over up to `smtp.connections` parallel connections.

    Rows are claimed `chunk` at a time before they are sent, so several senders (threads
    of one bot, or bot processes sharing a PostgreSQL store) never send the same row. A
    claim ends when the row is sent, fails, or this run ends; a sender that died holding
    claims loses them at once to a sender on the same host (its pid is gone), else when
    the lease runs out. Each connection takes the next row when it is free, so one big
    email holds up only its own connection, and connections stay open across chunks.
    """
    report = SendReport()
    work = _Work(app, _new_owner(), chunk)
    try:
        waiting = await work.claim_more()
        lanes = min(app.config.smtp.connections, waiting)
        # the first connection logs in alone: wrong credentials are refused once, not once per lane
        first = await _connect(app, work, report) if lanes else None
        if first is not None:
            await asyncio.gather(_send_lane(app, work, report, first),
                                 *(_send_lane(app, work, report) for _ in range(lanes - 1)))
        report.deferred = len(work.taken) - report.sent - report.failed
        return report
    finally:
        with session(app.engine) as s:
            queries.release_outbox_claims(s, work.owner)
            s.commit()


class _Work:
    """The rows this run claimed and no connection has taken yet; claims more when empty."""

    def __init__(self, app: App, owner: str, chunk: int) -> None:
        self.app, self.owner, self.chunk = app, owner, chunk
        self.pending: deque[int] = deque()
        self.taken: set[int] = set()  # ever claimed by this run (a claim lists in-flight rows too)
        self.lock = asyncio.Lock()

    async def claim_more(self) -> int:
        fresh = [i for i in await asyncio.to_thread(_claim, self.app, self.owner, self.chunk) if i not in self.taken]
        self.taken.update(fresh)
        self.pending.extend(fresh)
        return len(fresh)

    async def next(self) -> int | None:
        async with self.lock:
            if not self.pending:
                await self.claim_more()
            return self.pending.popleft() if self.pending else None


def _new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claim(app: App, owner: str, chunk: int) -> list[int]:
    now = app.clock()
    with session(app.engine) as s:
        dead = [holder for holder in queries.outbox_claimants(s, now) if _holder_is_gone(holder)]
        ids = queries.claim_outbox(s, owner, now, now + CLAIM_LEASE, chunk, dead)
        s.commit()
    return ids


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


async def _connect(app: App, work: _Work, report: SendReport) -> aiosmtplib.SMTP | None:
    try:
        return await open_connection(app.config.smtp)
    except LoginWaiting as exc:  # logged once, when the server refused
        report.error = str(exc)
        return None
    except LoginFailed as exc:
        report.error = str(exc)
    except (aiosmtplib.SMTPException, OSError) as exc:
        report.error = f"SMTP {app.config.smtp.host}:{app.config.smtp.port}: {exc}"
    log.warning("smtp unavailable", extra={"error": report.error, "queued": len(work.pending)})
    return None


async def _send_lane(app: App, work: _Work, report: SendReport, smtp: aiosmtplib.SMTP | None = None) -> None:
    """One SMTP connection sending rows until there are none, or the connection fails."""
    smtp = smtp or await _connect(app, work, report)
    if smtp is None:
        return
    try:
        while (outbox_id := await work.next()) is not None:
            if not await _send_one(app, smtp, work.owner, outbox_id, report):
                break
    finally:
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            pass


async def _send_one(app: App, smtp: aiosmtplib.SMTP, owner: str, outbox_id: int, report: SendReport) -> bool:
    """Send one row; False when the connection is gone and the rest must wait.

    No database transaction spans the network call. The two statements run in a
    worker thread, so the other lanes keep talking SMTP meanwhile.
    """
    found = await asyncio.to_thread(_load, app, owner, outbox_id)
    if found is None:
        return True
    recipients, raw = found
    try:
        await smtp.sendmail(app.config.bot.address, recipients.split(","), raw)
    except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
        if _needs_login(exc):  # the configuration is wrong, not this email: it waits for the fix
            report.error = _login_needed(app.config.smtp, exc)
            log.error("smtp needs a login", extra={"error": report.error})
            return False
        permanent = _record(app, outbox_id, exc, _is_permanent(exc))
        report.failed += permanent
        return True
    except (aiosmtplib.SMTPException, OSError) as exc:
        _record(app, outbox_id, exc, False)
        return False
    await asyncio.to_thread(_mark_sent, app, owner, outbox_id)
    report.sent += 1
    return True


def _load(app: App, owner: str, outbox_id: int) -> tuple[str, bytes] | None:
    """The row's recipients and bytes if it is still queued and ours (one core statement)."""
    with app.engine.begin() as connection:
        found = connection.execute(
            select(OutboxMessage.recipients, OutboxMessage.raw)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.status == OutboxStatus.QUEUED,
                   OutboxMessage.claimed_by == owner)).first()
    return None if found is None else (found[0], found[1])


def _mark_sent(app: App, owner: str, outbox_id: int) -> None:
    with app.engine.begin() as connection:
        marked = connection.execute(
            update(OutboxMessage).where(OutboxMessage.id == outbox_id, OutboxMessage.claimed_by == owner)
            .values(status=OutboxStatus.SENT, sent_at=app.clock(), attempts=OutboxMessage.attempts + 1,
                    claimed_by="", claimed_until=None)).rowcount
        if not marked:  # our lease ran out mid-send and another sender holds it: it may send it again
            log.warning("sent after the claim lapsed", extra={"outbox_id": outbox_id})
            connection.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                               .values(status=OutboxStatus.SENT, sent_at=app.clock()))


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
