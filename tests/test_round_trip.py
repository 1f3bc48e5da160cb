"""The protocol end to end, against the real Dovecot and SMTP relay: each test reads like a use."""
from __future__ import annotations

import io
import re
from decimal import Decimal

from openpyxl import load_workbook
from sqlmodel import func, select

from bot.devmail.clients import LineEdit, Received, edit_sheet
from bot.views import order_detail
from parsers.bill_sheet import read_bill_sheet
from storage import queries
from storage.db import session
from storage.models import Event, InboundMessage, MailboxCursor, OutboxMessage
from tests.conftest import World
from tests.odsgen import ods_from_xlsx


def order_json(world: World, ref: str) -> dict:
    with session(world.app.engine) as s:
        order = queries.order_by_ref(s, ref)
        assert order is not None
        return order_detail(s, order)


def sheet_of(mail: Received) -> bytes:
    found = mail.attachment(".xlsx")
    assert found is not None, f"no spreadsheet attached to {mail.subject!r}"
    return found[1]


def send_bill(world: World, ref: str, edits: list[LineEdit], text: str = "", style: str = "gmail",
              to: Received | None = None) -> None:
    mail = to or world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(mail, text, style, ((f"{ref}-bill.xlsx", edit_sheet(sheet_of(mail), edits)),))
    world.poll()


def submit_rev1(world: World) -> tuple[str, Received]:
    ref = world.order()
    world.poll()
    send_bill(world, ref, [LineEdit("BLT-M8", unit_price=0.14)], "SEND")
    return ref, world.buyer.wait_for("Bill rev 1 for approval")


def test_full_loop_from_order_to_approval(world: World) -> None:
    ref = world.order()
    world.poll()
    new_order = world.supplier.wait_for(f"[{ref}] New order from ACME GmbH")
    assert re.fullmatch(rf"{world.bot.split('@')[0]}\+[a-z2-7]{{26}}@example\.test", str(new_order.message["Reply-To"]))
    assert new_order.text.splitlines()[0] == f"Waiting for you: 1 new order to answer with a bill ({ref})."
    assert (new_order.message["Auto-Submitted"], new_order.message["X-Auto-Response-Suppress"]) == (
        "auto-generated", "All")
    assert "BLT-M8 Hex bolt M8x40: 500 pcs × 0.12 = 60.00" in new_order.text
    assert "Total: EUR 280.84" in new_order.text and "<table" in new_order.html
    workbook = load_workbook(io.BytesIO(sheet_of(new_order)))
    total = next(row[6] for row in workbook["Bill"].iter_rows(min_row=8) if row[0].value == "Total")
    assert workbook["Bill"]["B1"].value == ref and total.value.startswith("=")
    saved = load_workbook(io.BytesIO(sheet_of(new_order)), data_only=True)["Bill"]
    assert saved[total.coordinate].value == 280.84  # what a phone preview shows: the result is in the file
    assert workbook["_supplierbot"].sheet_state == "hidden" and workbook["_supplierbot"]["B1"].value == ref

    send_bill(world, ref, [LineEdit("BLT-M8", unit_price=0.14), LineEdit("GLV-L", delete=True),
                           LineEdit("", add=("FRT", "Freight", 1, "lot", 25.0, 19))], style="outlook")
    draft = world.supplier.wait_for("Draft bill rev 1 received — EUR 136.85")
    assert "[CHANGED: unit price 0.12 → 0.14]" in draft.text
    assert "FRT Freight: 1 lot × 25.00 = 25.00 + 19% tax  [NEW LINE]" in draft.text
    assert "REMOVED GLV-L" in draft.text and "reply SEND" in draft.text
    assert order_json(world, ref)["status"] == "new"

    world.supplier.reply(draft, "Send.", "apple")
    world.poll()
    request = world.buyer.wait_for(f"[{ref}] Bill rev 1 for approval — EUR 136.85")
    assert '<s style="color:#6e7781">0.12</s> → <b>0.14</b>' in request.html  # old → new, not colour alone
    assert "REMOVED" in request.html and "NEW LINE" in request.html
    assert "APPROVE [note]" in request.text and "REJECT <reason>" in request.text
    assert request.attachment("-bill-rev1.xlsx") is not None
    world.supplier.wait_for("Bill rev 1 submitted for approval")
    assert order_json(world, ref)["status"] == "awaiting_approval"

    world.buyer.reply(request, "REJECT freight is included in our framework contract", "gmail")
    world.poll()
    rejected = world.supplier.wait_for("Bill rev 1 rejected")
    assert "Reason: freight is included in our framework contract" in rejected.text
    world.buyer.wait_for("Recorded: bill rev 1 rejected")
    assert order_json(world, ref)["status"] == "rejected"

    send_bill(world, ref, [LineEdit("FRT", delete=True)], "SEND", "html_gmail", to=rejected)
    request2 = world.buyer.wait_for(f"[{ref}] Bill rev 2 for approval — EUR 107.10")
    assert "Against the previous revision:" in request2.text and "removed: FRT" in request2.text

    world.buyer.reply(request2, "approved! go ahead", "html_outlook")
    world.poll()
    approved = world.supplier.wait_for("Bill rev 2 approved — please deliver")
    assert "Note from the buyer: go ahead" in approved.text
    assert "REMOVED GLV-L" in approved.text and "not the original order" in approved.text
    assert approved.attachment(f"{ref}-bill-rev2.xlsx") is not None

    data = order_json(world, ref)
    assert data["status"] == "approved"
    assert [(r["number"], r["status"], r["total"]) for r in data["revisions"]] == [
        (1, "rejected", "136.85"), (2, "approved", "107.10")]
    assert data["revisions"][0]["reason"] == "freight is included in our framework contract"
    kinds = [e["kind"] for e in data["events"] if e["kind"] not in ("email_queued", "email_received")]
    assert kinds == ["created", "draft_created", "submitted", "rejected", "draft_created", "submitted", "approved"]


