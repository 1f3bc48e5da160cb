"""Bills in the supplier's own documents, over the real mail servers: their PDF, workbook, CSV
or scan becomes a draft that says where each line came from; SEND submits it at once only when
it all adds up; the buyer gets our sheet of the revision beside the supplier's file."""
from __future__ import annotations

import io
import shutil

import pytest
from fpdf import FPDF
from openpyxl import Workbook

from tests.conftest import World
from tests.pdfgen import text_pdf
from tests.test_round_trip import order_json

needs_ocr = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
COLUMNS = ((12, "Pos."), (28, "Art.-Nr."), (62, "Bezeichnung"), (18, "Menge"), (14, "ME"), (26, "Einzelpreis"),
           (26, "Gesamt"))
#: the world's order (BLT-M8 500 × 0.12, NUT-M8 500 × 0.04, GLV-L 40 × 3.90) answered: bolts dearer,
#: gloves dropped, freight added
ROWS = (("10", "BLT-M8", "Sechskantschraube M8x40", "500", "Stk", "0,14", "70,00"),
        ("20", "NUT-M8", "Sechskantmutter M8", "500", "Stk", "0,04", "20,00"),
        ("30", "", "Fracht pauschal", "1", "psch", "25,00", "25,00"))
TOTALS = (("Nettobetrag", "115,00"), ("MwSt 19 %", "21,85"), ("Gesamtbetrag EUR", "136,85"))


