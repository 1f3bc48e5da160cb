"""Buyers order by email, over the real servers: ORDER with a sheet in their own layout or lines in
the body, echoed and sent at SEND; TEMPLATE; and every unusable ORDER answered, nothing created."""
from __future__ import annotations

import io
import mimetypes
import zipfile
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import make_msgid

import time_machine
from openpyxl import Workbook, load_workbook
from sqlmodel import select

from bot.devmail.clients import Party
from bot.buyer_orders import TEMPLATE_NAME
from bot.jobs import JOBS
from storage import queries
from storage.db import session
from storage.models import OrderStatus, PurchaseOrder
from tests.conftest import World
from tests.pdfgen import text_pdf
from tests.test_emails import buttons, visible
from tests.test_intake_mail import quote_pdf


def with_buyers(world: World, **extra: object) -> None:
    """The test buyer may order; `bolts` is the supplier's short name."""
    world.reconfigure(buyers={"addresses": [world.buyer.address], **extra})
    text = world.config_path.read_text() + f'\n[buyers.suppliers]\nbolts = "{world.supplier.address}"\n'
    world.config_path.write_text(text)
    world.reconfigure()


def write_to_bot(world: World, party: Party, text: str, files: tuple[tuple[str, bytes], ...] = (),
                 subject: str = "order") -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = f"{party.name} <{party.address}>", world.bot, subject
    message["Message-ID"] = make_msgid(domain="client.test")
    message.set_content(text)
    for name, data in files:
        maintype, _, subtype = (mimetypes.guess_type(name)[0] or "application/octet-stream").partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    party.send(message)