def test_polling_twice_changes_nothing_and_sends_nothing_twice(world: World) -> None:
    ref, request = submit_rev1(world)
    world.buyer.reply(request, "APPROVE")
    world.poll()
    world.supplier.wait_for("approved")

    def counts() -> tuple[int, int, int]:
        with session(world.app.engine) as s:
            return tuple(s.exec(select(func.count()).select_from(t)).one() for t in (InboundMessage, OutboxMessage, Event))

    before, inboxes = counts(), (len(world.supplier.inbox()), len(world.buyer.inbox()))
    assert world.poll().summary().startswith("inbound: nothing new; sent 0")
    with session(world.app.engine) as s:  # forget where we were: every message is fetched again
        s.delete(s.exec(select(MailboxCursor)).one())
        s.commit()
    report = world.poll()
    assert report.outcomes["already seen"] == 2 and report.send.sent == 0
    assert counts() == before
    assert (len(world.supplier.inbox()), len(world.buyer.inbox())) == inboxes


def test_quoted_approve_never_approves(world: World) -> None:
    ref, request = submit_rev1(world)
    world.buyer.reply(request, "", "gmail")  # nothing typed above the quoted instructions
    world.buyer.reply(request, "Let me check with finance first.", "outlook")
    world.poll()
    refusal = world.buyer.wait_for("Not processed: the reply had no new text")
    assert "Nothing was changed." in refusal.text
    relayed = world.supplier.wait_for(f"[{ref}] Message from Anna Buyer")
    assert "Let me check with finance first." in relayed.text and "APPROVE" not in relayed.text
    assert order_json(world, ref)["revisions"][0]["status"] == "submitted"


def test_reject_needs_a_reason(world: World) -> None:
    ref, request = submit_rev1(world)
    world.buyer.reply(request, "Reject.", "apple")
    world.poll()
    refusal = world.buyer.wait_for("Not processed: REJECT needs a reason")
    assert "REJECT unit prices differ" in refusal.text
    assert order_json(world, ref)["status"] == "awaiting_approval"


def test_a_repeated_approve_is_answered_not_applied(world: World) -> None:
    ref, request = submit_rev1(world)
    world.buyer.reply(request, "APPROVE")
    world.buyer.reply(request, "Approve", "bottom")
    world.poll()
    refusal = world.buyer.wait_for("this revision was already decided")
    assert f"Revision 1 was already approved by {world.buyer.address}" in refusal.text
    assert len([m for m in world.supplier.inbox() if "approved" in m.subject]) == 1
    assert sum(e["kind"] == "approved" for e in order_json(world, ref)["events"]) == 1


def test_the_email_of_revision_1_cannot_decide_revision_2(world: World) -> None:
    ref, request1 = submit_rev1(world)
    corrected = edit_sheet(sheet_of(world.supplier.wait_for("New order")), [LineEdit("BLT-M8", unit_price=0.13)])
    world.supplier.reply(world.supplier.wait_for("Bill rev 1 submitted"), "SEND", "outlook",
                         ((f"{ref}-bill.xlsx", corrected),))
    world.poll()
    world.buyer.wait_for("Bill rev 2 for approval")
    world.buyer.reply(request1, "APPROVE")
    world.poll()
    refusal = world.buyer.wait_for("not the current one")
    assert "Revision 2 is waiting now" in refusal.text
    assert [r["status"] for r in order_json(world, ref)["revisions"]] == ["superseded", "submitted"]


def test_only_the_orders_buyers_decide_and_strangers_are_refused(world: World) -> None:
    ref, request = submit_rev1(world)
    world.stranger.reply(request, "APPROVE")  # someone the request was forwarded to
    world.supplier.reply(request, "APPROVE")  # the supplier approving its own bill
    world.poll()
    assert "Only the" in world.stranger.wait_for("neither the supplier nor a buyer").text
    world.supplier.wait_for("only the order's buyers can approve")
    assert order_json(world, ref)["revisions"][0]["status"] == "submitted"


