"""A supplier's list of orders on demand: `ORDERS` to the bot's own address answers with every
open order of theirs (`ORDERS ALL`: closed ones too), what waits for them, the amount, and for
each the address that lands in that order's thread."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session

from bot import bills
from bot.tokens import reply_address
from storage import queries
from storage.models import OrderStatus, PurchaseOrder, RevisionStatus, Supplier

#: where an order stands, in the supplier's words; True where the next step is theirs
STATES: dict[OrderStatus, tuple[str, bool]] = {
    OrderStatus.NEW: ("waiting for your bill", True),
    OrderStatus.REJECTED: ("bill rejected: waiting for your correction", True),
    OrderStatus.AWAITING_APPROVAL: ("bill with the buyer for approval", False),
    OrderStatus.APPROVED: ("approved: waiting for your delivery and invoice", True),
    OrderStatus.PARTLY_DELIVERED: ("partly delivered: the rest and your invoice are awaited", True),
    OrderStatus.DELIVERED: ("delivered: waiting for your invoice", True),
    OrderStatus.RECEIVED: ("received: waiting for your invoice", True),
    OrderStatus.INVOICED: ("invoiced: payment scheduled", False),
    OrderStatus.PAID: ("paid", False),
    OrderStatus.CANCELLED: ("cancelled", False),
}
CLOSED = (OrderStatus.PAID, OrderStatus.CANCELLED)
WORDS_FOR_ALL = ("all", "alle", "toutes", "tous")


@dataclass(frozen=True)
class ListedOrder:
    ref: str
    state: str
    yours: bool  # the next step is the supplier's
    amount: Decimal  # the latest submitted bill's total, else the order's
    currency: str
    since: date
    reply_to: str
    status: str = ""  # the order's status, for a state worded in another language


def wants_all(argument: str) -> bool:
    return argument.strip().casefold().rstrip(".!") in WORDS_FOR_ALL


def listed_orders(s: Session, supplier: Supplier, include_closed: bool, bot_address: str,
                  separator: str, token_for) -> list[ListedOrder]:
    """Oldest first; `token_for(order)` gives the supplier's reply token of an order."""
    statuses = [status for status in STATES if include_closed or status not in CLOSED]
    return [_listed(s, order, reply_address(bot_address, token_for(order), separator))
            for order in queries.orders_of_supplier(s, supplier.id, statuses)]


def _listed(s: Session, order: PurchaseOrder, reply_to: str) -> ListedOrder:
    state, yours = STATES[order.status]
    return ListedOrder(order.ref, state, yours, _amount(s, order), order.currency, order.created_at.date(), reply_to,
                       order.status.value)


def _amount(s: Session, order: PurchaseOrder) -> Decimal:
    decided = [r for r in queries.revisions_of(s, order.id)
               if r.status not in (RevisionStatus.DRAFT, RevisionStatus.SUPERSEDED)]
    lines = queries.revision_lines(s, decided[-1].id) if decided else queries.order_lines(s, order.id)
    return bills.totals(lines).gross