def own_layout_sheet() -> bytes:
    """An ERP export in German: a letterhead, the header in row 5, article numbers and decimal commas as text."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Bestellung"
    sheet.append(["ACME GmbH – Werk 2 – Einkauf"])
    sheet.append(["Bestellanforderung BANF 4711"])
    sheet.append([])
    sheet.append(["Kostenstelle", "KST-100"])
    sheet.append(["Pos", "Art.-Nr.", "Bezeichnung", "Menge", "ME", "Einzelpreis", "MwSt"])
    sheet.append([10, "BLT-M8", "Sechskantschraube M8x40", 500, "Stk", "0,12", "19 %"])
    sheet.append([20, "NUT-M8", "Mutter M8", 500, "Stk", "0,04", "19 %"])
    sheet.append([30, "GLV-L", "Handschuhe L", 40, "Paar", "3,90", "19 %"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def orders_of(world: World) -> list[PurchaseOrder]:
    with session(world.app.engine) as s:
        return list(s.exec(select(PurchaseOrder)).all())


def test_an_order_sheet_in_the_buyers_own_layout_is_echoed_then_sent_at_send(world: World) -> None:
    with_buyers(world)
    write_to_bot(world, world.buyer, "ORDER bolts\nPlease order the usual.\nDelivery: 2026-12-15\nRef: BANF-4711\n"
                 "Deliver to: Werk 2, Tor 3, 12345 Musterstadt", (("banf-4711.xlsx", own_layout_sheet()),))
    world.poll()
    echo = world.buyer.wait_for(f"Your order for {world.supplier.address}: reply SEND to send it — EUR 280.84")
    assert "It has NOT been sent" in echo.text and "Read from: banf-4711.xlsx." in echo.text
    assert "<table" in echo.html and "It has NOT been sent" in visible(echo.html)
    assert set(buttons(echo.html)) == {"Send the order (SEND)", "Cancel…"}
    assert buttons(echo.html)["Cancel…"][2] == "CANCEL\r\nreason: "
    assert "BLT-M8 Sechskantschraube M8x40: 500 Stk × 0.12 = 60.00 + 19% tax" in echo.text
    assert "Requested delivery date:  2026-12-15" in echo.text and "Buyer reference:          BANF-4711" in echo.text
    assert "Deliver to:               Werk 2, Tor 3, 12345 Musterstadt" in echo.text
    [order] = orders_of(world)
    assert order.status is OrderStatus.DRAFT and order.buyer_ref == "BANF-4711"
    assert world.supplier.inbox() == []  # nothing reaches the supplier before SEND

    world.buyer.reply(echo, "SEND", "outlook")
    world.poll()
    new_order = world.supplier.wait_for(f"[{order.ref}] New order from ACME GmbH")
    assert new_order.attachment(f"{order.ref}-bill.xlsx") is not None and "Total: EUR 280.84" in new_order.text
    assert "Requested delivery date:  2026-12-15" in new_order.text
    assert "Buyer reference:          BANF-4711" in new_order.text
    assert "Deliver to:               Werk 2, Tor 3, 12345 Musterstadt" in new_order.text
    world.buyer.wait_for(f"[{order.ref}] Order sent to {world.supplier.address}")
    assert orders_of(world)[0].status is OrderStatus.NEW
    with session(world.app.engine) as s:
        assert [b.email for b in queries.buyers_of(s, order.id)] == [world.buyer.address]
        kinds = [e.kind for e in queries.events_of(s, order.id)]
    assert kinds[0] == "draft_order" and "sent" in kinds


def test_body_lines_with_send_go_to_the_supplier_at_once(world: World) -> None:
    with_buyers(world)
    world.reconfigure(auth={"authserv_id": "mx.devmail.test"})  # our server vouches for the buyer's mail
    write_to_bot(world, world.buyer, f"ORDER {world.supplier.address} SEND\nHi bot,\n\n"
                 "500 pcs BLT-M8 Hex bolt M8x40 at 0.12\n40 pair GLV-L Work gloves L at 3.90\nCurrency: EUR\n")
    world.poll()
    [order] = orders_of(world)
    new_order = world.supplier.wait_for(f"[{order.ref}] New order from ACME GmbH")
    assert "BLT-M8 Hex bolt M8x40: 500 pcs × 0.12 = 60.00 + 19% tax" in new_order.text
    assert "GLV-L Work gloves L: 40 pair × 3.90 = 156.00 + 19% tax" in new_order.text
    echo = world.buyer.wait_for(f"[{order.ref}] Order sent to {world.supplier.address} — EUR 257.04")
    assert "Read from: the lines in your email." in echo.text


def test_template_returns_a_blank_sheet_that_comes_back_as_an_order(world: World) -> None:
    with_buyers(world)
    write_to_bot(world, world.buyer, "TEMPLATE")
    world.poll()
    answer = world.buyer.wait_for("Order sheet for ACME GmbH")
    name, data = answer.attachment(".xlsx")
    assert name == TEMPLATE_NAME and "ORDER <supplier's address>" in answer.text and "bolts" in answer.text
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.active
    sheet["A5"], sheet["B5"], sheet["C5"], sheet["E5"] = "NUT-M8", "Hex nut M8", 1000, 0.04
    filled = io.BytesIO()
    workbook.save(filled)
    write_to_bot(world, world.buyer, "order bolts", ((TEMPLATE_NAME, filled.getvalue()),))
    world.poll()
    echo = world.buyer.wait_for("reply SEND to send it")
    assert "NUT-M8 Hex nut M8: 1,000 pcs × 0.04 = 40.00 + 19% tax" in echo.text


def test_unusable_orders_are_each_answered_and_nothing_is_created(world: World) -> None:
    with_buyers(world)
    no_table = Workbook()
    no_table.active.append(["Hello, see below"])
    no_table.active.append(["we need bolts"])
    blank = io.BytesIO()
    no_table.save(blank)
    write_to_bot(world, world.stranger, "ORDER bolts\n500 pcs BLT-M8 Hex bolt at 0.12")
    write_to_bot(world, world.buyer, "ORDER screws-inc\n500 pcs BLT-M8 Hex bolt at 0.12", subject="unknown")
    write_to_bot(world, world.buyer, "ORDER bolts\nplease order bolts", subject="no lines")
    write_to_bot(world, world.buyer, "ORDER bolts\n500 pcs BLT-M8 Hex bolt at 0.12\n200 nuts as usual",
                 subject="bad line")
    write_to_bot(world, world.buyer, "ORDER bolts", (("wishlist.xlsx", blank.getvalue()),), subject="no table")
    write_to_bot(world, world.buyer, "ORDER bolts\n5 pcs X-1 Thing at 1.00\nDelivery: next week", subject="date")
    world.poll()

    refusal = world.stranger.wait_for("Not processed: only the company's buyers can order by email")
    assert "ask them to add your address" in refusal.text
    answers = {m.subject: m.text for m in world.buyer.inbox()}
    unknown = answers["Not processed: we do not know the supplier this order is for"]
    assert 'We know no supplier "screws-inc"' in unknown and "bolts" in unknown
    assert "We found no order lines" in answers["Not processed: the order has no lines"]
    unreadable = [m.text for m in world.buyer.inbox() if "could not be read" in m.subject]
    assert any("line 3 “200 nuts as usual”: not read as an order line" in text for text in unreadable)
    assert any("wishlist.xlsx: no table of bill lines was found" in text for text in unreadable)
    assert any("Delivery: expected a date like 2026-12-15, got “next week”" in text for text in unreadable)
    assert orders_of(world) == [] and world.supplier.inbox() == []


def test_order_in_an_orders_thread_is_text_and_a_draft_takes_no_decision(world: World) -> None:
    with_buyers(world)
    write_to_bot(world, world.buyer, "ORDER bolts\n500 pcs BLT-M8 Hex bolt at 0.12")
    world.poll()
    echo = world.buyer.wait_for("reply SEND to send it")
    world.buyer.reply(echo, "APPROVE")
    world.poll()
    assert "draft: the supplier has not received it" in world.buyer.wait_for("Not processed: this order has not").text
    world.buyer.reply(echo, "CANCEL wrong supplier")
    world.poll()
    world.buyer.wait_for("Recorded: cancelled")
    assert orders_of(world)[0].status is OrderStatus.CANCELLED and world.supplier.inbox() == []


def test_hostile_order_mails_create_nothing(world: World) -> None:
    with_buyers(world)
    write_to_bot(world, world.supplier, "ORDER bolts\n500 pcs BLT-M8 Hex bolt at 0.12")  # a supplier is no buyer
    write_to_bot(world, world.buyer, "ORDER bolts", (("order.xlsx", b"PK\x03\x04 not really a workbook"),),
                 subject="broken sheet")
    write_to_bot(world, world.buyer, f"ORDER {world.buyer.address}\n5 pcs X-1 Thing at 1.00", subject="self")
    write_to_bot(world, world.buyer, "ORDER bolts\n99999999999999 pcs X-1 Thing at 1e400", subject="huge")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"<a/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 1024 * 1024))
    write_to_bot(world, world.buyer, "ORDER bolts", (("order.xlsx", bomb.getvalue()),), subject="bomb")
    world.poll()
    world.supplier.wait_for("Not processed: only the company's buyers can order by email")
    subjects = [m.subject for m in world.buyer.inbox()]
    assert subjects.count("Not processed: parts of the order could not be read") == 3, subjects
    bomb_answer = [m.text for m in world.buyer.inbox() if "expands to more than" in m.text]
    assert bomb_answer, "the zip bomb is named as such"
    assert "Not processed: we do not know the supplier this order is for" in subjects  # a buyer is not a supplier
    assert orders_of(world) == []


def test_a_suppliers_quote_as_pdf_becomes_the_order(world: World) -> None:
    with_buyers(world)
    write_to_bot(world, world.buyer, "ORDER bolts\nas quoted, please", (("AB-4711.pdf", quote_pdf("BANF-1")),))
    world.poll()
    echo = world.buyer.wait_for("reply SEND to send it — EUR 136.85")
    assert "Read from: AB-4711.pdf." in echo.text
    assert "BLT-M8 Sechskantschraube M8x40: 500 Stk × 0.14 = 70.00 + 19% tax" in echo.text
    assert "Fracht pauschal: 1 psch × 25.00" in echo.text


def test_a_drawing_sent_with_the_order_goes_to_the_supplier_with_it(world: World) -> None:
    with_buyers(world)
    drawing = text_pdf(["Drawing 4711-A, bracket", "Material: steel, zinc plated"])
    write_to_bot(world, world.buyer, "ORDER bolts\n200 pcs BRK-1 Bracket as drawn at 2.40",
                 (("drawing-4711.pdf", drawing),))
    world.poll()
    echo = world.buyer.wait_for("reply SEND to send it")
    assert "Attached to the order for the supplier: drawing-4711.pdf" in echo.text
    assert "BRK-1 Bracket as drawn: 200 pcs × 2.40" in echo.text
    world.buyer.reply(echo, "SEND")
    world.poll()
    new_order = world.supplier.wait_for("New order from ACME GmbH")
    assert new_order.attachment("drawing-4711.pdf") == ("drawing-4711.pdf", drawing)


def test_an_attachment_we_do_not_accept_stops_the_order(world: World) -> None:
    with_buyers(world)
    write_to_bot(world, world.buyer, "ORDER bolts\n5 pcs X-1 Thing at 1.00", (("setup.exe", b"MZ\x90\x00" * 50),))
    world.poll()
    assert "setup.exe: not a" in world.buyer.wait_for("Not processed: parts of the order could not be read").text
    assert orders_of(world) == []


def test_a_draft_order_without_send_is_brought_back_to_the_buyer(world: World) -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    with_buyers(world)
    world.reconfigure(schedule={"remind_unprocessed_after_days": 2})
    with time_machine.travel(start, tick=False):
        write_to_bot(world, world.buyer, "ORDER bolts\n500 pcs BLT-M8 Hex bolt at 0.12")
        world.poll()
    with time_machine.travel(start + timedelta(days=1), tick=False):
        assert JOBS["reminders"](world.app) == 0
    with time_machine.travel(start + timedelta(days=2, hours=1), tick=False):
        assert JOBS["reminders"](world.app) == 1
        assert JOBS["reminders"](world.app) == 0  # once per period
        world.poll()
    reminder = world.buyer.wait_for(f"Reminder: your order for {world.supplier.address} is not sent yet")
    assert "has NOT been sent" in reminder.text
    world.buyer.reply(reminder, "SEND")
    world.poll()
    world.supplier.wait_for("New order from ACME GmbH")


def test_order_send_without_our_servers_word_for_the_sender_waits_for_the_buyers_send(world: World) -> None:
    """A From line is easy to forge, and an order in the company's name reaches a supplier who ships it:
    without a DMARC pass vouched for by our own receiving server, ORDER … SEND is a draft until the
    buyer answers the echo from their real mailbox."""
    with_buyers(world)  # no [auth] authserv_id: nothing vouches for any sender
    write_to_bot(world, world.buyer, f"ORDER {world.supplier.address} SEND\n500 pcs BLT-M8 Hex bolt M8x40 at 0.12\n")
    world.poll()
    [order] = orders_of(world)
    assert order.status is OrderStatus.DRAFT
    echo = world.buyer.wait_for(f"[{order.ref}]")
    assert "could not confirm that this email\ncame from you" in echo.text
    assert world.supplier.inbox() == []

    forged = EmailMessage()  # a new email naming the draft by its tag: not an answer to the echo
    forged["From"], forged["To"] = f"{world.buyer.name} <{world.buyer.address}>", world.bot
    forged["Subject"], forged["Message-ID"] = f"[{order.ref}] SEND", make_msgid(domain="client.test")
    forged.set_content("SEND")
    world.buyer.send(forged)
    world.poll()
    refusal = world.buyer.wait_for(f"[{order.ref}]", count=2)
    assert "For SEND on " + order.ref in refusal.text
    assert "a new email naming the order is not enough" in " ".join(refusal.text.split())
    assert orders_of(world)[0].status is OrderStatus.DRAFT
    assert world.supplier.inbox() == []

    world.buyer.reply(echo, "SEND")
    world.poll()
    world.supplier.wait_for(f"[{order.ref}] New order from ACME GmbH")
    assert orders_of(world)[0].status is OrderStatus.NEW


def test_a_supplier_writing_order_words_about_an_existing_order_is_relayed_not_refused(world: World) -> None:
    """`Bestellung erhalten` (German for "order received") starts with the ORDER keyword; about an
    order the supplier already has, named by its [PO-…] tag, it is a message for the buyer."""
    with_buyers(world)
    ref = world.order()
    world.poll()
    world.supplier.wait_for(f"[{ref}] New order")
    note = EmailMessage()  # a new email, not a reply: only the subject's tag names the order
    note["From"], note["To"] = f"{world.supplier.name} <{world.supplier.address}>", world.bot
    note["Subject"], note["Message-ID"] = f"[{ref}] Bestellung erhalten", make_msgid(domain="supplier.test")
    note.set_content("Bestellung erhalten, Lieferung nächste Woche.")
    world.supplier.send(note)
    world.poll()
    relayed = world.buyer.wait_for(f"[{ref}] Question from")
    assert "Lieferung nächste Woche" in relayed.text
    assert not any("are for the buyers of" in " ".join(m.text.split()) for m in world.supplier.inbox())
    assert len(orders_of(world)) == 1
