"""The outbox sender: delivers queued rows over SMTP (aiosmtplib) and marks each one sent."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import aiosmtplib

from bot.app import App
from bot.config import ServerSettings
from bot.pipeline import backoff
from storage import queries
from storage.db import session
from storage.models import OutboxMessage, OutboxStatus

log = logging.getLogger("supplierbot.outbox")
MAX_ATTEMPTS = 10


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    error: str = ""


def _client(settings: ServerSettings) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=settings.host, port=settings.port, timeout=settings.timeout_seconds,
        use_tls=settings.security == "ssl", start_tls=settings.security == "starttls",
    )


async def send_outbox(app: App) -> SendReport:
    report = SendReport()
    with session(app.engine) as s:
        ids = queries.queued_outbox_ids(s, app.clock())
    if not ids:
        return report
    smtp = _client(app.config.smtp)
    try:
        await smtp.connect()
        if app.config.smtp.username:
            await smtp.login(app.config.smtp.username, app.config.smtp.password)
    except (aiosmtplib.SMTPException, OSError) as exc:
        report.deferred, report.error = len(ids), f"SMTP {app.config.smtp.host}:{app.config.smtp.port}: {exc}"
        log.warning("smtp unavailable", extra={"error": report.error, "queued": len(ids)})
        return report
    try:
        for outbox_id in ids:
            if not await _send_one(app, smtp, outbox_id, report):
                report.deferred += len(ids) - ids.index(outbox_id)
                break
    finally:
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            pass
    return report


async def _send_one(app: App, smtp: aiosmtplib.SMTP, outbox_id: int, report: SendReport) -> bool:
    """Send one row; False when the connection is gone and the rest must wait."""
    with session(app.engine) as s:
        row = s.get(OutboxMessage, outbox_id)
        if row is None or row.status is not OutboxStatus.QUEUED:
            return True
        try:
            await smtp.sendmail(app.config.bot.address, row.recipients.split(","), row.raw)
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
            _failed(row, exc, _is_permanent(exc), app.clock())
            report.failed += row.status is OutboxStatus.FAILED
            s.commit()
            return True
        except (aiosmtplib.SMTPException, OSError) as exc:
            _failed(row, exc, False, app.clock())
            s.commit()
            return False
        row.status, row.sent_at, row.attempts = OutboxStatus.SENT, app.clock(), row.attempts + 1
        s.commit()
        report.sent += 1
        return True


def _is_permanent(exc: Exception) -> bool:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(r.code >= 500 for r in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500


def _failed(row: OutboxMessage, exc: Exception, permanent: bool, now: datetime) -> None:
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if permanent or row.attempts >= MAX_ATTEMPTS:
        row.status, row.next_attempt_at = OutboxStatus.FAILED, None
    else:
        row.next_attempt_at = now + backoff(row.attempts)
    log.warning("send failed", extra={"outbox_id": row.id, "permanent": permanent, "attempts": row.attempts})
