"""Read models for the command line: orders, the outbox and what waits for whom, as JSON-ready
data and as aligned text tables (money with its currency, times in the configured zone)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tabulate import tabulate

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from bot import bills
from parsers.records import Line
from storage import queries
from storage.models import (ApprovalStep, Buyer, Invoice, OrderBuyer, OrderStatus, PurchaseOrder, Revision,
                            RevisionStatus, StepStatus, Supplier)

UTC = ZoneInfo("UTC")


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
    data["deliver_to"], data["buyer_ref"] = order.deliver_to, order.buyer_ref
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
            "decided_at": revision.decided_at.isoformat() if revision.decided_at else None,
            "steps": [_step(s, revision.order_id, step) for step in queries.steps_of(s, revision.id)],
            "auto_approval": revision.auto_approval,
            "auto_approve_at": revision.auto_approve_at.isoformat() if revision.auto_approve_at else None}


def _step(s: Session, order_id: int, step) -> dict[str, Any]:
    """Who was asked at one approval step, and who decided it when."""
    return {"number": step.number, "name": step.name, "approvers": list(queries.step_approvers(s, order_id, step)),
            "status": step.status.value, "decided_by": step.decided_by, "note": step.note,
            "requested_at": step.requested_at.isoformat() if step.requested_at else None,
            "decided_at": step.decided_at.isoformat() if step.decided_at else None}


def _note(notes: list, index: int) -> dict[str, Any]:
    """Where a line read from the supplier's own file came from (nothing for our own sheet)."""
    if index >= len(notes):
        return {}
    note = notes[index]
    return {"source": note.source, "remark": note.remark, "doubtful": note.doubtful}


def order_text(data: dict[str, Any], zone: ZoneInfo = UTC, delivery: date | None = None) -> str:
    currency = data["currency"]
    out = [f"{data['ref']}  {data['status']}  supplier {data['supplier']}  buyers {', '.join(data['buyers'])}",
           f"ordered {_money(data['total'], currency)} on {local_time(data['created_at'], zone)}"
           + (f"; delivery requested for {delivery.isoformat()}" if delivery else "")]
    out += [f"deliver to: {data['deliver_to']}".replace("\n", ", ")] if data.get("deliver_to") else []
    out += [f"buyer's reference: {data['buyer_ref']}"] if data.get("buyer_ref") else []
    out += [""]
    if data["revisions"]:
        out += [table([[r["number"], r["status"], _money(r["total"], currency), len(r["lines"]),
                        local_time(r["submitted_at"], zone), local_time(r["decided_at"], zone),
                        r["decided_by"] or "", r["reason"] or r["note"] or ""] for r in data["revisions"]],
                      ["rev", "status", "total", "lines", "submitted", "decided", "by", "reason / note"], right=(2, 3)),
                ""]
    for revision in data["revisions"]:
        out += _revision_notes(revision) + _steps_text(revision, zone)
    if data["documents"]:
        out += ["documents:", table([[d["revision"] or "-", d["kind"], d["filename"], f"{d['size']:,}",
                                      local_time(d["created_at"], zone), d["sha256"][:16] + "…"]
                                     for d in data["documents"]],
                                    ["rev", "kind", "file", "bytes", "received", "sha256"], right=(3,)), ""]
    if data["delivered"]:
        out += ["delivered " + ", ".join(f"{q} {k}" for k, q in data["delivered"].items())
                + "; received " + (", ".join(f"{q} {k}" for k, q in data["received"].items()) or "nothing yet")]
    out += [f"claim {c['kind']} by {c['by']}: {c['text']}" for c in data["claims"]]
    invoice = data["invoice"]
    if invoice:
        flag = "  TOTAL DIFFERS" if invoice["mismatch"] else ""
        held = f"  PAYMENT HELD: {invoice['hold']}" if invoice["hold"] else ""
        out += [f"invoice {invoice['number'] or '?'} of {invoice['invoice_date']}: "
                f"read {_money(invoice['total_read'], currency)}, approved {_money(invoice['total_expected'], currency)}, "
                f"due {invoice['due_date']}{flag}{held}", ""]
    out += [f"timeline ({zone.key}):", table([[local_time(e["at"], zone), e["actor"], e["kind"], e["detail"]]
                                               for e in data["events"]], ["at", "by", "event", "detail"])]
    return "\n".join(out)


def _steps_text(revision: dict[str, Any], zone: ZoneInfo) -> list[str]:
    """The approval chain of a revision with more than one step, and a tolerance approval."""
    out = []
    if revision["auto_approval"]:
        out.append(f"rev {revision['number']}: within tolerance, no decision needed: {revision['auto_approval']}")
    if len(revision["steps"]) > 1:
        out.append(f"rev {revision['number']} approval steps:")
        out.append(table([[st["number"], st["name"], ", ".join(st["approvers"]), st["status"],
                           local_time(st["requested_at"], zone), local_time(st["decided_at"], zone),
                           st["decided_by"], st["note"]] for st in revision["steps"]],
                         ["step", "name", "approvers", "status", "asked", "decided", "by", "note"]))
    return out + ([""] if out else [])


