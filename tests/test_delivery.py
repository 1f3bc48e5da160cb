"""After approval, over the real servers: deliveries (several, partial), the company's receipt,
claims, and the invoice matched three ways (approved bill, what was received, the invoice)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from bot.cli import main
from bot.devmail.clients import Received
from tests.conftest import World
from tests.pdfgen import text_pdf
from tests.test_documents import approved_order
from tests.test_round_trip import order_json


def cli(world: World, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(world.config_path), *args])
    assert result.exit_code == 0, result.output
    return result.output


def deliver_and_receive(world: World, ref: str) -> None:
    """Everything approved delivered by the supplier and received by the buyer."""
    world.supplier.reply(world.supplier.wait_for(f"[{ref}] Bill rev 1 approved"), "DELIVERED all of it today")
    world.poll()
    world.buyer.reply(world.buyer.wait_for(f"[{ref}] Delivery 1 on its way"), "RECEIVED")
    world.poll()


def invoice(world: World, ref: str, total: str) -> None:
    pdf = text_pdf(["Invoice No: 2026-501", "Invoice date: 2026-11-20", f"Total: {total}"])
    world.supplier.reply(world.supplier.wait_for(f"[{ref}] Bill rev 1 approved"), "INVOICE",
                         attachments=(("invoice.pdf", pdf),))
    world.poll()


def test_two_partial_deliveries_and_a_receipt_that_differs(world: World) -> None:
    ref = approved_order(world)  # 500 BLT-M8, 500 NUT-M8, 40 GLV-L
    approved = world.supplier.wait_for(f"[{ref}] Bill rev 1 approved")
    world.supplier.reply(approved, "DELIVERED first pallet\nBLT-M8 300\nNUT-M8 500", "outlook")
    world.poll()
    first = world.buyer.wait_for(f"[{ref}] Delivery 1 on its way — please confirm receipt")
    assert "BLT-M8: 300" in first.text and "Still to come:" in first.text and "GLV-L: 40" in first.text
    assert order_json(world, ref)["status"] == "partly_delivered"
    status = json.loads(cli(world, "status", "--json"))
    mine = next(r for r in status["suppliers"] if r["supplier"] == world.supplier.address)
    assert (mine["awaiting_delivery"], mine["awaiting_receipt"], mine["awaiting_invoice"]) == (1, 1, 1)
    assert status["buyers"][0]["deliveries_to_confirm"] == 1

    world.supplier.reply(approved, "Delivered, the rest")  # no lines: everything still open
    world.poll()
    second = world.buyer.wait_for(f"[{ref}] Delivery 2 on its way")
    assert "BLT-M8: 200" in second.text and "everything approved is delivered" in second.text
    assert order_json(world, ref)["status"] == "delivered"

    world.buyer.reply(second, "RECEIVED\nBLT-M8 500\nNUT-M8 450\nGLV-L 40")
    world.poll()
    told = world.supplier.wait_for(f"[{ref}] Receipt confirmed by ACME GmbH — it differs from the delivery")
    assert "NUT-M8: delivered 500, received 450" in told.text
    world.buyer.reply(second, "SHORT 50 nuts missing from the first pallet")
    world.poll()
    assert "SHORT: 50 nuts missing" in world.supplier.wait_for(f"[{ref}] Message from").text
    data = order_json(world, ref)
    assert data["delivered"] == {"blt-m8": "500", "nut-m8": "500", "glv-l": "40"}
    assert data["received"] == {"blt-m8": "500", "nut-m8": "450", "glv-l": "40"}
    assert data["claims"][0]["kind"] == "short" and data["status"] == "delivered"  # not all received


def test_an_invoice_that_matches_what_was_received_is_due(world: World) -> None:
    ref = approved_order(world)
    deliver_and_receive(world, ref)
    assert order_json(world, ref)["status"] == "received"
    invoice(world, ref, "280.84")
    assert "Payment is due on 2026-12-20" in world.supplier.wait_for("Invoice received — payment due").text
    assert order_json(world, ref)["invoice"]["hold"] == ""


def test_an_invoice_over_the_received_quantity_holds_the_payment_and_names_the_line(world: World) -> None:
    ref = approved_order(world)
    approved = world.supplier.wait_for(f"[{ref}] Bill rev 1 approved")
    world.supplier.reply(approved, "DELIVERED")
    world.poll()
    world.buyer.reply(world.buyer.wait_for(f"[{ref}] Delivery 1"), "RECEIVED\nBLT-M8 500\nNUT-M8 500\nGLV-L 30")
    world.poll()
    invoice(world, ref, "280.84")  # invoices all 40 gloves; 30 arrived
    to_buyer = world.buyer.wait_for(f"[{ref}] Invoice received")
    assert "PAYMENT HELD" in to_buyer.text and "GLV-L: approved 40, received 30" in to_buyer.text
    assert "GLV-L: approved 40, received 30" in world.supplier.wait_for("Invoice received — payment due").text
    assert order_json(world, ref)["invoice"]["hold"].startswith("the invoice total 280.84 is more than")


def test_an_invoice_before_receipt_is_recorded_and_waits_until_the_goods_arrive(world: World) -> None:
    ref = approved_order(world)
    invoice(world, ref, "280.84")
    assert "waits for RECEIVED" in world.buyer.wait_for(f"[{ref}] Invoice received").text
    assert order_json(world, ref)["status"] == "invoiced"

    assert json.loads(cli(world, "payments", "due", "--json"))["payments"] == []  # held

    world.supplier.reply(world.supplier.wait_for(f"[{ref}] Bill rev 1 approved"), "DELIVERED")
    world.poll()
    world.buyer.reply(world.buyer.wait_for(f"[{ref}] Delivery 1"), "RECEIVED")
    world.poll()
    data = order_json(world, ref)
    assert data["status"] == "invoiced" and data["invoice"]["hold"] == ""
    assert [e["kind"] for e in data["events"]].count("payment_released") == 1
    assert [p["ref"] for p in json.loads(cli(world, "payments", "due", "--json"))["payments"]] == [ref]


def test_cancel_before_delivery_works_and_after_delivery_is_refused(world: World) -> None:
    ref = approved_order(world)
    world.supplier.reply(world.supplier.wait_for(f"[{ref}] Bill rev 1 approved"), "DELIVERED")
    world.poll()
    delivery: Received = world.buyer.wait_for(f"[{ref}] Delivery 1")
    world.buyer.reply(delivery, "CANCEL changed our mind")
    world.poll()
    assert "can no longer be cancelled" in world.buyer.wait_for("Not processed").text
    assert order_json(world, ref)["status"] == "delivered"


def delivery_note_pdf(ref: str, rows: tuple[tuple[str, str, str, str], ...]) -> bytes:
    """A Lieferschein as an ERP prints it: articles and quantities, no prices."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 6, f"Lieferschein LS-881 zu Ihrer Bestellung {ref}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    columns = ((30, "Art.-Nr."), (80, "Bezeichnung"), (25, "Menge"), (20, "ME"))
    for width, title in columns:
        pdf.cell(width, 6, title, border="B")
    pdf.ln()
    for row in rows:
        for (width, _), text in zip(columns, row):
            pdf.cell(width, 6, text, align="R" if text[:1].isdigit() else "L")
        pdf.ln()
    return bytes(pdf.output())


