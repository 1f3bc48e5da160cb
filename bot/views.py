"""Read models for the command line: an order as JSON-ready data, and as text."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot import bills
from parsers.records import Line
from storage import queries
from storage.models import Buyer, Invoice, OrderBuyer, OrderStatus, PurchaseOrder, Supplier


def line_data(line: Line) -> dict[str, Any]:
    return {"sku": line.sku, "description": line.description, "quantity": str(line.quantity),
            "unit": line.unit, "unit_price": str(line.unit_price), "tax_rate": str(line.tax_rate),
            "net": str(bills.line_net(line))}


def _totals(lines: list[Line]) -> dict[str, str]:
    totals = bills.totals(lines)
    return {"net": str(totals.net), "tax": str(totals.tax), "total": str(totals.gross)}


def order_summary(s: Session, order: PurchaseOrder) -> dict[str, Any]:
    supplier = s.get(Supplier, order.supplier_id)
    return {"ref": order.ref, "status": order.status.value, "supplier": supplier.email if supplier else "",
            "buyers": [b.email for b in queries.buyers_of(s, order.id)], "currency": order.currency,
            "created_at": order.created_at.isoformat()}


def order_detail(s: Session, order: PurchaseOrder) -> dict[str, Any]:
    lines = queries.order_lines(s, order.id)
    data = order_summary(s, order)
    data["lines"] = [line_data(line) for line in lines]
    data["total"] = _totals(lines)["total"]
    numbers = {r.id: r.number for r in queries.revisions_of(s, order.id)}
    data["revisions"] = [_revision(s, r, lines) for r in queries.revisions_of(s, order.id)]
    data["documents"] = [{"sha256": d.sha256, "filename": d.filename, "kind": d.kind,
                          "content_type": d.content_type, "size": d.size,
                          "revision": numbers.get(d.revision_id), "created_at": d.created_at.isoformat()}
                         for d in queries.documents_of(s, order_id=order.id)]
    data["comments"] = [{"author": c.author, "text": c.text, "revision": numbers.get(c.revision_id),
                         "at": c.created_at.isoformat()} for c in queries.comments_of(s, order.id)]
    data["invoice"] = _invoice(queries.invoice_of(s, order.id))
    data["delivered"] = {k: str(q) for k, q in queries.delivered_quantities(s, order.id).items()}
    data["received"] = {k: str(q) for k, q in queries.received_quantities(s, order.id).items()}
    data["claims"] = [{"kind": c.kind, "text": c.text, "by": c.by, "at": c.created_at.isoformat()}
                      for c in queries.claims_of(s, order.id)]
    data["events"] = [{"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "detail": e.detail,
                       "revision_id": e.revision_id, "inbound_id": e.inbound_id, "outbox_id": e.outbox_id}
                      for e in queries.events_of(s, order.id)]
    return data


def _invoice(invoice: Invoice | None) -> dict[str, Any] | None:
    if invoice is None:
        return None
    return {"number": invoice.number, "invoice_date": invoice.invoice_date.isoformat(),
            "total_read": str(invoice.total_read) if invoice.total_read is not None else None,
            "total_expected": str(invoice.total_expected), "mismatch": invoice.mismatch,
            "read_method": invoice.read_method, "due_date": invoice.due_date.isoformat(), "hold": invoice.hold}


def _revision(s: Session, revision, order_lines: list[Line]) -> dict[str, Any]:
    lines = queries.revision_lines(s, revision.id)
    changes = [f"{c.kind.value}: {c.line.sku or c.line.description}" + (f" ({c.describe()})" if c.fields else "")
               for c in bills.diff_lines(order_lines, lines) if c.kind is not bills.ChangeKind.UNCHANGED]
    notes = queries.revision_notes(s, revision.id) if revision.read_from else []
    return {"number": revision.number, "status": revision.status.value,
            "lines": [{**line_data(l), **_note(notes, i)} for i, l in enumerate(lines)],
            **_totals(lines), "changes": changes, "reason": revision.reason, "note": revision.note,
            "read_from": revision.read_from, "reconciled": revision.reconciled,
            "doubts": [d for d in revision.doubts.split("\n") if d],
            "decided_by": revision.decided_by,
            "submitted_at": revision.submitted_at.isoformat() if revision.submitted_at else None,
            "decided_at": revision.decided_at.isoformat() if revision.decided_at else None}


def _note(notes: list, index: int) -> dict[str, Any]:
    """Where a line read from the supplier's own file came from (nothing for our own sheet)."""
    if index >= len(notes):
        return {}
    note = notes[index]
    return {"source": note.source, "remark": note.remark, "doubtful": note.doubtful}


