"""The indicator, the digest, reminders, contract terms and payments, with a controlled clock."""
from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import time_machine
from click.testing import CliRunner
from openpyxl import load_workbook

from bot.cli import main
from bot.devmail.clients import Party
from tests.conftest import World
from tests.pdfgen import text_pdf
from tests.test_round_trip import order_json, sheet_of

UTC = timezone.utc
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def cli(world: World, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(world.config_path), *args])
    assert result.exit_code == 0, result.output
    return result.output


def job(world: World, name: str) -> int:
    return int(cli(world, "jobs", "run", name).split(": ")[1].split()[0])


def submit(world: World, ref: str) -> None:
    mail = world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(mail, "SEND", attachments=((f"{ref}-bill.xlsx", sheet_of(mail)),))
    world.poll()


def test_every_email_to_a_supplier_names_what_waits_for_them(world: World) -> None:
    first, second = world.order(), world.order()
    world.poll()
    submit(world, first)
    world.supplier.reply(world.supplier.wait_for(f"[{second}] New order"), "INVOICE")  # refused, still counted
    world.poll()
    world.supplier.wait_for("only follow an approved bill")
    firsts = {m.subject: m.text.splitlines()[0] for m in world.supplier.inbox()}  # parallel lanes: any order
    one, both = (f"Waiting for you: 1 new order to answer with a bill ({second}).",
                 f"Waiting for you: 2 new orders to answer with a bill ({first}, {second}).")
    assert firsts == {f"[{first}] New order from ACME GmbH": f"Waiting for you: 1 new order to answer with a bill ({first}).",
                      f"[{second}] New order from ACME GmbH": both,
                      f"[{first}] Bill rev 1 submitted for approval": one,
                      f"[{second}] Not processed: an invoice can only follow an approved bill":
                          one}


def test_the_digest_goes_out_once_a_day_at_local_time_and_only_with_news(world: World) -> None:
    world.reconfigure(schedule={"timezone": "Europe/Berlin", "digest_time": "08:00"})
    with time_machine.travel(START, tick=False):
        older = world.order()
    with time_machine.travel(START + timedelta(days=1), tick=False):
        newer = world.order()
        world.poll()
    nobody = Party(f"quiet.{world.bot.split('@')[0]}@supplier.test", world.supplier.imap_port, world.supplier.smtp_port)
    cli(world, "supplier", "set", nobody.address)  # a supplier with nothing open gets no digest
    with time_machine.travel(datetime(2026, 3, 28, 6, 59, tzinfo=UTC), tick=False):  # 07:59 in Berlin (CET)
        assert job(world, "digest") == 0
    with time_machine.travel(datetime(2026, 3, 28, 7, 1, tzinfo=UTC), tick=False):
        assert job(world, "digest") == 1
        assert job(world, "digest") == 0  # once a day: each run builds a fresh app; the record is in the database
    digest = world.supplier.wait_for("Your open orders with ACME GmbH: 2 waiting for you")
    assert digest.text.splitlines()[0] == f"Waiting for you: 2 new orders to answer with a bill ({older}, {newer})."
    lines = [line for line in digest.text.splitlines() if line.startswith("  - ")]
    assert [line.split()[1] for line in lines] == [older, newer]  # oldest first
    assert all(f"reply to {world.bot.split('@')[0]}+" in line for line in lines)
    with time_machine.travel(datetime(2026, 3, 29, 6, 1, tzinfo=UTC), tick=False):  # 08:01 CEST after the DST jump
        assert job(world, "digest") == 1
    assert nobody.inbox() == []


def test_reminders_come_once_per_period_and_stop_when_the_state_moves(world: World) -> None:
    world.reconfigure(schedule={"remind_unprocessed_after_days": 3, "remind_approval_after_days": 2,
                                "escalate_approval_after_days": 5, "escalation_address": "lead@example.test",
                                "remind_invoice_after_days": 14})
    with time_machine.travel(START, tick=False):
        ref = world.order()
        world.poll()
    for days, expected in ((2, 0), (3, 1), (4, 0), (6, 1)):
        with time_machine.travel(START + timedelta(days=days), tick=False):
            assert job(world, "reminders") == expected, days
    assert len([m for m in world.supplier.inbox() if "your bill is awaited" in m.subject]) == 2
    with time_machine.travel(START + timedelta(days=6, hours=1), tick=False):
        submit(world, ref)
        request = world.buyer.wait_for("Bill rev 1 for approval")
    with time_machine.travel(START + timedelta(days=9), tick=False):  # no more bill reminders; approval waits 2+ days
        assert job(world, "reminders") == 1
    assert "waits for your approval" in world.buyer.wait_for("Reminder: bill rev 1").subject
    with time_machine.travel(START + timedelta(days=11, hours=2), tick=False):  # 5 days: escalate, 2nd reminder
        assert job(world, "reminders") == 2
    lead = Party("lead@example.test", world.supplier.imap_port, world.supplier.smtp_port)
    assert "has waited for approval" in lead.wait_for(f"[{ref}] Escalation").text
    with time_machine.travel(START + timedelta(days=12), tick=False):
        world.buyer.reply(request, "APPROVE")
        world.poll()
    with time_machine.travel(START + timedelta(days=25), tick=False):
        assert job(world, "reminders") == 0
    with time_machine.travel(START + timedelta(days=26, hours=1), tick=False):
        assert job(world, "reminders") == 1
    assert "INVOICE" in world.supplier.wait_for("waiting for your invoice").text