def _revision_notes(revision: dict[str, Any]) -> list[str]:
    """What changed against the order, and where a bill read from the supplier's file did not add up."""
    out = [f"rev {revision['number']}: {change}" for change in revision["changes"]]
    if revision["read_from"]:
        adds_up = "everything adds up" if revision["reconciled"] else "NOT everything adds up"
        out.append(f"rev {revision['number']}: read from {revision['read_from']}: {adds_up}")
        out += [f"    ! {line['sku'] or line['description']}: {line['remark']}"
                for line in revision["lines"] if line.get("doubtful")]
        out += [f"    ! {doubt}" for doubt in revision["doubts"]]
    return out + ([""] if out else [])


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
    return {"suppliers": suppliers, "buyers": buyers, "approvers": _waiting_for_approvers(s)}


def _waiting_for_approvers(s: Session) -> list[dict[str, Any]]:
    """Per approver of a later step (finance, the CFO): the bills whose step now asks them."""
    query = (select(ApprovalStep.approvers, ApprovalStep.name, PurchaseOrder.ref)
             .join(Revision, col(Revision.id) == col(ApprovalStep.revision_id))
             .join(PurchaseOrder, col(PurchaseOrder.id) == col(Revision.order_id))
             .where(ApprovalStep.status == StepStatus.REQUESTED.value, ApprovalStep.approvers != "",
                    Revision.status == RevisionStatus.SUBMITTED.value)
             .order_by(col(PurchaseOrder.id)))
    waiting: dict[str, list[str]] = {}
    for approvers, name, ref in s.exec(query).all():
        for address in approvers.split(","):
            waiting.setdefault(address, []).append(f"{ref} ({name})")
    return [{"approver": address, "waiting_for_decision": len(refs), "orders": refs}
            for address, refs in sorted(waiting.items())]


def _waiting_for_buyers(s: Session, shown: int = 20) -> list[dict[str, Any]]:
    """Per buyer: how many bills wait for a decision, and the oldest few (one pass each, not one per buyer)."""
    later_step_asked = (select(ApprovalStep.id).join(Revision, col(Revision.id) == col(ApprovalStep.revision_id))
                        .where(col(Revision.order_id) == col(PurchaseOrder.id),
                               Revision.status == RevisionStatus.SUBMITTED.value,
                               ApprovalStep.status == StepStatus.REQUESTED.value, ApprovalStep.approvers != "")
                        .exists())
    # a bill whose later step (finance, the CFO) is asked now waits for them, not for the buyers
    awaiting = and_(PurchaseOrder.status == OrderStatus.AWAITING_APPROVAL.value, ~later_step_asked)
    joined = (col(OrderBuyer.order_id) == col(PurchaseOrder.id))
    counts = dict(s.exec(select(OrderBuyer.buyer_id, func.count()).join(PurchaseOrder, joined).where(awaiting)
                         .group_by(OrderBuyer.buyer_id)).all())
    oldest: dict[int, list[str]] = {}
    for buyer_id in counts:  # walks ix_order_buyer_buyer_order and stops after `shown` matches
        query = select(PurchaseOrder.ref).join(PurchaseOrder, joined).where(OrderBuyer.buyer_id == buyer_id, awaiting)
        oldest[buyer_id] = list(s.exec(query.select_from(OrderBuyer).order_by(col(OrderBuyer.order_id)).limit(shown)))
    delivered = col(PurchaseOrder.status).in_([OrderStatus.PARTLY_DELIVERED.value, OrderStatus.DELIVERED.value])
    to_confirm = dict(s.exec(select(OrderBuyer.buyer_id, func.count()).join(PurchaseOrder, joined).where(delivered)
                             .group_by(OrderBuyer.buyer_id)).all())
    return [{"buyer": buyer.email, "waiting_for_decision": counts.get(buyer.id, 0), "orders": oldest.get(buyer.id, []),
             "deliveries_to_confirm": to_confirm.get(buyer.id, 0)}
            for buyer in s.exec(select(Buyer).order_by(col(Buyer.email))).all()]


def queue_status(s: Session, now: datetime) -> dict[str, Any]:
    """The inbound queue: messages fetched and not yet applied, and how long the oldest has waited."""
    waiting, oldest = queries.queue_state(s)
    return {"waiting": waiting, "oldest": oldest.isoformat() if oldest else None,
            "oldest_seconds": round((now - oldest).total_seconds(), 1) if oldest else None}


def queue_text(queue: dict[str, Any]) -> str:
    if not queue["waiting"]:
        return "inbound queue: empty"
    return (f"inbound queue: {queue['waiting']} waiting; the oldest fetched {queue['oldest_seconds']:.0f} s ago "
            f"({queue['oldest']})")


