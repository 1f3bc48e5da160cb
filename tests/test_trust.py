"""Only the right people decide: addresses, delegates, tokens and sender authentication."""
from __future__ import annotations

import json

from click.testing import CliRunner

from bot.cli import main
from bot.devmail.clients import Party
from bot.tokens import new_token, reply_address
from tests.conftest import World
from tests.test_round_trip import order_json, sheet_of, submit_rev1


def cli(world: World, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(world.config_path), *args])
    assert result.exit_code == 0, result.output
    return result.output


def other(world: World, address: str) -> Party:
    return Party(address, world.supplier.imap_port, world.supplier.smtp_port, "Colleague")


def test_listed_addresses_and_the_suppliers_domain_act_for_the_supplier(world: World) -> None:
    colleague, shared = other(world, "office@elsewhere.test"), other(world, f"anyone.{world.bot.split('@')[0]}@supplier.test")
    ref = world.order()
    world.poll()
    mail = world.supplier.wait_for(f"[{ref}] New order")
    colleague.send(colleague.reply_message(mail, "SEND", attachments=((f"{ref}-bill.xlsx", sheet_of(mail)),)))
    world.poll()
    assert order_json(world, ref)["revisions"] == []  # not yet allowed: refused
    colleague.wait_for("neither the supplier nor a buyer")

    shown = json.loads(cli(world, "supplier", "set", world.supplier.address, "--address", colleague.address))
    assert shown["addresses"] == [colleague.address]
    colleague.send(colleague.reply_message(mail, "SEND", attachments=((f"{ref}-bill.xlsx", sheet_of(mail)),)))
    world.poll()
    assert order_json(world, ref)["revisions"][0]["status"] == "submitted"

    cli(world, "supplier", "set", world.supplier.address, "--domain", "supplier.test")
    shared.send(shared.reply_message(mail, "Question from the warehouse"))
    world.poll()
    assert "Question from the warehouse" in world.buyer.wait_for("Question from").text


def test_a_delegate_may_decide_for_the_buyer(world: World) -> None:
    deputy = other(world, f"deputy.{world.bot.split('@')[0]}@example.test")
    ref, request = submit_rev1(world)
    cli(world, "buyer", "delegate", world.buyer.address, deputy.address)
    deputy.send(deputy.reply_message(request, "APPROVE while Anna is away"))
    world.poll()
    assert order_json(world, ref)["revisions"][0]["decided_by"] == deputy.address


def test_a_foreign_or_forged_token_decides_nothing(world: World) -> None:
    ref_a, request_a = submit_rev1(world)
    message = world.buyer.reply_message(request_a, "APPROVE")
    del message["To"], message["In-Reply-To"], message["References"]
    message["To"] = reply_address(world.bot, new_token())  # guessed: unknown, so it is no signal
    world.buyer.send(message)
    world.poll()
    world.buyer.wait_for("must answer the approval request")
    assert order_json(world, ref_a)["status"] == "awaiting_approval"


def require_dmarc(world: World) -> None:
    world.reconfigure(auth={"authserv_id": "mx.devmail.test", "require_dmarc": True},
                      bot={"operator_address": "ops@example.test"})


def test_with_dmarc_required_an_authenticated_buyer_decides(world: World) -> None:
    require_dmarc(world)
    ref, request = submit_rev1(world)
    world.buyer.reply(request, "APPROVE")
    world.poll()
    assert order_json(world, ref)["status"] == "approved"


def test_a_spoofed_buyer_is_held_and_the_operator_decides(world: World) -> None:
    require_dmarc(world)
    ref, request = submit_rev1(world)
    spoof = world.buyer.reply_message(request, "APPROVE")
    world.stranger.send(spoof)  # From says the buyer; the mail really comes from elsewhere.test
    forged = world.buyer.reply_message(request, "Approve")
    forged["Authentication-Results"] = "mx.devmail.test; dmarc=pass header.from=example.test"  # below the real one
    world.stranger.send(forged)
    world.poll()
    assert order_json(world, ref)["status"] == "awaiting_approval"
    held = json.loads(cli(world, "held", "list", "--json"))
    assert [h["reason"] for h in held] == ["held: DMARC fail",
                                           "held: 2 Authentication-Results headers claim to be from mx.devmail.test"]
    ops = other(world, "ops@example.test")
    assert "held release" in ops.wait_for(f"Held: decision on {ref}").text

    assert "dropped" in cli(world, "held", "drop", str(held[1]["id"]))
    assert "approved" in cli(world, "held", "release", str(held[0]["id"]))
    assert order_json(world, ref)["status"] == "approved"
    assert "approved" in world.supplier.wait_for("approved — please deliver").subject
    assert json.loads(cli(world, "held", "list", "--json")) == []


def test_with_dmarc_required_a_spoofed_paid_is_held_too(world: World) -> None:
    from tests.pdfgen import text_pdf

    require_dmarc(world)
    ref, request = submit_rev1(world)
    world.buyer.reply(request, "APPROVE")
    world.poll()
    world.supplier.reply(world.supplier.wait_for("approved — please deliver"), "INVOICE",
                         attachments=(("inv.pdf", text_pdf(["Total: 1.00"])),))
    world.poll()
    invoice_mail = world.buyer.wait_for("Invoice received")
    world.stranger.send(world.buyer.reply_message(invoice_mail, "PAID"))  # From says the buyer
    world.poll()
    held = json.loads(cli(world, "held", "list", "--json"))
    assert [h["reason"] for h in held] == ["held: DMARC fail"]
    assert order_json(world, ref)["status"] == "invoiced"
