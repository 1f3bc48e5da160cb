"""Comments, scans and the invoice over the real mail servers."""
from __future__ import annotations

import io
import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.devmail.clients import LineEdit, Received, edit_sheet
from tests.conftest import World
from tests.pdfgen import text_pdf
from tests.test_round_trip import order_json, sheet_of

def _photo() -> bytes:
    """A real (tiny) photo with no text on it: a document, not a bill."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 90, 60)).save(out, "JPEG")
    return out.getvalue()


JPEG = _photo()
DELIVERY_NOTE = text_pdf(["Delivery note 88", "500 bolts, 500 nuts"])


def submitted_order(world: World) -> tuple[str, Received, Received]:
    """An order whose unchanged sheet was sent with SEND: (ref, the new-order mail, the approval request)."""
    ref = world.order()
    world.poll()
    mail = world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(mail, "SEND", attachments=((f"{ref}-bill.xlsx", sheet_of(mail)),))
    world.poll()
    return ref, mail, world.buyer.wait_for(f"[{ref}] Bill rev 1 for approval")


def approved_order(world: World) -> str:
    ref, _, request = submitted_order(world)
    world.buyer.reply(request, "APPROVE")
    world.poll()
    return ref


def test_a_question_reaches_the_buyer_and_the_answer_comes_back_threaded(world: World) -> None:
    ref, new_order, request = submitted_order(world)
    world.supplier.reply(new_order, "Can we ship the nuts a week later?\n\n-- \nSam, ACME Supplies", "outlook")
    world.poll()
    question = world.buyer.wait_for(f"[{ref}] Question from Sam Supplier")
    assert "Can we ship the nuts a week later?" in question.text and "ACME Supplies" not in question.text
    assert question.message["In-Reply-To"] == request.message["Message-ID"]
    assert question.message["Reply-To"] != request.message["Reply-To"]

    world.buyer.reply(question, "Yes, a week later is fine.", "apple")
    world.poll()
    answer = world.supplier.wait_for(f"[{ref}] Message from Anna Buyer")
    assert "Yes, a week later is fine." in answer.text
    assert answer.message["In-Reply-To"] == world.supplier.wait_for("Bill rev 1 submitted").message["Message-ID"]
    assert order_json(world, ref)["revisions"][0]["status"] == "submitted"  # a question decides nothing
    assert [c["text"] for c in order_json(world, ref)["comments"]] == [
        "Can we ship the nuts a week later?", "Yes, a week later is fine."]


def test_scans_and_notes_go_with_the_bill_to_the_buyer(world: World) -> None:
    ref = world.order()
    world.poll()
    new_order = world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(new_order, "", attachments=(("delivery-note.pdf", DELIVERY_NOTE), ("photo.jpg", JPEG)))
    world.poll()
    ack = world.supplier.wait_for("2 document(s) received")
    assert "go to the buyer with your next bill" in ack.text
    world.supplier.reply(new_order, "", attachments=(("again.pdf", DELIVERY_NOTE),))  # the same file again
    world.poll()
    sheet = edit_sheet(sheet_of(new_order), [LineEdit("NUT-M8", unit_price=0.05)])
    world.supplier.reply(new_order, "SEND\nNuts cost more since October.", "gmail",
                         ((f"{ref}-bill.xlsx", sheet),))
    world.poll()
    request = world.buyer.wait_for("Bill rev 1 for approval")
    names = [part.get_filename() for part in request.message.iter_attachments()]
    assert names == [f"{ref}-bill-rev1.xlsx", f"{ref}-bill.xlsx", "delivery-note.pdf", "photo.jpg"]  # ours, theirs
    assert "Note from the supplier: Nuts cost more since October." in request.text
    documents = order_json(world, ref)["documents"]
    assert sorted((d["kind"], d["filename"], d["revision"]) for d in documents) == [
        ("bill_sheet", f"{ref}-bill.xlsx", 1), ("scan", "delivery-note.pdf", 1), ("scan", "photo.jpg", 1)]


def test_an_exe_renamed_pdf_is_refused_and_nothing_is_stored(world: World) -> None:
    ref = world.order()
    world.poll()
    mail = world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(mail, "our invoice", attachments=(("invoice.pdf", b"MZ\x90\x00\x03" + b"\0" * 200),))
    world.poll()
    answer = world.supplier.wait_for("some attachments cannot be accepted")
    assert "invoice.pdf: not a PDF, JPEG, PNG or TIFF" in answer.text
    data = order_json(world, ref)
    assert data["documents"] == [] and data["comments"] == []


def test_the_invoice_is_read_checked_and_scheduled(world: World, tmp_path: Path) -> None:
    from tests.test_delivery import deliver_and_receive

    ref = approved_order(world)
    approved = world.supplier.wait_for("approved — please deliver")
    deliver_and_receive(world, ref)  # paid for what was received: here, everything
    invoice_pdf = text_pdf(["ACME Supplies", "Invoice No: INV-77", "Invoice date: 2026-11-20",
                            "Total due: EUR 299.99"])  # the approved total is 280.84
    world.supplier.reply(approved, "Invoice. Thanks for the order", attachments=(("INV-77.pdf", invoice_pdf),))
    world.poll()
    to_buyer = world.buyer.wait_for(f"[{ref}] Invoice received, due 2026-12-20 — TOTAL DIFFERS")
    assert "Invoice number: INV-77" in to_buyer.text and "Invoice total:  EUR 299.99" in to_buyer.text
    assert "differs from the approved bill by EUR 19.15" in to_buyer.text
    assert to_buyer.attachment("INV-77.pdf") is not None
    held = world.supplier.wait_for("Invoice received — payment due").text  # more than the goods are worth
    assert "The payment waits: the invoice total 299.99 is more than the goods received are worth" in held

    data = order_json(world, ref)
    assert data["status"] == "invoiced" and data["revisions"][0]["status"] == "invoiced"
    assert data["invoice"] == {"number": "INV-77", "invoice_date": "2026-11-20", "total_read": "299.99",
                               "total_expected": "280.84", "mismatch": True, "read_method": "text",
                               "due_date": "2026-12-20",
                               "hold": "the invoice total 299.99 is more than the goods received are worth (280.84): "
                                       "every line was received in full"}
    digest = next(d["sha256"] for d in data["documents"] if d["kind"] == "invoice")
    out = tmp_path / "invoice.pdf"
    result = CliRunner().invoke(main, ["--config", str(world.config_path), "document", "get", digest, "-o", str(out)])
    assert result.exit_code == 0 and out.read_bytes() == invoice_pdf
    shown = CliRunner().invoke(main, ["--config", str(world.config_path), "order", "show", ref]).output
    assert "TOTAL DIFFERS" in shown and "invoiced" in shown


def test_invoice_too_early_or_without_a_document_is_explained(world: World) -> None:
    ref = world.order()
    world.poll()
    mail = world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(mail, "INVOICE", attachments=(("inv.pdf", text_pdf(["Total: 1"])),))
    world.poll()
    assert "after the\nbuyer approved your bill" in world.supplier.wait_for("can only follow an approved bill").text
    ref2 = approved_order(world)
    world.supplier.reply(world.supplier.wait_for(f"[{ref2}] Bill rev 1 approved"), "INVOICE")
    world.poll()
    world.supplier.wait_for("INVOICE needs the invoice attached")
    assert order_json(world, ref2)["status"] == "approved" and order_json(world, ref2)["invoice"] is None
    assert json.dumps(order_json(world, ref)["documents"]) == "[]"


def test_document_limits_are_configurable_and_explained(world: World) -> None:
    world.reconfigure(limits={"max_attachments": 1})
    ref = world.order()
    world.poll()
    mail = world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(mail, "", attachments=(("a.pdf", DELIVERY_NOTE), ("b.jpg", JPEG)))
    world.poll()
    assert "2 files attached; at most 1 per message" in world.supplier.wait_for("cannot be accepted").text
    assert order_json(world, ref)["documents"] == []