def quote_pdf(ref: str, rows=ROWS, totals=TOTALS) -> bytes:
    """An order confirmation as a supplier's ERP prints it."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    for text in ("Schrauben Mueller GmbH - Auftragsbestaetigung AB-4711", f"Ihre Bestellung {ref} vom 03.11.2026"):
        pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    for width, title in COLUMNS:
        pdf.cell(width, 6, title, border="B")
    pdf.ln()
    for row in rows:
        for (width, _), text in zip(COLUMNS, row):
            pdf.cell(width, 6, text, align="R" if text[:1].isdigit() and width != 12 else "L")
        pdf.ln()
    for label, value in totals:
        pdf.cell(134, 6, "")
        pdf.cell(26, 6, label)
        pdf.cell(26, 6, value, align="R")
        pdf.ln()
    return bytes(pdf.output())


def scan_of(pdf: bytes) -> bytes:
    """The PDF printed and scanned at 200 dpi: grey paper, slightly skewed, as a PNG."""
    import pypdfium2

    page = pypdfium2.PdfDocument(pdf)[0].render(scale=200 / 72).to_pil().convert("L")
    page = page.rotate(0.6, expand=True, fillcolor=235).point(lambda v: int(v * 0.85 + 30))
    out = io.BytesIO()
    page.save(out, "PNG")
    return out.getvalue()


def their_workbook(ref: str) -> bytes:
    workbook = Workbook()
    workbook.active.title = "Deckblatt"
    workbook.active["A1"] = "Angebot – bitte Blatt 2"
    sheet = workbook.create_sheet("Angebot")
    sheet["A1"] = "Schrauben Müller GmbH"
    sheet.merge_cells("A1:D1")
    sheet["A3"] = f"Ihre Bestellung {ref}"
    sheet.append([])
    sheet.append(["Ihre Art.-Nr.", "Bezeichnung", "Menge", "ME", "Preis/100", "Gesamt"])
    sheet.append(["BLT-M8", "Sechskantschraube M8x40", 500, "Stk", "14,00 €", "70,00 €"])
    sheet.append(["NUT-M8", "Sechskantmutter M8", 500, "Stk", "4,00 €", "20,00 €"])
    sheet.append(["", "Nettobetrag", "", "", "", "90,00 €"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_a_pdf_that_adds_up_with_send_is_submitted_and_the_buyer_gets_both_files(world: World) -> None:
    ref = world.order()
    world.poll()
    new_order = world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(new_order, "SEND\nAnbei unsere Auftragsbestätigung.", "outlook",
                         (("AB-4711.pdf", quote_pdf(ref)),))
    world.poll()

    request = world.buyer.wait_for("Bill rev 1 for approval — EUR 136.85")
    names = [part.get_filename() for part in request.message.iter_attachments()]
    assert names == [f"{ref}-bill-rev1.xlsx", "AB-4711.pdf"]
    assert "read from the supplier's own file: AB-4711.pdf (text PDF, 1 page)" in request.text
    assert "Every line and the document's totals added up." in request.text
    assert "read from AB-4711.pdf, page 1, line 5" in request.text
    submitted = world.supplier.wait_for("Bill rev 1 submitted for approval")
    assert "This is what we read from AB-4711.pdf (text PDF, 1 page)" in submitted.text
    assert "BLT-M8 Hex bolt M8x40: 500 pcs × 0.14" in submitted.text
    revision = order_json(world, ref)["revisions"][0]
    assert revision["status"] == "submitted" and revision["reconciled"] is True
    assert [(l["sku"], l["quantity"], l["unit_price"]) for l in revision["lines"]] == [
        ("BLT-M8", "500", "0.14"), ("NUT-M8", "500", "0.04"), ("", "1", "25")]
    assert revision["changes"] == ["changed: BLT-M8 (unit price 0.12 → 0.14)", "added: Fracht pauschal",
                                   "removed: GLV-L"]


def test_a_pdf_that_does_not_add_up_waits_as_a_draft_despite_send(world: World) -> None:
    ref = world.order()
    world.poll()
    new_order = world.supplier.wait_for(f"[{ref}] New order")
    wrong = (ROWS[0][:6] + ("7,00",), *ROWS[1:])
    world.supplier.reply(new_order, "SEND", "gmail", (("AB-4711.pdf", quote_pdf(ref, wrong)),))
    world.poll()

    draft = world.supplier.wait_for("Draft bill rev 1 received")
    assert "You wrote SEND, but this bill was not submitted yet" in draft.text
    assert "[CHECK] BLT-M8" in draft.text and "500 × 0.14 = 70.00, but the line's amount is 7" in draft.text
    assert order_json(world, ref)["revisions"][0]["status"] == "draft"
    assert world.buyer.inbox() == []

    world.supplier.reply(draft, "send")  # the supplier looked at it and stands by it
    world.poll()
    world.buyer.wait_for("Bill rev 1 for approval")
    assert "Not everything added up: check the lines marked [CHECK]." in world.buyer.inbox()[0].text


@needs_ocr
def test_a_scanned_bill_becomes_a_draft_read_by_ocr(world: World) -> None:
    ref = world.order()
    world.poll()
    new_order = world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(new_order, "Unsere Rechnung als Scan.", "apple", (("scan.png", scan_of(quote_pdf(ref))),))
    world.poll()

    draft = world.supplier.wait_for("Draft bill rev 1 received — EUR 136.85", timeout=30)
    assert "from scan.png (scan, read by OCR, 1 page)" in draft.text
    assert "Everything adds up" in draft.text
    documents = order_json(world, ref)["documents"]
    assert [(d["kind"], d["filename"]) for d in documents] == [("bill_source", "scan.png")]


def test_their_own_workbook_with_a_cover_sheet_and_prices_per_100_becomes_a_draft(world: World) -> None:
    ref = world.order()
    world.poll()
    new_order = world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(new_order, "", "outlook", (("Angebot.xlsx", their_workbook(ref)),))
    world.poll()

    draft = world.supplier.wait_for("Draft bill rev 1 received")
    assert "read from Angebot.xlsx, sheet 'Angebot', row 6" in draft.text
    assert "note: the price is per 100" in draft.text
    assert "REMOVED GLV-L" in draft.text and "BLT-M8 Hex bolt M8x40: 500 pcs × 0.14" in draft.text


def test_a_semicolon_csv_in_cp1252_becomes_a_draft(world: World) -> None:
    ref = world.order()
    world.poll()
    new_order = world.supplier.wait_for(f"[{ref}] New order")
    data = ("Angebot Schrauben Müller\n\nArt.-Nr.;Bezeichnung;Menge;Einzelpreis;Gesamt\n"
            "BLT-M8;Sechskantschraube;500;0,12;60,00\nNUT-M8;Sechskantmutter;500;0,04;20,00\n"
            "GLV-L;Handschuhe Größe L;40;3,90;156,00\n").encode("cp1252")
    world.supplier.reply(new_order, "SEND", "gmail", (("angebot.csv", data),))
    world.poll()
    request = world.buyer.wait_for("Bill rev 1 for approval — EUR 280.84")
    assert "This bill matches the order exactly." in request.text


def test_terms_and_conditions_stay_a_document(world: World) -> None:
    ref = world.order()
    world.poll()
    new_order = world.supplier.wait_for(f"[{ref}] New order")
    terms = text_pdf(["Allgemeine Geschaeftsbedingungen", "1. Zahlung innerhalb 30 Tagen netto."])
    world.supplier.reply(new_order, "", "gmail", (("AGB.pdf", terms),))
    world.poll()
    world.supplier.wait_for("1 document(s) received")
    assert [d["kind"] for d in order_json(world, ref)["documents"]] == ["scan"]


def test_a_locked_pdf_is_answered_and_changes_nothing(world: World) -> None:
    ref = world.order()
    world.poll()
    new_order = world.supplier.wait_for(f"[{ref}] New order")
    pdf = FPDF()
    pdf.set_encryption(owner_password="o", user_password="secret")
    pdf.add_page()
    world.supplier.reply(new_order, "SEND", "gmail", (("bill.pdf", bytes(pdf.output())),))
    world.poll()
    answer = world.supplier.wait_for("Not processed")
    assert "bill.pdf: it is protected by a password" in answer.text
    assert order_json(world, ref)["revisions"] == [] and order_json(world, ref)["documents"] == []


def test_a_pdf_printed_for_another_order_is_refused(world: World) -> None:
    ref = world.order()
    world.poll()
    new_order = world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(new_order, "SEND", "gmail", (("AB.pdf", quote_pdf("PO-2020-0001")),))
    world.poll()
    answer = world.supplier.wait_for("Not processed")
    assert "is the bill sheet of order PO-2020-0001" in answer.text or "PO-2020-0001" in answer.text
    assert order_json(world, ref)["revisions"] == []
