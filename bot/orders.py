"""Creating orders: the operator's, and a buyer's from their ORDER mail (in the caller's transaction)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.app import App
from parsers.documents import Document as ScanDocument
from parsers.parts import FileAttachment
from parsers.records import Line
from storage import queries
from storage.db import session
from sqlmodel import Session

from storage.models import Document, OrderBuyer, OrderStatus, PurchaseOrder

ORDER_DOCUMENT = "order_document"  # a file the buyer sent with their ORDER, for the supplier


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
    check_order(new)
    with session(app.engine) as s:
        order = add_order(app, s, new, "operator")
        ref = order.ref
        app.notifier.new_order(s, order, new.lines)
        s.commit()
    return ref


def add_order(app: App, s: Session, new: NewOrder, actor: str, status: OrderStatus = OrderStatus.NEW,
              inbound_id: int | None = None) -> PurchaseOrder:
    """The order, its buyers and lines, and its first event; the supplier's email is the caller's."""
    now = app.clock()
    ref = (new.ref or queries.next_order_ref(s, app.config.bot.order_prefix, now.year)).upper()
    if queries.order_by_ref(s, ref):
        raise OrderRejected(f"order {ref} already exists")
    supplier = queries.supplier_for(s, new.supplier)
    currency = (new.currency or supplier.currency or "EUR").upper()
    order = PurchaseOrder(ref=ref, customer=app.config.bot.customer_name, supplier_id=supplier.id,
                          currency=currency, requested_delivery=new.requested_delivery, deliver_to=new.deliver_to,
                          buyer_ref=new.buyer_ref, status=status, created_at=now)
    s.add(order)
    s.flush()
    for email in new.buyers:
        s.add(OrderBuyer(order_id=order.id, buyer_id=queries.buyer_for(s, email).id))
    queries.add_order_lines(s, order.id, new.lines)
    queries.add_event(s, order.id, now, actor, "created" if status is OrderStatus.NEW else "draft_order",
                      f"{len(new.lines)} lines for {supplier.email}, buyers {', '.join(new.buyers)}",
                      inbound_id=inbound_id)
    return order


def check_order(new: NewOrder) -> None:
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


def keep_order_documents(app: App, s: Session, order_id: int, documents: Sequence[ScanDocument],
                         inbound_id: int | None) -> None:
    """A buyer's drawings and specifications, kept by hash, to go to the supplier with the order."""
    for document in documents:
        digest = app.files.save_file(document.file, "documents")  # streamed; synced before the batch commits
        s.add(Document(sha256=digest, filename=document.filename, content_type=document.content_type,
                       size=document.size, kind=ORDER_DOCUMENT, order_id=order_id, inbound_id=inbound_id,
                       created_at=app.clock()))


def order_documents(app: App, s: Session, order_id: int) -> tuple[FileAttachment, ...]:
    """The buyer's files for the supplier, left in the file store: the email is written from there."""
    return tuple(FileAttachment.stored(d.filename, d.content_type, app.files.path_for(d.sha256, "documents"), d.sha256)
                 for d in queries.documents_of(s, order_id=order_id) if d.kind == ORDER_DOCUMENT)
