"""Scheduled work: the daily digest and the reminders. Each send is recorded, so a period sends once."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot import away
from bot.app import App
from bot.chain import run_auto_approvals
from bot.notify import DigestItem
from bot.timing import digest_due, local_day, periods_elapsed
from bot.tokens import reply_address
from storage import queries
from storage.db import session
from storage.models import OrderStatus, PurchaseOrder, Revision, RevisionStatus, ScheduledSend, Supplier

DIGEST_STATES = {OrderStatus.NEW: "unprocessed", OrderStatus.REJECTED: "rejected, waiting for a correction",
                 OrderStatus.APPROVED: "approved, waiting for the delivery and invoice",
                 OrderStatus.PARTLY_DELIVERED: "partly delivered, waiting for the rest and the invoice",
                 OrderStatus.DELIVERED: "delivered, waiting for the invoice",
                 OrderStatus.RECEIVED: "received, waiting for the invoice"}
AWAITING_INVOICE = (OrderStatus.APPROVED, OrderStatus.PARTLY_DELIVERED, OrderStatus.DELIVERED, OrderStatus.RECEIVED)


def _once(s: Session, key: str, now: datetime) -> bool:
    """True the first time a key is seen (and records it); the send happens in the same transaction."""
    if s.get(ScheduledSend, key) is not None:
        return False
    s.add(ScheduledSend(key=key, created_at=now))
    return True


def run_digest(app: App) -> int:
    zone = ZoneInfo(app.config.schedule.timezone)
    now = app.clock()
    sent = 0
    with session(app.engine) as s:
        day = digest_due(now, zone, app.config.schedule.digest_time, _last_digest_day(s, now, zone))
        if day is None:
            return 0
        for supplier in s.exec(select(Supplier).order_by(col(Supplier.id))).all():
            items = _digest_items(app, s, supplier)
            if items and _once(s, f"digest:{supplier.id}:{day.isoformat()}", now):
                app.notifier.digest(s, supplier, items, day)
                sent += 1
        _once(s, f"digest-run:{day.isoformat()}", now)
        s.commit()
    return sent


def _last_digest_day(s: Session, now: datetime, zone: ZoneInfo):
    today = local_day(now, zone)
    return today if s.get(ScheduledSend, f"digest-run:{today.isoformat()}") else None


def _digest_items(app: App, s: Session, supplier: Supplier) -> list[DigestItem]:
    orders = s.exec(select(PurchaseOrder).where(PurchaseOrder.supplier_id == supplier.id,
                                                col(PurchaseOrder.status).in_([k.value for k in DIGEST_STATES]))
                    .order_by(col(PurchaseOrder.created_at))).all()
    return [DigestItem(order.ref, DIGEST_STATES[order.status], order.created_at.date(),
                       reply_address(app.config.bot.address, queries.latest_supplier_token(s, order.id) or "",
                                     app.config.bot.reply_separator), order.status.value)
            for order in orders]


def run_reminders(app: App) -> int:
    settings, now, sent = app.config.schedule, app.clock(), 0
    with session(app.engine) as s:
        for order in s.exec(select(PurchaseOrder).where(col(PurchaseOrder.status).in_(
                [OrderStatus.DRAFT.value, OrderStatus.NEW.value, OrderStatus.AWAITING_APPROVAL.value,
                 *(status.value for status in AWAITING_INVOICE)]))).all():
            sent += _remind(app, s, order, now, settings)
        s.commit()
    return sent


def _remind(app: App, s: Session, order: PurchaseOrder, now: datetime, settings) -> int:
    if order.status is OrderStatus.DRAFT:
        return _draft(app, s, order, now, settings.remind_unprocessed_after_days)
    if order.status is OrderStatus.NEW:
        return _periodic(app, s, order, "unprocessed", order.created_at, now, settings.remind_unprocessed_after_days)
    if order.status in AWAITING_INVOICE:
        approved = _revision_in(s, order.id, RevisionStatus.APPROVED)
        since = approved.decided_at if approved and approved.decided_at else order.created_at
        return _periodic(app, s, order, "invoice", since, now, settings.remind_invoice_after_days)
    pending = _revision_in(s, order.id, RevisionStatus.SUBMITTED)
    if pending is None or pending.submitted_at is None or pending.auto_approve_at is not None:
        return 0  # within tolerance: nobody needs reminding, the approvals job finishes it
    step = queries.current_step(s, pending.id)
    since = step.requested_at if step and step.requested_at else pending.submitted_at
    # per step: step 1 keeps the keys reminders had before there were steps
    scope = f":{pending.id}" + (f":{step.number}" if step and step.number > 1 else "")
    approvers = away.reminder_recipients(s, queries.step_approvers(s, order.id, step)) if step else ()
    sent = _periodic(app, s, order, "approval", since, now, settings.remind_approval_after_days, scope,
                     approvers, step.number if step else None)
    escalate = settings.escalate_approval_after_days
    if settings.escalation_address and escalate and periods_elapsed(since, now, escalate) >= 1:
        if _once(s, f"escalation:{order.id}{scope}", now):
            app.notifier.reminder(s, order, "escalation", escalate, settings.escalation_address,
                                  step=step.number if step else None)
            sent += 1
    return sent


def _periodic(app: App, s: Session, order: PurchaseOrder, kind: str, since: datetime, now: datetime,
              every_days: int, scope: str = "", approvers: tuple[str, ...] = (), step: int | None = None) -> int:
    period = periods_elapsed(since, now, every_days)
    if period < 1 or not _once(s, f"remind-{kind}:{order.id}{scope}:{period}", now):
        return 0
    app.notifier.reminder(s, order, kind, period, approvers=approvers, step=step)
    to = f" to {', '.join(approvers)}" if approvers else ""
    queries.add_event(s, order.id, now, "bot", "reminder", f"{kind} reminder #{period}"
                      + (f" (step {step})" if step and step > 1 else "") + to)
    return 1


def _draft(app: App, s: Session, order: PurchaseOrder, now: datetime, every_days: int) -> int:
    """A buyer's order that never got its SEND: the supplier knows nothing of it, so the buyer is reminded."""
    period = periods_elapsed(order.created_at, now, every_days)
    if period < 1 or not _once(s, f"remind-draft:{order.id}:{period}", now):
        return 0
    app.notifier.draft_reminder(s, order, period * every_days)
    queries.add_event(s, order.id, now, "bot", "reminder", f"draft order reminder #{period}")
    return 1


def _revision_in(s: Session, order_id: int, status: RevisionStatus) -> Revision | None:
    return next((r for r in queries.revisions_of(s, order_id) if r.status is status), None)


JOBS: dict[str, Callable[[App], int]] = {"digest": run_digest, "reminders": run_reminders,
                                         "approvals": run_auto_approvals}