def order_text(data: dict[str, Any]) -> str:
    out = [f"{data['ref']}  {data['status']}  supplier {data['supplier']}  buyers {', '.join(data['buyers'])}",
           f"order total {data['currency']} {Decimal(data['total']):,.2f}", ""]
    for revision in data["revisions"]:
        extra = f" — {revision['reason']}" if revision["reason"] else ""
        out.append(f"rev {revision['number']}  {revision['status']:<10}  {data['currency']} "
                   f"{Decimal(revision['total']):,.2f}  {len(revision['lines'])} lines{extra}")
        out += [f"        {change}" for change in revision["changes"]]
        if revision["read_from"]:
            adds_up = "everything adds up" if revision["reconciled"] else "NOT everything adds up"
            out.append(f"        read from {revision['read_from']}: {adds_up}")
            out += [f"        ! {line['sku'] or line['description']}: {line['remark']}"
                    for line in revision["lines"] if line.get("doubtful")]
            out += [f"        ! {doubt}" for doubt in revision["doubts"]]
    for document in data["documents"]:
        out.append(f"document {document['kind']:<11} {document['filename']}  rev {document['revision'] or '-'}  "
                   f"{document['sha256'][:16]}…")
    if data["delivered"]:
        out.append("delivered " + ", ".join(f"{q} {k}" for k, q in data["delivered"].items())
                   + "; received " + (", ".join(f"{q} {k}" for k, q in data["received"].items()) or "nothing yet"))
    out += [f"claim {c['kind']} by {c['by']}: {c['text']}" for c in data["claims"]]
    invoice = data["invoice"]
    if invoice:
        flag = "  TOTAL DIFFERS" if invoice["mismatch"] else ""
        out.append(f"invoice {invoice['number'] or '?'} of {invoice['invoice_date']}: read {invoice['total_read']}, "
                   f"approved {invoice['total_expected']}, due {invoice['due_date']}{flag}"
                   + (f"  PAYMENT HELD: {invoice['hold']}" if invoice["hold"] else ""))
    out += ["", "timeline:"]
    out += [f"  {e['at'][:19]}  {e['actor']:<28} {e['kind']:<15} {e['detail']}" for e in data["events"]]
    return "\n".join(out)


def status(s: Session) -> dict[str, Any]:
    """Per supplier: what waits for them; per buyer: the bills waiting for their decision (two GROUP BYs)."""
    counts: dict[str, Counter[str]] = {email: Counter() for email in s.exec(select(Supplier.email)).all()}
    query = select(Supplier.email, PurchaseOrder.status, func.count()).join(
        PurchaseOrder, col(PurchaseOrder.supplier_id) == col(Supplier.id)).group_by(Supplier.email, PurchaseOrder.status)
    for email, state, number in s.exec(query).all():
        counts[email][state.value] = number
    suppliers = [{"supplier": email, "unprocessed": c["new"], "rejected": c["rejected"],
                  "awaiting_approval": c["awaiting_approval"],
                  "awaiting_delivery": c["approved"] + c["partly_delivered"],
                  "awaiting_receipt": c["partly_delivered"] + c["delivered"],
                  "awaiting_invoice": c["approved"] + c["partly_delivered"] + c["delivered"] + c["received"],
                  "invoiced_unpaid": c["invoiced"]} for email, c in sorted(counts.items())]
    buyers = _waiting_for_buyers(s)
    return {"suppliers": suppliers, "buyers": buyers}


def _waiting_for_buyers(s: Session, shown: int = 20) -> list[dict[str, Any]]:
    """Per buyer: how many bills wait for a decision, and the oldest few (one pass each, not one per buyer)."""
    awaiting = PurchaseOrder.status == OrderStatus.AWAITING_APPROVAL.value
    joined = (col(OrderBuyer.order_id) == col(PurchaseOrder.id))
    counts = dict(s.exec(select(OrderBuyer.buyer_id, func.count()).join(PurchaseOrder, joined).where(awaiting)
                         .group_by(OrderBuyer.buyer_id)).all())
    oldest: dict[int, list[str]] = {}
    for buyer_id in counts:  # walks ix_order_buyer_buyer_order and stops after `shown` matches
        query = select(PurchaseOrder.ref).join(PurchaseOrder, joined).where(OrderBuyer.buyer_id == buyer_id, awaiting)
        oldest[buyer_id] = list(s.exec(query.select_from(OrderBuyer).order_by(col(OrderBuyer.order_id)).limit(shown)))
    return [{"buyer": buyer.email, "waiting_for_decision": counts.get(buyer.id, 0), "orders": oldest.get(buyer.id, [])}
            for buyer in s.exec(select(Buyer).order_by(col(Buyer.email))).all()]


def status_text(data: dict[str, Any]) -> str:
    out = ["supplier                          unprocessed rejected awaiting-approval awaiting-invoice unpaid"]
    out += [f"{r['supplier']:<34}{r['unprocessed']:>11}{r['rejected']:>9}{r['awaiting_approval']:>18}"
            f"{r['awaiting_invoice']:>17}{r['invoiced_unpaid']:>7}" for r in data["suppliers"]]
    out += ["", "buyer                             waiting for decision"]
    out += [f"{r['buyer']:<34}{r['waiting_for_decision']:>5}  {' '.join(r['orders'])}" for r in data["buyers"]]
    return "\n".join(out)
