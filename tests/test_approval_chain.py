"""Approval steps by amount and tolerance auto-approval, over the real servers."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import time_machine

from bot.app import utc_now
from bot.devmail.clients import LineEdit, Party
from bot.jobs import JOBS
from storage.db import session
from storage import queries
from tests.test_emails import buttons
from tests.conftest import World
from tests.mailworld import cli
from tests.test_round_trip import order_json, send_bill


def finance_of(world: World) -> Party:
    return Party(world.buyer.address.replace("buyer", "finance"), world.buyer.imap_port, world.buyer.smtp_port,
                 "Fiona Finance")


def with_finance_step(world: World, above: int = 200) -> Party:
    """Above `above` EUR net, finance approves after the order's buyers."""
    finance = finance_of(world)
    world.config_path.write_text(world.config_path.read_text() + f'\n[approval]\namount = "net"\n'
                                 f'[[approval.steps]]\nname = "finance"\napprovers = ["{finance.address}"]\n'
                                 f'above = {above}\n')
    world.reconfigure()
    return finance


def bill_at(world: World, price: float) -> str:
    """An order (net 236.00) answered with the bolts at `price` and SEND."""
    ref = world.order()
    world.poll()
    send_bill(world, ref, [LineEdit("BLT-M8", unit_price=price)], "SEND")
    return ref


def test_above_the_threshold_finance_is_asked_after_the_buyer_then_the_supplier_told(world: World) -> None:
    finance = with_finance_step(world)
    ref = bill_at(world, 0.14)  # net 246.00
    first = world.buyer.wait_for(f"[{ref}] Bill rev 1 for approval — EUR 292.74 (step 1 of 2: buyers)")
    assert "Approval step 1 of 2 (buyers)." in first.text
    assert finance.inbox() == []  # not asked before the buyers approved

    world.buyer.reply(first, "APPROVE ok for me")
    world.poll()
    second = finance.wait_for(f"[{ref}] Bill rev 1 for approval — EUR 292.74 (step 2 of 2: finance)")
    assert "Approval step 2 of 2 (finance): the net total is above EUR 200.00." in second.text
    recorded = world.buyer.wait_for(f"[{ref}] Recorded: bill rev 1 approved at step 1")
    assert "The next step's approvers have been asked." in recorded.text
    assert not [m for m in world.supplier.inbox() if "approved" in m.subject]
    assert order_json(world, ref)["status"] == "awaiting_approval"

    code, shown = cli(world, "status")
    assert code == 0 and "approver (later step)" in shown and f"{ref} (finance)" in shown
    buyers = json.loads(cli(world, "status", "--json")[1])["buyers"]
    assert [(b["buyer"], b["waiting_for_decision"]) for b in buyers] == [(world.buyer.address, 0)]  # finance's turn
    world.buyer.reply(first, "APPROVE again")  # the buyers' step is decided: answered, nothing applied
    world.buyer.reply(second, "APPROVE")  # a forwarded finance request: not the buyer's step
    world.poll()
    assert "approval step 1, which is decided" in world.buyer.wait_for("that approval step is already decided").text
    world.buyer.wait_for("this approval step is someone else's")

    finance.reply(second, "Approved.", "outlook")
    world.poll()
    world.supplier.wait_for(f"[{ref}] Bill rev 1 approved — please deliver")
    data = order_json(world, ref)
    assert data["status"] == "approved" and data["revisions"][0]["decided_by"] == finance.address
    steps = [(s["number"], s["name"], s["status"], s["decided_by"]) for s in data["revisions"][0]["steps"]]
    assert steps == [(1, "buyers", "approved", world.buyer.address), (2, "finance", "approved", finance.address)]
    assert [e["kind"] for e in data["events"] if e["kind"].startswith("step_")] == [
        "step_approved", "step_requested", "step_approved"]
    code, shown = cli(world, "order", "show", ref)
    assert code == 0 and "rev 1 approval steps:" in shown and f"finance  {finance.address}  approved" in shown