def status_text(data: dict[str, Any]) -> str:
    suppliers = table([[r["supplier"], r["unprocessed"], r["rejected"], r["awaiting_approval"], r["awaiting_delivery"],
                        r["awaiting_receipt"], r["awaiting_invoice"], r["invoiced_unpaid"]] for r in data["suppliers"]],
                      ["supplier", "new (no bill)", "rejected", "awaiting approval", "awaiting delivery",
                       "awaiting receipt", "awaiting invoice", "invoiced, unpaid"], right=(1, 2, 3, 4, 5, 6, 7))
    buyers = table([[r["buyer"], r["waiting_for_decision"], r["deliveries_to_confirm"], " ".join(r["orders"])]
                    for r in data["buyers"]], ["buyer", "waiting for decision", "deliveries to confirm", "orders"],
                   right=(1, 2))
    if not data["approvers"]:
        return f"{suppliers}\n\n{buyers}"
    approvers = table([[r["approver"], r["waiting_for_decision"], " ".join(r["orders"])] for r in data["approvers"]],
                      ["approver (later step)", "waiting for decision", "orders"], right=(1,))
    return f"{suppliers}\n\n{buyers}\n\n{approvers}"


def order_rows(s: Session, orders: Sequence[PurchaseOrder]) -> list[dict[str, Any]]:
    """The `orders` list as text shows it: totals of the order and of its latest bill revision."""
    rows = []
    for order in orders:
        supplier = s.get(Supplier, order.supplier_id)
        revisions = queries.revisions_of(s, order.id)
        latest = revisions[-1] if revisions else None
        rows.append({"ref": order.ref, "status": order.status.value, "supplier": supplier.email if supplier else "",
                     "currency": order.currency, "ordered": bills.totals(queries.order_lines(s, order.id)).gross,
                     "bill": (latest.number, latest.status.value,
                              bills.totals(queries.revision_lines(s, latest.id)).gross) if latest else None,
                     "created_at": order.created_at, "delivery": order.requested_delivery})
    return rows


def orders_text(rows: list[dict[str, Any]], zone: ZoneInfo = UTC) -> str:
    if not rows:
        return "no orders"
    return table([[r["ref"], r["status"], r["supplier"], _money(r["ordered"], r["currency"]),
                   f"rev {r['bill'][0]} {r['bill'][1]} {_money(r['bill'][2], r['currency'])}" if r["bill"] else "-",
                   local_time(r["created_at"], zone), r["delivery"].isoformat() if r["delivery"] else "-"]
                  for r in rows],
                 ["order", "status", "supplier", "ordered", "latest bill", f"created ({zone.key})", "delivery"],
                 right=(3,))


def outbox_text(rows: list[dict[str, Any]], zone: ZoneInfo = UTC) -> str:
    if not rows:
        return "the outbox is empty"
    return table([[f"#{r['id']}", r["status"], r["attempts"], r["recipients"], _cut(r["subject"], 60),
                   local_time(r["sent_at"], zone), _cut(r["last_error"] or "", 60)] for r in rows],
                 ["id", "status", "attempts", "to", "subject", f"sent ({zone.key})", "last error"], right=(2,))


def failed_text(rows: list[dict[str, Any]], zone: ZoneInfo = UTC) -> str:
    return table([[f"#{r['id']}", r["uid"], r["sender"], _cut(r["subject"], 40), r["attempts"],
                   local_time(r["next_attempt_at"], zone) if r["next_attempt_at"] else "set aside",
                   _cut(r["error"] or "", 70)] for r in rows],
                 ["id", "uid", "from", "subject", "attempts", f"next try ({zone.key})", "error"], right=(4,))


def held_text(rows: list[dict[str, Any]], zone: ZoneInfo = UTC) -> str:
    return table([[f"#{r['id']}", local_time(r["received_at"], zone), r["sender"], _cut(r["subject"], 50),
                   _cut(r["reason"] or "", 70)] for r in rows],
                 ["id", f"received ({zone.key})", "from", "subject", "why held"])


def payments_text(rows: Sequence[Any]) -> str:
    """The payment run (bot.payments.DuePayment rows), soonest first as given."""
    return table([[r.due.isoformat(), r.ref, r.supplier, bills.format_money(r.amount, r.currency),
                   f"{bills.format_money(r.amount - r.discount_amount, r.currency)} by {r.discount_until.isoformat()}"
                   if r.discount_until else "-", "TOTAL DIFFERS" if r.total_differs else ""] for r in rows],
                 ["due", "order", "supplier", "amount", "with discount", ""], right=(3,))


# --- text building blocks -----------------------------------------------------------------------

def table(rows: Sequence[Sequence[object]], headers: Sequence[str], right: Sequence[int] = ()) -> str:
    """Aligned columns under a header. tabulate, not a terminal-sized renderer: the same text in a
    terminal, a pipe or a log, and nothing it reformats (cells are shown exactly as given)."""
    align = ["right" if index in right else "left" for index in range(len(headers))]
    return tabulate([[("" if cell is None else str(cell)) for cell in row] for row in rows], headers=list(headers),
                    tablefmt="simple", disable_numparse=True, colalign=align)


def local_time(value: datetime | str | None, zone: ZoneInfo) -> str:
    """A stored (UTC) time in the operator's zone, with the zone's abbreviation: 2026-11-03 10:00 CET."""
    if value is None:
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _money(amount: Decimal | str | None, currency: str) -> str:
    return "?" if amount is None else bills.format_money(Decimal(amount), currency)


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