def test_a_delivery_note_without_prices_gives_the_delivered_quantities(world: World) -> None:
    ref = approved_order(world)
    note = delivery_note_pdf(ref, (("BLT-M8", "Sechskantschraube M8x40", "250", "Stk"),
                                   ("GLV-L", "Arbeitshandschuhe Gr. L", "40", "Paar")))
    world.supplier.reply(world.supplier.wait_for(f"[{ref}] Bill rev 1 approved"), "DELIVERED, see the note",
                         attachments=(("LS-881.pdf", note),))
    world.poll()
    to_confirm = world.buyer.wait_for(f"[{ref}] Delivery 1 on its way")
    assert "BLT-M8: 250" in to_confirm.text and "GLV-L: 40" in to_confirm.text and "NUT-M8: 500" in to_confirm.text
    data = order_json(world, ref)
    assert data["delivered"] == {"blt-m8": "250", "glv-l": "40"} and data["status"] == "partly_delivered"
    assert ("delivery_note", "LS-881.pdf") in [(d["kind"], d["filename"]) for d in data["documents"]]

    counted = b"Art.-Nr.;Menge\nBLT-M8;240\nGLV-L;40\n"  # the goods-in desk's own count, as CSV
    world.buyer.reply(to_confirm, "RECEIVED", attachments=(("wareneingang.csv", counted),))
    world.poll()
    assert "BLT-M8: delivered 250, received 240" in world.supplier.wait_for(f"[{ref}] Receipt confirmed").text


def test_our_sheet_with_a_delivered_column_added_gives_the_delivered_quantities(world: World) -> None:
    import io

    from openpyxl import load_workbook

    from tests.test_round_trip import sheet_of

    ref = approved_order(world)
    workbook = load_workbook(io.BytesIO(sheet_of(world.supplier.wait_for(f"[{ref}] New order"))))
    sheet = workbook["Bill"]
    sheet.protection.sheet = False
    header = next(row for row in range(1, 20) if sheet.cell(row, 1).value == "SKU")
    sheet.cell(header, 8, "Delivered")
    skus = {sheet.cell(row, 1).value: row for row in range(header + 1, header + 4)}
    sheet.cell(skus["BLT-M8"], 8, 120)  # the nuts and gloves are left blank: not delivered
    out = io.BytesIO()
    workbook.save(out)
    world.supplier.reply(world.supplier.wait_for(f"[{ref}] Bill rev 1 approved"), "DELIVERED",
                         attachments=((f"{ref}-bill.xlsx", out.getvalue()),))
    world.poll()
    world.buyer.wait_for(f"[{ref}] Delivery 1 on its way")
    assert order_json(world, ref)["delivered"] == {"blt-m8": "120"}
