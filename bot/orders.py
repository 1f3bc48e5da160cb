"""Operator actions on orders: create one (and queue its email)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.app import App
from parsers.records import Line
from storage import queries
from storage.db import session
from storage.models import OrderBuyer, PurchaseOrder


class OrderRejected(Exception):
    """The operator's order cannot be created as given (the message says why)."""


@dataclass(frozen=True)
class NewOrder:
    supplier: str
    buyers: tuple[str, ...]
    lines: tuple[Line, ...]
    currency: str | None = None  # None: the supplier's contract currency, else EUR
    ref: str | None = None
    requested_delivery: date | None = None
    deliver_to: str = ""  # the delivery address, lines separated by newlines
    buyer_ref: str = ""  # the buyer's own reference (cost centre, project)


def create_order(app: App, new: NewOrder) -> str:
    _check(new)
    now = app.clock()
    with session(app.engine) as s:
        ref = (new.ref or queries.next_order_ref(s, app.config.bot.order_prefix, now.year)).upper()
        if queries.order_by_ref(s, ref):
            raise OrderRejected(f"order {ref} already exists")
        supplier = queries.supplier_for(s, new.supplier)
        currency = (new.currency or supplier.currency or "EUR").upper()
        order = PurchaseOrder(ref=ref, customer=app.config.bot.customer_name, supplier_id=supplier.id,
                              currency=currency, requested_delivery=new.requested_delivery,
                              deliver_to=new.deliver_to, buyer_ref=new.buyer_ref,
                              created_at=now)
        s.add(order)
        s.flush()
        for email in new.buyers:
            s.add(OrderBuyer(order_id=order.id, buyer_id=queries.buyer_for(s, email).id))
        queries.add_order_lines(s, order.id, new.lines)
        queries.add_event(s, order.id, now, "operator", "created",
                          f"{len(new.lines)} lines for {supplier.email}, buyers {', '.join(new.buyers)}")
        app.notifier.new_order(s, order, new.lines)
        s.commit()
    return ref


def _check(new: NewOrder) -> None:
    problems = [f"not an email address: {a!r}" for a in (new.supplier, *new.buyers) if "@" not in a]
    if not new.buyers:
        problems.append("an order needs at least one buyer")
    if not new.lines:
        problems.append("an order needs at least one line")
    if new.currency is not None and (len(new.currency) != 3 or not new.currency.isalpha()):
        problems.append(f"currency must be a 3-letter code like EUR, got {new.currency!r}")
    if new.supplier.lower() in {b.lower() for b in new.buyers}:
        problems.append("the supplier cannot also be a buyer of the order")
    if new.ref is not None and not _valid_ref(new.ref):
        problems.append(f"a reference looks like PO-2026-0042, got {new.ref!r}")
    if problems:
        raise OrderRejected("; ".join(problems))


def _valid_ref(ref: str) -> bool:
    return 3 <= len(ref) <= 40 and ref.upper().startswith("PO-") and all(c.isalnum() or c == "-" for c in ref)

