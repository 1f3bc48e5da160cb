"""Every email the bot writes, rendered from realistic data: a long bill with long SKUs, a delivery
address over several lines, notes where lines were read. The Chromium tests lay each out at phone
and desktop widths; scripts/screenshots.py photographs the main ones for the README."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal as D
from importlib import resources
from types import SimpleNamespace
from typing import Any

from bot import errors
from bot.approval import StepRequest
from bot.notify import ORDER_BUTTONS, BillOrigin, action_buttons, bill_view
from bot.render import Rendered, Renderer
from bot.supplier_list import ListedOrder
from parsers.records import Line, Problem
from parsers.reply import DEFAULT_KEYWORDS, REPLY_MARKER, CommandKind
from storage.queries import LineNote, SupplierWaiting

REPLY_TO = "bot+w63pdky7w4myzxisezprszgh3c@example.test"

ORDERED = (
    Line("BLT-M8", "Hex bolt M8x40 zinc", D(500), "pcs", D("0.12"), D(19)),
    Line("NUT-M8", "Hex nut M8 zinc", D(500), "pcs", D("0.04"), D(19)),
    Line("WSH-M8", "Washer M8", D(1000), "pcs", D("0.02"), D(19)),
    Line("GLV-L", "Work gloves size L", D(40), "pair", D("3.90"), D(19)),
    Line("HYD-CYL-DW-063/040-0500-ZZ-FLANSCH-VERSTAERKT", "Double-acting hydraulic cylinder, bore 63 mm, "
         "rod 40 mm, stroke 500 mm, front flange, reinforced for continuous duty", D(2), "pcs", D("1234.5"), D(19)),
    *(Line(f"SCR-DIN912-M{size}x{length}-A2-70", f"Socket head cap screw DIN 912 M{size}x{length} stainless A2-70",
           D(100 * size), "pcs", D("0.085") * size, D(19)) for size, length in ((4, 10), (5, 16), (6, 20), (8, 25))),
)
BILLED = (
    dataclasses.replace(ORDERED[0], unit_price=D("0.14")),
    ORDERED[1],
    dataclasses.replace(ORDERED[2], quantity=D(800)),
    *ORDERED[4:],
    Line("FRT", "Freight, pallet to gate 3", D(1), "lot", D(25), D(19)),
)
ORDER = SimpleNamespace(ref="PO-2026-0042", currency="EUR", requested_delivery=date(2026, 12, 14),
                        deliver_to="ACME GmbH, Goods-in gate 3\nIndustriestraße 12\n70565 Stuttgart",
                        buyer_ref="KST-4711 Anna Buyer")
SUPPLIER = SimpleNamespace(email="sales@supplier.test", language="")
WAITING = SupplierWaiting(("PO-2026-0042", "PO-2026-0043"), ("PO-2026-0040",), ("PO-2026-0031",))
NOTES = tuple(LineNote(f"AB-4711.pdf, page 1, line {n + 4} (“{line.sku} {line.description[:30]}”)",
                       "quantity × price is 72.00, the line says 70.00" if n == 0 else "", n == 0)
              for n, line in enumerate(BILLED))
ORIGIN = BillOrigin("AB-4711.pdf (text PDF, 1 page)", False, ("the document's total 1,234.00 differs by 12.40",),
                    NOTES)
INVOICE = SimpleNamespace(number="RE-2026-10077", invoice_date=date(2026, 12, 20), total_read=D("3527.41"),
                          total_expected=D("3527.41"), read_method="text", terms="net 30, 2 % 10 days",
                          due_date=date(2027, 1, 19), discount_until=date(2026, 12, 30),
                          discount_amount=D("70.55"), hold="BLT-M8: 500 invoiced, 300 received", mismatch=False)
QUANTITIES = {"blt-m8": D(300), "hyd-cyl-dw-063/040-0500-zz-flansch-verstaerkt": D(2), "frt": D(1)}


def listed(n: int) -> ListedOrder:
    return ListedOrder(f"PO-2026-{n:04d}", "approved: waiting for your delivery and invoice" if n % 2
                       else "waiting for your bill", n % 3 == 0, D("1234.56") * n, "EUR", date(2026, 11, n % 28 + 1),
                       f"bot+{'x' * 26}{n:02d}@example.test", "approved" if n % 2 else "new")


#: The demo's order, for screenshots a reader can take in at a glance.
SHORT_ORDERED = ORDERED[:4]
SHORT_BILLED = (BILLED[0], BILLED[1], ORDERED[2], BILLED[-1])


def contexts(language: str = "en", ordered: tuple[Line, ...] = ORDERED,
             billed: tuple[Line, ...] = BILLED) -> Iterator[tuple[str, dict[str, Any]]]:
    """(template, context) for every template the bot renders, errors included."""
    view = bill_view(2, "EUR", billed, ordered, previous=billed[:-1])
    read = bill_view(1, "EUR", billed, ordered, origin=ORIGIN)
    base = {"order": ORDER, "customer": "ACME GmbH", "marker": REPLY_MARKER, "waiting": None}
    to_supplier = {**base, "supplier": SUPPLIER, "waiting": WAITING}

    def buttons(*commands: CommandKind) -> tuple:
        return action_buttons(commands, REPLY_TO, f"[{ORDER.ref}] Bill rev 2", language, DEFAULT_KEYWORDS)

    def order_buttons(*commands: CommandKind) -> tuple:
        return action_buttons(commands, REPLY_TO, f"[{ORDER.ref}] Your order", language, DEFAULT_KEYWORDS,
                              ORDER_BUTTONS)

    approve = buttons(CommandKind.APPROVE, CommandKind.REJECT)
    yield "new_order", {**to_supplier, "bill": bill_view(None, "EUR", ordered, ordered),
                        "sheet_name": "PO-2026-0042-bill.xlsx"}
    yield "draft_received", {**to_supplier, "bill": read, "actions": buttons(CommandKind.SEND)}
    yield "submitted", {**to_supplier, "bill": read}
    yield "approval_request", {**base, "bill": view, "supplier": SUPPLIER, "superseded": 1, "scans": ["scan-1.pdf"],
                               "notes": [SimpleNamespace(text="Bolts went up; no gloves this month.")],
                               "step": None, "actions": approve, "rejected_before": None}
    yield "approval_request", {**base, "bill": view, "supplier": SUPPLIER, "superseded": None, "scans": [],
                               "notes": [], "step": StepRequest(2, 3, "finance", D(5000), "gross"),
                               "actions": approve, "rejected_before": None}
    yield "approval_request", {**base, "bill": view, "supplier": SUPPLIER, "superseded": None, "scans": [],
                               "notes": [], "step": None, "actions": approve, "rejected_before": 1}
    yield "auto_approval", {**base, "bill": view, "supplier": SUPPLIER, "until": datetime(2026, 11, 29, 9, 30),
                            "reasons": ["BLT-M8: unit price 0.12 → 0.14 (+16.7 %, within the 17 % allowed)",
                                        "total 3,456.78 → 3,527.41 (+2.0 %, within the 5 % allowed)"],
                            "actions": buttons(CommandKind.REJECT)}
    ordered_view = bill_view(None, "EUR", ordered, ordered)
    named = SimpleNamespace(email=SUPPLIER.email, language="", name="Schraubenwerk Müller & Söhne GmbH & Co. KG")
    echo = {**base, "bill": ordered_view, "supplier": named,
            "read_from": "BANF-4711 Bestellanforderung Hydraulik und Verbindungselemente.xlsx",
            "documents": ["HYD-CYL-DW-063-040-0500-ZZ-FLANSCH-VERSTAERKT-Zeichnung-Rev-C.pdf"]}
    yield "order_echo", {**echo, "sent": False, "unconfirmed": True,
                         "actions": order_buttons(CommandKind.SEND, CommandKind.CANCEL)}
    yield "order_echo", {**echo, "sent": True, "unconfirmed": False, "actions": order_buttons(CommandKind.CANCEL)}
    yield "draft_reminder", {**base, "bill": ordered_view, "supplier": named, "days": 3,
                             "actions": order_buttons(CommandKind.SEND, CommandKind.CANCEL)}
    yield "order_template", {**base, "bot_address": "bot@example.test", "sheet_name": "order-sheet.xlsx",
                             "short_names": ["bolts", "hydraulics", "gloves"]}
    yield "approved", {**to_supplier, "bill": view, "note": "Thanks, go ahead.", "by": "anna.buyer@example.test",
                       "sheet_name": "PO-2026-0042-bill-rev2.xlsx", "actions": buttons(CommandKind.DELIVERED)}
    yield "rejected", {**to_supplier, "bill": view, "reason": "bolts must stay at 0.12 as quoted",
                       "by": "anna.buyer@example.test", "sheet_name": "PO-2026-0042-bill-rev2.xlsx"}
    yield "comment", {**to_supplier, "author": "anna.buyer@example.test",
                      "text": "Can you deliver the cylinders a week earlier?\nThanks, Anna"}
    for kind in ("unprocessed", "invoice"):
        yield "reminder", {**to_supplier, "kind": kind, "period": 3}
    for kind in ("approval", "escalation"):
        yield "reminder", {**base, "kind": kind, "period": 5, "number": 2, "actions": approve}
    yield "documents_received", {**to_supplier, "names": ["scan-delivery-note-2026-11-28.pdf", "photo.jpg"],
                                 "draft": 2, "actions": buttons(CommandKind.SEND)}
    yield "decision_recorded", {**base, "number": 2, "decision": "rejected", "text": "bolts must stay at 0.12",
                                "by": "anna.buyer@example.test", "step": None, "rejectable": False}
    yield "decision_recorded", {**base, "number": 2, "decision": "approved", "text": "", "step": 1,
                                "by": "anna.buyer@example.test", "rejectable": False}
    yield "decision_recorded", {**base, "number": 2, "decision": "approved", "step": 1,
                                "text": "within tolerance: BLT-M8: unit price 0.12 → 0.14 (+16.7 %, within the 17 % allowed)",
                                "by": "supplierbot (within tolerance)", "rejectable": True,
                                "actions": buttons(CommandKind.REJECT)}
    delivery = {"number": 1, "quantities": QUANTITIES, "still_open": {"blt-m8": D(200)}, "note": "pallet 1 of 2"}
    yield "delivery_to_confirm", {**base, **delivery, "actions": buttons(CommandKind.RECEIVED)}
    yield "delivery_recorded", {**to_supplier, **delivery}
    yield "receipt_confirmed", {**to_supplier, "quantities": QUANTITIES, "note": "one carton wet",
                                "differs": {"blt-m8": (D(300), D(280))}}
    yield "cancelled", {**to_supplier, "reason": "project stopped", "by": "anna.buyer@example.test"}
    yield "cancel_recorded", {**base, "reason": "project stopped", "by": "anna.buyer@example.test"}
    yield "invoice_received", {**base, "invoice": INVOICE, "number": 2, "filename": "RE-2026-10077.pdf"}
    yield "invoice_confirmed", {**to_supplier, "invoice": INVOICE, "number": 2, "filename": "RE-2026-10077.pdf"}
    yield "remittance", {**to_supplier, "invoice": INVOICE,
                         "payment": SimpleNamespace(amount=D("3456.86"), paid_on=date(2026, 12, 29))}
    items = [listed(n) for n in range(1, 18)]
    yield "digest", {**to_supplier, "items": [SimpleNamespace(ref=i.ref, state=i.state, since=i.since,
                                                              reply_to=i.reply_to, status=i.status) for i in items[:5]],
                     "day": date(2026, 11, 28)}
    yield "orders_list", {**base, "items": items, "yours": 5, "include_closed": False, "as_sheet": True}
    yield "_plain_text", {"text": "3 messages failed 5 times and were set aside:\n  - <abc@x> sheet unreadable",
                          "customer": "ACME GmbH"}
    for error in all_errors():
        yield f"errors/{error.template}", {**to_supplier, "error": error, "subject": "Re: [PO-2026-0042] New order",
                                           "bot_address": "bot@example.test"}


def all_errors() -> list[errors.UserError]:
    """One of each user error, with its fields filled in where it has some."""
    made = []
    for kind in errors.UserError.__subclasses__():
        values = {f.name: _example(f.name, f.type) for f in dataclasses.fields(kind)}
        made.append(kind(**values))
    return made


def _example(name: str, kind: object) -> object:
    if name == "problems" and "Problem" in str(kind):
        return (Problem("unit price 'abc' is not a number", "Bill", 7, "E"),
                Problem("quantity is missing", "Bill", 9, "C"))
    if "tuple[tuple" in str(kind):
        return (("HYD-CYL-DW-063-040-0500-ZZ-FLANSCH-VERSTAERKT-Zeichnung-Rev-C.dwg", "not a kind of file we read"),
                ("invoice.pdf", "it is locked with a password"))
    if "tuple" in str(kind):
        return ("HYD-CYL-DW-063/040-0500-ZZ-FLANSCH-VERSTAERKT", "BLT-M8")
    if "int" in str(kind) or name == "number":
        return 2
    return {"filename": "PO-2026-0042-bill (2).xlsx", "sheet_ref": "PO-2026-0007", "status": "approved",
            "decided_by": "anna.buyer@example.test"}.get(name, f"an example {name}")


def templates() -> list[str]:
    """Every message template on disk (partials start with _)."""
    root = resources.files("templates")
    names = [p.name[:-4] for p in root.iterdir() if p.name.endswith(".txt") and not p.name.startswith("_")]
    names += [f"errors/{p.name[:-4]}" for p in (root / "errors").iterdir()
              if p.name.endswith(".txt") and not p.name.startswith("_")]
    return sorted(names)


def rendered(language: str = "en", short: bool = False) -> list[tuple[str, Rendered]]:
    renderer = Renderer()
    out, seen = [], {}
    lines = (SHORT_ORDERED, SHORT_BILLED) if short else (ORDERED, BILLED)
    for name, context in contexts(language, *lines):
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name}-{seen[name]}"
        out.append((label, renderer.render(name, context, language)))
    return out