def test_a_rejection_at_step_two_ends_the_chain_and_reaches_the_supplier(world: World) -> None:
    finance = with_finance_step(world)
    ref = bill_at(world, 0.14)
    world.buyer.reply(world.buyer.wait_for("(step 1 of 2: buyers)"), "APPROVE")
    world.poll()
    finance.reply(finance.wait_for("(step 2 of 2: finance)"), "REJECT over the budget of cost centre 100")
    world.poll()
    rejected = world.supplier.wait_for(f"[{ref}] Bill rev 1 rejected — please correct")
    assert "over the budget of cost centre 100" in rejected.text
    data = order_json(world, ref)
    assert data["status"] == "rejected"
    assert [s["status"] for s in data["revisions"][0]["steps"]] == ["approved", "rejected"]


def test_below_the_threshold_the_buyers_alone_decide(world: World) -> None:
    finance = with_finance_step(world, above=300)
    ref = bill_at(world, 0.14)
    request = world.buyer.wait_for(f"[{ref}] Bill rev 1 for approval — EUR 292.74")
    assert "step" not in request.subject
    world.buyer.reply(request, "APPROVE")
    world.poll()
    world.supplier.wait_for(f"[{ref}] Bill rev 1 approved — please deliver")
    assert finance.inbox() == []


def with_tolerance(world: World, price_up: int, window_hours: int = 24) -> None:
    world.reconfigure(tolerance={"suppliers": ["*"], "price_up_percent": price_up, "total_up_percent": 5,
                                 "window_hours": window_hours})


def test_within_tolerance_the_buyer_is_told_and_the_supplier_after_the_window(world: World) -> None:
    with_tolerance(world, price_up=17)
    ref = bill_at(world, 0.14)  # +16.7 %
    notice = world.buyer.wait_for(f"[{ref}] Bill rev 1 approved within tolerance — EUR 292.74 (REJECT to stop it)")
    assert "BLT-M8: unit price 0.12 → 0.14 (+16.7 %, within the 17 % allowed)" in notice.text
    assert "The supplier will be told to deliver at" in notice.text and "<table" in notice.html
    assert buttons(notice.html)["Reject…"][2] == "REJECT\r\nreason: "
    assert "total 280.84 → 292.74 (+4.2 %, within the 5 % allowed)" in notice.text
    assert cli(world, "jobs", "run", "approvals")[0] == 0
    world.poll()
    assert not [m for m in world.supplier.inbox() if "approved" in m.subject]  # the window is still open

    later = utc_now() + timedelta(hours=25)
    world.reconfigure(clock=lambda: later)
    assert JOBS["approvals"](world.app) == 1
    world.poll()  # sends the outbox
    world.supplier.wait_for(f"[{ref}] Bill rev 1 approved — please deliver")
    data = order_json(world, ref)
    assert data["status"] == "approved" and data["revisions"][0]["decided_by"] == "supplierbot (within tolerance)"
    assert "auto_approval" in [e["kind"] for e in data["events"]]


def test_a_buyer_can_still_reject_within_the_window(world: World) -> None:
    with_tolerance(world, price_up=17)
    ref = bill_at(world, 0.14)
    world.buyer.reply(world.buyer.wait_for("approved within tolerance"), "REJECT we agreed fixed prices")
    world.poll()
    world.supplier.wait_for(f"[{ref}] Bill rev 1 rejected — please correct")
    later = utc_now() + timedelta(hours=25)
    world.reconfigure(clock=lambda: later)
    assert JOBS["approvals"](world.app) == 0
    assert order_json(world, ref)["status"] == "rejected"


def test_just_outside_tolerance_waits_for_the_buyer(world: World) -> None:
    with_tolerance(world, price_up=16)
    ref = bill_at(world, 0.14)  # +16.7 %
    world.buyer.wait_for(f"[{ref}] Bill rev 1 for approval — EUR 292.74")
    assert not [m for m in world.buyer.inbox() if "within tolerance" in m.subject]
    with session(world.app.engine) as s:
        details = [e.detail for e in queries.events_of(s, queries.order_by_ref(s, ref).id) if e.kind == "tolerance"]
    assert details == ["rev 1 outside tolerance: BLT-M8: unit price 0.12 → 0.14 (+16.7 %, more than the 16 % allowed)"]