def test_terms_decide_the_due_date_and_the_payment_run(world: World, tmp_path: Path) -> None:
    assert "2/10 net 30" in cli(world, "supplier", "set", world.supplier.address, "--terms", "2/10 Net 30")
    bad = CliRunner().invoke(main, ["--config", str(world.config_path), "supplier", "set", "x@y.test", "--terms", "soon"])
    assert bad.exit_code == 1 and "is not payment terms" in bad.output
    ref = world.order()
    world.poll()
    submit(world, ref)
    world.buyer.reply(world.buyer.wait_for("Bill rev 1 for approval"), "APPROVE")
    world.poll()
    from tests.test_delivery import deliver_and_receive

    deliver_and_receive(world, ref)  # the payment run pays what was received
    invoice = text_pdf(["Invoice No: 9001", "Invoice date: 2026-12-22", "Total: 280.84"])
    world.supplier.reply(world.supplier.wait_for("approved — please deliver"), "INVOICE",
                         attachments=(("9001.pdf", invoice),))
    world.poll()
    to_buyer = world.buyer.wait_for(f"[{ref}] Invoice received, due 2027-01-21")
    assert "Discount:       EUR 5.62 if paid by 2027-01-01" in to_buyer.text and "DIFFERS" not in to_buyer.subject
    assert "deduct the agreed discount of EUR 5.62" in world.supplier.wait_for("payment due 2027-01-21").text

    due = json.loads(cli(world, "payments", "due", "--until", "2027-01-31", "--json", "--xlsx", str(tmp_path / "run.xlsx")))
    assert due["totals"] == {"EUR": "280.84"}
    assert due["payments"][0] | {} == {**due["payments"][0], "ref": ref, "due": "2027-01-21",
                                       "discount_until": "2027-01-01", "discount_amount": "5.62"}
    assert json.loads(cli(world, "payments", "due", "--until", "2026-12-31", "--json"))["payments"] == []
    sheet = load_workbook(io.BytesIO((tmp_path / "run.xlsx").read_bytes()))["Payments due"]
    assert [c.value for c in sheet[1]][:6] == ["Supplier", "Order", "Invoice", "Invoice date", "Currency", "Amount"]
    assert (sheet["B2"].value, sheet["F2"].value, sheet["I2"].value) == (ref, 280.84, 275.22)
    assert (sheet["E3"].value, sheet["F3"].value) == ("Total EUR", 280.84)

    status = json.loads(cli(world, "status", "--json"))
    mine = next(s for s in status["suppliers"] if s["supplier"] == world.supplier.address)
    assert mine["invoiced_unpaid"] == 1 and mine["unprocessed"] == 0
    assert "paid" in cli(world, "payment", "record", ref, "--date", "2026-12-30")
    assert "Paid on: 2026-12-30" in world.supplier.wait_for(f"[{ref}] Payment of EUR 280.84 sent").text
    assert order_json(world, ref)["status"] == "paid"


def test_a_buyer_may_reply_paid_on_an_invoiced_order(world: World) -> None:
    ref = world.order()
    world.poll()
    submit(world, ref)
    world.buyer.reply(world.buyer.wait_for("Bill rev 1 for approval"), "PAID")  # too early
    world.poll()
    world.buyer.wait_for("only an invoiced order can be marked paid")
    request = world.buyer.wait_for("Bill rev 1 for approval")
    world.buyer.reply(request, "APPROVE")
    world.poll()
    world.supplier.reply(world.supplier.wait_for("approved — please deliver"), "INVOICE",
                         attachments=(("inv.pdf", text_pdf(["Total: 280.84"])),))
    world.poll()
    world.buyer.reply(world.buyer.wait_for("Invoice received"), "Paid, thanks")
    world.poll()
    assert order_json(world, ref)["status"] == "paid"
    assert world.supplier.wait_for("Payment of EUR 280.84 sent")
    assert json.loads(cli(world, "status", "--json"))["buyers"][0]["waiting_for_decision"] == 0