def test_the_subject_tag_alone_never_authorises_a_decision(world: World) -> None:
    from email.message import EmailMessage

    ref, _ = submit_rev1(world)
    message = EmailMessage()
    message["From"], message["To"] = world.buyer.address, world.bot
    message["Subject"], message["Message-ID"] = f"[{ref}] APPROVE", "<fresh-1@example.test>"
    message.set_content("APPROVE")
    world.buyer.send(message)
    world.poll()
    assert "reply to the approval request email" in world.buyer.wait_for("must answer the approval request").text
    assert order_json(world, ref)["status"] == "awaiting_approval"


def test_a_bill_saved_by_libreoffice_as_ods_is_taken_like_the_xlsx(world: World) -> None:
    ref = world.order()
    world.poll()
    mail = world.supplier.wait_for(f"[{ref}] New order")
    sheet = ods_from_xlsx(edit_sheet(sheet_of(mail), [LineEdit("BLT-M8", unit_price=0.14)]))
    world.supplier.reply(mail, "SEND", "gmail", ((f"{ref}-bill.ods", sheet),))
    world.poll()

    request = world.buyer.wait_for("Bill rev 1 for approval")
    assert "BLT-M8 Hex bolt M8x40: 500 pcs × 0.14 = 70.00" in request.text
    name, data = request.attachment(".ods") or ("", b"")
    assert name == f"{ref}-bill.ods" and data == sheet  # the supplier's file as sent, beside our sheet
    ours = request.attachment(f"{ref}-bill-rev1.xlsx")
    assert ours is not None and read_bill_sheet(ours[1]).lines[0].unit_price == Decimal("0.14")
    assert "Documents attached" not in request.text
    assert order_json(world, ref)["status"] == "awaiting_approval"


def test_sheet_problems_are_answered_with_row_and_column(world: World) -> None:
    ref = world.order()
    world.poll()
    send_bill(world, ref, [LineEdit("BLT-M8", quantity="about 500"), LineEdit("NUT-M8", unit_price=-1)])
    answer = world.supplier.wait_for("the bill spreadsheet has problems")
    assert "sheet 'Bill', row 8, column C (Quantity): Quantity must be a number, found 'about 500'" in answer.text
    assert "sheet 'Bill', row 9, column E (Unit price): Unit price cannot be negative" in answer.text
    data = order_json(world, ref)
    assert data["revisions"] == [] and data["status"] == "new"


def test_a_sheet_of_another_order_is_refused(world: World) -> None:
    ref_a, ref_b = world.order(), world.order()
    world.poll()
    mail_a = world.supplier.wait_for(f"[{ref_a}] New order")
    mail_b = world.supplier.wait_for(f"[{ref_b}] New order")
    world.supplier.reply(mail_a, "", "gmail", ((f"{ref_b}-bill.xlsx", sheet_of(mail_b)),))
    world.poll()
    answer = world.supplier.wait_for("the spreadsheet belongs to another order")
    assert f"is the bill sheet of order {ref_b},\nnot of {ref_a}" in answer.text
    assert order_json(world, ref_a)["revisions"] == []


def test_out_of_office_replies_are_recorded_and_never_answered(world: World) -> None:
    ref = world.order()
    world.poll()
    mail = world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(mail, "I am out of the office until Monday.",
                         extra_headers={"Auto-Submitted": "auto-replied"})
    report = world.poll()
    assert report.outcomes["ignored"] == 1 and report.send.sent == 0
    with session(world.app.engine) as s:
        row = s.exec(select(InboundMessage)).one()
    assert row.disposition == "automatic: Auto-Submitted: auto-replied"
    assert len(world.supplier.inbox()) == 1


def test_questions_go_to_the_buyer_and_answers_come_back(world: World) -> None:
    ref = world.order()
    world.poll()
    world.supplier.reply(world.supplier.wait_for(f"[{ref}] New order"), "Can we deliver the nuts in two batches?")
    world.poll()
    question = world.buyer.wait_for(f"[{ref}] Question from Sam Supplier")
    assert "Can we deliver the nuts in two batches?" in question.text
    world.buyer.reply(question, "Yes, two batches are fine.", "outlook")
    world.poll()
    answer = world.supplier.wait_for(f"[{ref}] Message from Anna Buyer")
    assert "Yes, two batches are fine." in answer.text and "two batches?" not in answer.text


def test_mail_about_no_known_order_is_answered(world: World) -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = world.stranger.address, world.bot, "Hello"
    message["Message-ID"] = "<hello-1@elsewhere.test>"
    message.set_content("Do you buy widgets?")
    world.stranger.send(message)
    world.poll()
    answer = world.stranger.wait_for("we could not tell which order")
    assert answer.message["In-Reply-To"] == "<hello-1@elsewhere.test>"
