"""A buyer's CANCEL <reason>, over the real servers: before the invoice it closes the order and
tells the supplier why; later, without a reason, or from a new email it is answered, not applied."""
from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from tests.conftest import World
from tests.test_documents import approved_order, submitted_order
from tests.test_round_trip import order_json


def test_a_buyer_cancels_an_approved_order_and_the_supplier_is_told_why(world: World) -> None:
    ref = approved_order(world)
    approved = world.buyer.wait_for("Recorded: bill rev 1 approved")
    world.buyer.reply(approved, "CANCEL the project was stopped", "outlook")
    world.poll()

    told = world.supplier.wait_for(f"[{ref}] Order cancelled by ACME GmbH")
    assert "Reason: the project was stopped" in told.text and "do not deliver it" in told.text
    world.buyer.wait_for(f"[{ref}] Recorded: cancelled")
    assert order_json(world, ref)["status"] == "cancelled"

    world.supplier.reply(told, "We had already shipped the bolts yesterday.", "gmail")
    world.poll()
    world.buyer.wait_for(f"[{ref}] Question from Sam Supplier")  # a word still passes between the two sides


def test_cancel_is_answered_not_applied_without_reason_after_invoice_or_from_a_new_email(world: World) -> None:
    ref, _, request = submitted_order(world)
    world.buyer.reply(request, "Cancel.", "gmail")
    world.poll()
    assert "CANCEL needs a reason" in world.buyer.wait_for("Not processed").text

    fresh = EmailMessage()  # names the order in the subject only: not enough to cancel it
    fresh["From"], fresh["To"], fresh["Subject"] = world.buyer.address, world.bot, f"[{ref}] cancel"
    fresh["Message-ID"] = make_msgid(domain="client.test")
    fresh.set_content("CANCEL we found it cheaper")
    world.buyer.send(fresh)
    world.poll()
    assert "reply to one of the emails we sent you" in world.buyer.wait_for("Not processed", count=2).text

    assert order_json(world, ref)["status"] == "awaiting_approval"


def test_an_invoiced_order_can_no_longer_be_cancelled(world: World) -> None:
    from tests.test_documents import DELIVERY_NOTE

    ref = approved_order(world)
    approved = world.supplier.wait_for("approved — please deliver")
    world.supplier.reply(approved, "INVOICE", "gmail", (("invoice.pdf", DELIVERY_NOTE),))
    world.poll()
    invoiced = world.buyer.wait_for("Invoice received")
    world.buyer.reply(invoiced, "CANCEL too late?", "gmail")
    world.poll()
    assert "can no longer be cancelled" in world.buyer.wait_for("Not processed").text
    assert order_json(world, ref)["status"] == "invoiced"
