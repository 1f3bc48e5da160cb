"""What an operator must act on about the mail itself: emails that failed for good (sent again
after a fix, unchanged), and logins the servers refused (shown until they work again)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.app import App
from storage import queries
from storage.db import session
from storage.models import OutboxMessage, OutboxStatus


def requeue_failed(app: App, ids: Sequence[int] | None) -> tuple[list[OutboxMessage], list[int]]:
    """Put failed emails back in the queue as they are: the same bytes, so the same Message-ID,
    and replies to the first attempt still match. None means every failed email.
    Returns (the rows queued again, the ids that were not failed emails)."""
    now = app.clock()
    with session(app.engine) as s:
        query = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED.value)
        if ids is not None:
            query = query.where(col(OutboxMessage.id).in_(list(ids)))
        rows = list(s.exec(query.order_by(col(OutboxMessage.id))).all())
        for row in rows:
            row.status, row.attempts, row.next_attempt_at = OutboxStatus.QUEUED, 0, None
            if row.order_id is not None:
                queries.add_event(s, row.order_id, now, "operator", "email_requeued",
                                  f"outbox #{row.id} after: {row.last_error[:200]}", outbox_id=row.id)
        s.commit()
        for row in rows:
            s.refresh(row)
            s.expunge(row)
    found = {row.id for row in rows}
    return rows, [i for i in (ids or []) if i not in found]


def mail_health(app: App, s: Session) -> dict[str, Any]:
    failed = s.exec(select(func.count()).select_from(OutboxMessage)
                    .where(OutboxMessage.status == OutboxStatus.FAILED.value)).one()
    refusals = app.config.imap.login.backoff.all() if app.config.imap.login.backoff else []
    return {"emails_failed": failed, "login_refused": [r.describe() for r in refusals]}


def mail_health_text(data: dict[str, Any]) -> str:
    out = [f"login: {line}" for line in data["login_refused"]]
    if data["emails_failed"]:
        out.append(f"outbox: {data['emails_failed']} email(s) failed for good: `supplierbot outbox list --status "
                   f"failed` says why; `supplierbot outbox retry --failed` sends them again")
    return "\n".join(out)