START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def test_an_out_of_office_decides_nothing_and_the_step_reminder_goes_to_the_delegate(world: World) -> None:
    world.reconfigure(schedule={"remind_approval_after_days": 2, "escalate_approval_after_days": 0})
    deputy = Party(world.buyer.address.replace("buyer", "deputy"), world.buyer.imap_port, world.buyer.smtp_port)
    with time_machine.travel(START, tick=False):
        ref = bill_at(world, 0.14)
        request = world.buyer.wait_for(f"[{ref}] Bill rev 1 for approval")
        assert cli(world, "buyer", "delegate", world.buyer.address, deputy.address)[0] == 0
        out_of_office = world.buyer.reply_message(request, "Approved\nI am out of the office until 9 March.")
        out_of_office["Auto-Submitted"] = "auto-replied"
        world.buyer.send(out_of_office)
        world.poll()
    assert order_json(world, ref)["status"] == "awaiting_approval"  # an auto-reply is never a decision
    with session(world.app.engine) as s:
        assert queries.buyer_for(s, world.buyer.address).away_since is not None

    with time_machine.travel(START + timedelta(days=2, hours=1), tick=False):
        assert JOBS["reminders"](world.app) == 1
        world.poll()  # sends what the job queued
    reminder = deputy.wait_for(f"[{ref}] Reminder: bill rev 1 waits for your approval")
    assert not [m for m in world.buyer.inbox() if "Reminder" in m.subject]
    deputy.reply(reminder, "APPROVE for Anna")
    world.poll()
    assert order_json(world, ref)["revisions"][0]["decided_by"] == deputy.address

    world.buyer.reply(request, "Back now, thanks")  # a mail of their own: no longer away
    world.poll()
    with session(world.app.engine) as s:
        assert queries.buyer_for(s, world.buyer.address).away_since is None


def test_reminders_go_to_the_step_now_asked(world: World) -> None:
    finance = with_finance_step(world)
    world.reconfigure(schedule={"remind_approval_after_days": 2, "escalate_approval_after_days": 0})
    with time_machine.travel(START, tick=False):
        ref = bill_at(world, 0.14)
    with time_machine.travel(START + timedelta(days=1), tick=False):
        world.buyer.reply(world.buyer.wait_for("(step 1 of 2: buyers)"), "APPROVE")
        world.poll()
    with time_machine.travel(START + timedelta(days=2, hours=1), tick=False):
        assert JOBS["reminders"](world.app) == 0  # finance was asked a day ago
    with time_machine.travel(START + timedelta(days=3, hours=1), tick=False):
        assert JOBS["reminders"](world.app) == 1
        world.poll()
    reminder = finance.wait_for(f"[{ref}] Reminder: bill rev 1 waits for your approval")
    assert not [m for m in world.buyer.inbox() if "Reminder" in m.subject]
    finance.reply(reminder, "APPROVE")  # the reminder's address is bound to the step too
    world.poll()
    world.supplier.wait_for(f"[{ref}] Bill rev 1 approved — please deliver")


def test_within_tolerance_above_a_threshold_finance_still_decides(world: World) -> None:
    finance = with_finance_step(world)
    with_tolerance(world, price_up=17)
    ref = bill_at(world, 0.14)  # within tolerance, but net 246.00 is above finance's 200
    request = finance.wait_for(f"[{ref}] Bill rev 1 for approval — EUR 292.74 (step 2 of 2: finance)")
    recorded = world.buyer.wait_for(f"[{ref}] Recorded: bill rev 1 approved at step 1")
    assert "by supplierbot (within tolerance)" in recorded.text and "+16.7 %, within the 17 % allowed" in recorded.text
    assert not [m for m in world.buyer.inbox() if "for approval" in m.subject]  # the buyers' step needed nobody
    finance.reply(request, "APPROVE")
    world.poll()
    world.supplier.wait_for(f"[{ref}] Bill rev 1 approved — please deliver")
    steps = order_json(world, ref)["revisions"][0]["steps"]
    assert [(s["status"], s["decided_by"]) for s in steps] == [("approved", "supplierbot (within tolerance)"),
                                                                ("approved", finance.address)]


