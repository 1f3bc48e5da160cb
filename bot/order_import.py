"""`supplierbot order import`: each order of the file created in a transaction of its own, or refused
whole with the reason; nothing is half-created, and a file imported twice creates nothing twice."""
from __future__ import annotations

from dataclasses import dataclass

from bot.app import App
from bot.orders import NewOrder, OrderRejected, check_order, create_order
from parsers.order_import import ImportedOrder
from storage import queries
from storage.db import session


@dataclass(frozen=True)
class ImportResult:
    key: str
    rows: tuple[int, ...]
    ref: str | None  # the order created
    refused: str = ""  # why not

    def as_dict(self) -> dict[str, object]:
        return {"reference": self.key, "rows": list(self.rows), "created": self.ref, "refused": self.refused}


def import_order(app: App, imported: ImportedOrder) -> ImportResult:
    if imported.problems:
        return ImportResult(imported.key, imported.rows, None, "; ".join(imported.problems))
    new = NewOrder(imported.supplier, imported.buyers, imported.lines, imported.currency, imported.ref,
                   imported.delivery, imported.deliver_to, imported.buyer_ref)
    try:
        check_order(new)
        _not_imported_before(app, new)
        return ImportResult(imported.key, imported.rows, create_order(app, new))
    except OrderRejected as exc:
        return ImportResult(imported.key, imported.rows, None, str(exc))


def _not_imported_before(app: App, new: NewOrder) -> None:
    if not new.buyer_ref:
        return  # a PO-… reference is refused by create_order when it exists
    with session(app.engine) as s:
        earlier = queries.order_by_buyer_ref(s, new.supplier, new.buyer_ref)
    if earlier is not None:
        raise OrderRejected(f"already imported as {earlier}")
