"""bot.workflow: the decision table, without a database or a mail server."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from bot import errors
from bot.approval import StepView
from bot.workflow import (
    Approve, CancelOrder, SendOrder, CreateDraft, OrderView, Refuse, Reject, RelayComment, Reply, RevisionView, Role, Submit, decide,
    order_status_after,
)
from parsers.records import BillSheet, Line
from parsers.reply import parse_command
from storage.models import OrderStatus, RevisionStatus as RS

SHEET = BillSheet("PO-1", (Line("A", "a", D(1), "pcs", D(1), D(0)),), "Bill")


def order(status: OrderStatus = OrderStatus.NEW, *revisions: RevisionView) -> OrderView:
    return OrderView(1, "PO-1", status, revisions)


def reply(role: Role, text: str = "", sheet: BillSheet | None = None, bound: int | None = None) -> Reply:
    return Reply(role, parse_command(text), sheet, "bill.xlsx", None, bound)


DRAFT = RevisionView(11, 1, RS.DRAFT)
PENDING = RevisionView(12, 1, RS.SUBMITTED)
AWAITING = order(OrderStatus.AWAITING_APPROVAL, PENDING)


def test_a_sheet_makes_a_draft_and_send_with_it_submits() -> None:
    assert decide(order(), reply(Role.SUPPLIER, "", SHEET)) == CreateDraft(SHEET.lines, None, False)
    assert decide(order(), reply(Role.SUPPLIER, "SEND", SHEET)) == CreateDraft(SHEET.lines, None, True)
    with_pending = decide(AWAITING, reply(Role.SUPPLIER, "SEND", SHEET))
    assert (with_pending.submit, with_pending.supersedes_id) == (True, 12)


def test_a_new_sheet_replaces_the_existing_draft() -> None:
    assert decide(order(OrderStatus.NEW, DRAFT), reply(Role.SUPPLIER, "", SHEET)).replaces_id == 11


def test_send_submits_the_draft_and_supersedes_an_undecided_revision() -> None:
    assert decide(order(OrderStatus.NEW, DRAFT), reply(Role.SUPPLIER, "send")) == Submit(11, None)
    draft2 = RevisionView(13, 2, RS.DRAFT)
    assert decide(order(OrderStatus.AWAITING_APPROVAL, PENDING, draft2), reply(Role.SUPPLIER, "SEND")) == Submit(13, 12)


def test_send_without_a_draft_is_explained() -> None:
    assert decide(order(), reply(Role.SUPPLIER, "SEND")) == Refuse(errors.NothingToSend(None))
    assert decide(AWAITING, reply(Role.SUPPLIER, "SEND")) == Refuse(errors.NothingToSend(1))


def test_the_buyer_decides_only_the_bound_pending_revision() -> None:
    assert decide(AWAITING, reply(Role.BUYER, "Approve. ok", bound=12)) == Approve(12, "ok")
    assert decide(AWAITING, reply(Role.BUYER, "REJECT too dear", bound=12)) == Reject(12, "too dear")
    assert decide(AWAITING, reply(Role.BUYER, "REJECT", bound=12)) == Refuse(errors.RejectNeedsReason())
    assert decide(AWAITING, reply(Role.BUYER, "APPROVE")) == Refuse(errors.DecisionNeedsRequest())


def test_a_stale_or_decided_revision_is_answered_not_decided() -> None:
    superseded = RevisionView(12, 1, RS.SUPERSEDED)
    current = RevisionView(13, 2, RS.SUBMITTED)
    stale = decide(order(OrderStatus.AWAITING_APPROVAL, superseded, current), reply(Role.BUYER, "APPROVE", bound=12))
    assert stale == Refuse(errors.StaleRevision(1, 2))
    decided = order(OrderStatus.APPROVED, RevisionView(12, 1, RS.APPROVED, "b@x.test"))
    assert decide(decided, reply(Role.BUYER, "APPROVE", bound=12)) == Refuse(errors.AlreadyDecided(1, "approved", "b@x.test"))


@pytest.mark.parametrize("role, text, sheet, error", [
    (Role.STRANGER, "APPROVE", None, errors.NotAParty()),
    (Role.SUPPLIER, "APPROVE", None, errors.OnlyBuyersDecide()),
    (Role.BUYER, "SEND", None, errors.OnlySupplierBills()),
    (Role.BUYER, "", SHEET, errors.OnlySupplierBills()),
    (Role.SUPPLIER, "", None, errors.EmptyReply()),
    (Role.SUPPLIER, "INVOICE", None, errors.InvoiceBeforeApproval("awaiting_approval")),
    (Role.SUPPLIER, "PAID", None, errors.OnlyBuyersDecide()),
    (Role.BUYER, "PAID", None, errors.PaymentNotDue("awaiting_approval")),
    (Role.BUYER, "INVOICE", None, errors.OnlySupplierBills()),
])
def test_who_may_do_what(role: Role, text: str, sheet: BillSheet | None, error: errors.UserError) -> None:
    assert decide(AWAITING, reply(role, text, sheet, bound=12)) == Refuse(error)


def test_closed_orders_take_no_more_bills() -> None:
    approved = order(OrderStatus.APPROVED, RevisionView(12, 1, RS.APPROVED))
    assert decide(approved, reply(Role.SUPPLIER, "", SHEET)) == Refuse(errors.OrderClosed("approved"))
    cancelled = order(OrderStatus.CANCELLED)
    assert decide(cancelled, reply(Role.SUPPLIER, "", SHEET)) == Refuse(errors.OrderClosed("cancelled"))
    assert decide(cancelled, reply(Role.BUYER, "APPROVE")) == Refuse(errors.OrderClosed("cancelled"))
    assert decide(cancelled, reply(Role.BUYER, "hi")) == RelayComment("hi", Role.SUPPLIER)  # words still pass


def test_a_sheet_for_another_order_is_refused() -> None:
    other = BillSheet("PO-2", SHEET.lines, "Bill")
    assert decide(order(), reply(Role.SUPPLIER, "", other)) == Refuse(errors.SheetForOtherOrder("bill.xlsx", "PO-2"))


def test_text_is_relayed_to_the_other_party() -> None:
    assert decide(order(), reply(Role.SUPPLIER, "When?")) == RelayComment("When?", Role.BUYER)
    assert decide(AWAITING, reply(Role.BUYER, "Tomorrow")) == RelayComment("Tomorrow", Role.SUPPLIER)


def test_the_order_state_machine() -> None:
    assert order_status_after(Submit(1, None), OrderStatus.REJECTED) is OrderStatus.AWAITING_APPROVAL
    assert order_status_after(CreateDraft((), None, False), OrderStatus.NEW) is OrderStatus.NEW
    assert order_status_after(Approve(1, ""), OrderStatus.AWAITING_APPROVAL) is OrderStatus.APPROVED
    assert order_status_after(Reject(1, "x"), OrderStatus.AWAITING_APPROVAL) is OrderStatus.REJECTED


FINANCE = StepView(2, "finance", frozenset({"fin@x.test"}), 2)


def step_reply(text: str, sender: str, bound_step: int | None) -> Reply:
    return Reply(Role.BUYER, parse_command(text), bound_revision_id=12, sender=sender, step=FINANCE,
                 bound_step=bound_step)


def test_a_step_is_decided_by_its_approvers_answering_its_own_request() -> None:
    assert decide(AWAITING, step_reply("APPROVE", "fin@x.test", 2)) == Approve(12, "", step=2)
    assert decide(AWAITING, step_reply("REJECT budget", "fin@x.test", None)) == Reject(12, "budget", step=2)
    assert decide(AWAITING, step_reply("APPROVE", "fin@x.test", 1)) == Refuse(errors.StaleStep(1, 2, "finance"))
    assert decide(AWAITING, step_reply("APPROVE", "anna@x.test", 2)) == Refuse(errors.NotYourStep(2, "finance"))


def test_a_buyers_draft_order_is_sent_or_cancelled_by_the_buyer_and_unknown_to_the_supplier() -> None:
    draft = order(OrderStatus.DRAFT)
    assert decide(draft, Reply(Role.BUYER, parse_command("SEND"), in_thread=True)) == SendOrder()
    # a new email naming the order by its subject tag, From a buyer (easily forged), sends nothing
    assert decide(draft, reply(Role.BUYER, "SEND")) == Refuse(errors.CancelNeedsReply(command="SEND"))
    assert decide(draft, Reply(Role.BUYER, parse_command("CANCEL wrong supplier"), in_thread=True)) == CancelOrder(
        "wrong supplier")
    assert decide(draft, reply(Role.BUYER, "APPROVE", bound=12)) == Refuse(errors.OrderNotSent())
    assert decide(draft, reply(Role.SUPPLIER, "SEND")) == Refuse(errors.UnknownOrder())
    assert order_status_after(SendOrder(), OrderStatus.DRAFT) is OrderStatus.NEW


def approver(text: str, bound_step: int | None = 2, step: StepView | None = FINANCE) -> Reply:
    return Reply(Role.APPROVER, parse_command(text), bound_revision_id=12, sender="fin@x.test", step=step,
                 bound_step=bound_step, in_thread=True)


def test_a_later_steps_approver_decides_only_the_step_asked_of_them_in_its_own_request() -> None:
    assert decide(AWAITING, approver("APPROVE")) == Approve(12, "", step=2)
    assert decide(AWAITING, approver("REJECT over budget")) == Reject(12, "over budget", step=2)
    assert decide(AWAITING, approver("APPROVE", None)) == Refuse(errors.DecisionNeedsRequest())
    assert decide(AWAITING, approver("APPROVE", 1)) == Refuse(errors.StaleStep(1, 2, "finance"))
    cfo = StepView(3, "CFO", frozenset({"cfo@x.test"}), 3)
    assert decide(AWAITING, approver("APPROVE", 3, cfo)) == Refuse(errors.NotYourStep(3, "CFO"))
    # no step asked (a tolerance window, a bill below their threshold): nothing of theirs to decide
    assert decide(AWAITING, approver("APPROVE", None, None)) == Refuse(errors.OnlyStepDecisions("APPROVE"))


def test_a_later_steps_approvers_other_commands_and_comments_are_answered_not_applied_or_relayed() -> None:
    invoiced = order(OrderStatus.INVOICED, RevisionView(12, 1, RS.INVOICED))
    delivered = order(OrderStatus.DELIVERED, RevisionView(12, 1, RS.APPROVED))
    for state, text in ((AWAITING, "CANCEL too dear"), (invoiced, "PAID"), (delivered, "RECEIVED"),
                        (delivered, "SHORT 2 boxes")):
        assert decide(state, approver(text)) == Refuse(errors.OnlyStepDecisions(text.split()[0]))
    assert decide(AWAITING, approver("Can you ship faster?")) == Refuse(errors.OnlyStepDecisions(""))
    cancelled = order(OrderStatus.CANCELLED, PENDING)
    assert decide(cancelled, approver("We had shipped already")) == Refuse(errors.OnlyStepDecisions(""))


def test_the_buyers_may_reject_the_step_tolerance_approved_while_the_next_one_waits() -> None:
    after_tolerance = StepView(2, "finance", frozenset({"fin@x.test"}), 2, frozenset({"anna@x.test"}))

    def buyer(text: str, sender: str = "anna@x.test", bound_step: int | None = 1) -> Reply:
        return Reply(Role.BUYER, parse_command(text), bound_revision_id=12, sender=sender, step=after_tolerance,
                     bound_step=bound_step)

    assert decide(AWAITING, buyer("REJECT fixed prices")) == Reject(12, "fixed prices", step=1)
    assert decide(AWAITING, buyer("APPROVE")) == Refuse(errors.StaleStep(1, 2, "finance"))
    assert decide(AWAITING, buyer("REJECT x", "bob@x.test")) == Refuse(errors.StaleStep(1, 2, "finance"))
    assert decide(AWAITING, step_reply("REJECT x", "anna@x.test", 1)) == Refuse(errors.StaleStep(1, 2, "finance"))


def test_an_approval_with_a_condition_decides_nothing_and_says_why() -> None:
    """Approving would drop the condition: the supplier would be told to deliver without it."""
    decision = decide(AWAITING, reply(Role.BUYER, "Approve only if the price is 0.12", bound=12))
    assert decision == Refuse(errors.ConditionalApproval(condition="only if the price is 0.12"))
    assert decide(AWAITING, reply(Role.BUYER, "Approved. If you have questions, call me", bound=12)) == Approve(
        12, "If you have questions, call me")