def test_finance_decides_its_step_and_nothing_else(world: World) -> None:
    """A later step's approver is not a buyer: CANCEL and a comment are answered, not applied and
    not relayed to the supplier."""
    finance = with_finance_step(world)
    ref = bill_at(world, 0.14)
    world.buyer.reply(world.buyer.wait_for("(step 1 of 2: buyers)"), "APPROVE")
    world.poll()
    request = finance.wait_for("(step 2 of 2: finance)")
    finance.reply(request, "CANCEL we buy elsewhere")
    finance.reply(request, "Could you ship it by Friday?")
    world.poll()
    answers = [m for m in finance.inbox() if "only approve or reject that step" in m.text]
    assert len(answers) == 2 and "CANCEL was not applied" in "".join(m.text for m in answers)
    assert not [m for m in world.supplier.inbox() if "Friday" in m.text or "cancel" in m.subject.lower()]
    assert order_json(world, ref)["status"] == "awaiting_approval"
    finance.reply(request, "APPROVE")
    world.poll()
    world.supplier.wait_for(f"[{ref}] Bill rev 1 approved — please deliver")


def test_after_a_rejection_a_bill_within_tolerance_still_waits_for_a_decision(world: World) -> None:
    """A buyer rejected the auto-approved rev 1 in its window: the same lines again as rev 2 must
    not be approved by the bot, or the REJECT would be undone without anyone's decision."""
    with_tolerance(world, price_up=17)
    ref = bill_at(world, 0.14)
    world.buyer.reply(world.buyer.wait_for("approved within tolerance"), "REJECT we agreed fixed prices")
    world.poll()
    rejected = world.supplier.wait_for(f"[{ref}] Bill rev 1 rejected — please correct")
    send_bill(world, ref, [LineEdit("BLT-M8", unit_price=0.14)], "SEND", to=rejected)
    request = world.buyer.wait_for(f"[{ref}] Bill rev 2 for approval")
    assert "revision 1 of this order was rejected" in request.text
    assert len([m for m in world.buyer.inbox() if "within tolerance" in m.subject]) == 1
    with session(world.app.engine) as s:
        details = [e.detail for e in queries.events_of(s, queries.order_by_ref(s, ref).id) if e.kind == "tolerance"]
    assert details == [f"rev 2 not approved by tolerance: rev 1 was rejected by {world.buyer.address}: "
                       "a bill after a rejection waits for a decision"]
    later = utc_now() + timedelta(hours=25)
    world.reconfigure(clock=lambda: later)
    assert JOBS["approvals"](world.app) == 0
    assert order_json(world, ref)["status"] == "awaiting_approval"


def test_the_buyers_can_reject_the_step_tolerance_approved_until_finance_decides(world: World) -> None:
    finance = with_finance_step(world)
    with_tolerance(world, price_up=17)
    ref = bill_at(world, 0.14)
    request = finance.wait_for(f"[{ref}] Bill rev 1 for approval — EUR 292.74 (step 2 of 2: finance)")
    recorded = world.buyer.wait_for(f"[{ref}] Recorded: bill rev 1 approved at step 1")
    assert "you can still stop it" in recorded.text and "Reject…" in buttons(recorded.html)
    world.buyer.reply(recorded, "APPROVE")  # their step is not theirs to approve again
    world.buyer.reply(recorded, "REJECT we agreed fixed prices")
    world.poll()
    rejected = world.supplier.wait_for(f"[{ref}] Bill rev 1 rejected — please correct")
    assert "we agreed fixed prices" in rejected.text
    finance.reply(request, "APPROVE")  # the chain ended: answered, nothing applied
    world.poll()
    finance.wait_for("already decided")
    data = order_json(world, ref)
    assert data["status"] == "rejected" and data["revisions"][0]["decided_by"] == world.buyer.address
    steps = [(s["status"], s["decided_by"]) for s in data["revisions"][0]["steps"]]
    assert steps == [("rejected", world.buyer.address), ("closed", "")]


def test_once_finance_decided_the_buyers_can_no_longer_reject_the_tolerance_step(world: World) -> None:
    finance = with_finance_step(world)
    with_tolerance(world, price_up=17)
    ref = bill_at(world, 0.14)
    recorded = world.buyer.wait_for(f"[{ref}] Recorded: bill rev 1 approved at step 1")
    finance.reply(finance.wait_for("(step 2 of 2: finance)"), "APPROVE")
    world.poll()
    world.supplier.wait_for(f"[{ref}] Bill rev 1 approved — please deliver")
    world.buyer.reply(recorded, "REJECT too late")
    world.poll()
    world.buyer.wait_for("already decided")
    assert order_json(world, ref)["status"] == "approved"
