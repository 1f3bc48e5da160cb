"""What an inbound reply means for an order: a pure decision over plain snapshots.

The decision is read like a table: who sent it (role), what it carries (a sheet,
a command, text), and where the order stands. Applying it is someone else's job.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot import errors
from bot.approval import StepView
from parsers.intake import BillFromDocuments
from parsers.records import BillSheet, Line
from parsers.reply import Command, CommandKind, approval_condition
from storage.models import OrderStatus, RevisionStatus

CLOSED = (OrderStatus.APPROVED, OrderStatus.PARTLY_DELIVERED, OrderStatus.DELIVERED, OrderStatus.RECEIVED,
          OrderStatus.INVOICED, OrderStatus.PAID, OrderStatus.CANCELLED)  # no more bills
DELIVERING = (OrderStatus.APPROVED, OrderStatus.PARTLY_DELIVERED, OrderStatus.INVOICED)  # DELIVERED is expected
AFTER_DELIVERY = (OrderStatus.PARTLY_DELIVERED, OrderStatus.DELIVERED, OrderStatus.RECEIVED)
INVOICEABLE = (OrderStatus.APPROVED, *AFTER_DELIVERY)


class Role(str, Enum):
    SUPPLIER = "supplier"
    BUYER = "buyer"
    APPROVER = "approver"  # a later step's (finance, the CFO, their delegates): decides that step only
    STRANGER = "stranger"


@dataclass(frozen=True)
class RevisionView:
    id: int
    number: int
    status: RevisionStatus
    decided_by: str = ""


@dataclass(frozen=True)
class OrderView:
    id: int
    ref: str
    status: OrderStatus
    revisions: tuple[RevisionView, ...]

    @property
    def draft(self) -> RevisionView | None:
        return next((r for r in self.revisions if r.status is RevisionStatus.DRAFT), None)

    @property
    def approved(self) -> RevisionView | None:
        return next((r for r in self.revisions if r.status is RevisionStatus.APPROVED), None)

    @property
    def pending(self) -> RevisionView | None:
        """The submitted revision waiting for a decision."""
        return next((r for r in self.revisions if r.status is RevisionStatus.SUBMITTED), None)

    def revision(self, revision_id: int) -> RevisionView | None:
        return next((r for r in self.revisions if r.id == revision_id), None)


@dataclass(frozen=True)
class Reply:
    """What the decision needs to know about one inbound message."""

    role: Role
    command: Command
    sheet: BillSheet | None = None
    sheet_filename: str = ""
    sheet_error: errors.UserError | None = None
    bound_revision_id: int | None = None  # from the approval request's token or thread
    documents: int = 0  # accepted scans/PDFs attached (the sheet not counted)
    attachment_error: errors.UserError | None = None
    bill: BillFromDocuments | None = None  # read from the supplier's own spreadsheet, CSV, PDF or scan
    in_thread: bool = False  # found by a reply token or by the thread, not by the subject tag alone
    counted: dict | None = None  # DELIVERED/RECEIVED: quantities from an attached delivery note or sheet
    sender: str = ""
    step: StepView | None = None  # the pending revision's step now asked (None: no chain)
    bound_step: int | None = None  # the step whose request's token this answers

    @property
    def note(self) -> str:
        """The text besides the command: with a sheet or scans, a comment shown with them."""
        lines = self.command.text.strip().split("\n")
        if self.command.kind is CommandKind.NONE:
            return self.command.text.strip()
        return "\n".join([self.command.argument, *lines[1:]]).strip()


# --- decisions: a small closed set -------------------------------------------------------

@dataclass(frozen=True)
class Refuse:
    error: errors.UserError


@dataclass(frozen=True)
class CreateDraft:
    lines: tuple[Line, ...]
    replaces_id: int | None  # the draft this one replaces
    submit: bool  # SEND came with the sheet
    note: str = ""
    supersedes_id: int | None = None  # with SEND: a submitted revision nobody decided yet
    source: BillFromDocuments | None = None  # where each line came from, when not from our sheet
    send_held: bool = False  # SEND came, but a bill that does not fully add up waits as a draft


@dataclass(frozen=True)
class Submit:
    revision_id: int
    supersedes_id: int | None  # a submitted revision nobody decided yet


@dataclass(frozen=True)
class Approve:
    revision_id: int
    note: str
    step: int | None = None  # the approval step it decides (None: no chain)


@dataclass(frozen=True)
class Reject:
    revision_id: int
    reason: str
    step: int | None = None


@dataclass(frozen=True)
class RelayComment:
    text: str
    to: Role


@dataclass(frozen=True)
class AttachDocuments:
    """Scans for the current draft (or the next one), with the sender's note if any."""

    note: str


@dataclass(frozen=True)
class RecordInvoice:
    revision_id: int  # the approved revision the invoice is for
    note: str


@dataclass(frozen=True)
class RecordPayment:
    note: str


@dataclass(frozen=True)
class CancelOrder:
    reason: str


@dataclass(frozen=True)
class SendOrder:
    """A buyer's SEND to their draft order: the supplier gets it now."""


@dataclass(frozen=True)
class RecordDelivery:
    """What the supplier shipped: quantities from a document, from lines in the text, or all that is open."""

    note: str


@dataclass(frozen=True)
class RecordReceipt:
    note: str


@dataclass(frozen=True)
class OpenClaim:
    kind: str  # short | damaged
    text: str


Decision = (Refuse | CreateDraft | Submit | Approve | Reject | RelayComment | AttachDocuments | RecordInvoice
            | RecordPayment | CancelOrder | RecordDelivery | RecordReceipt | OpenClaim | SendOrder)


def decide(order: OrderView, reply: Reply) -> Decision:
    if reply.role is Role.STRANGER:
        return Refuse(errors.NotAParty())
    if reply.role is Role.APPROVER:
        return _approver(order, reply)
    if order.status is OrderStatus.CANCELLED:
        if _plain_text(reply):  # "we had already shipped": still worth a word between the two sides
            return _comment(reply, Role.BUYER if reply.role is Role.SUPPLIER else Role.SUPPLIER)
        return Refuse(errors.OrderClosed(status=order.status.value))
    if order.status is OrderStatus.DRAFT:
        return _draft_order(order, reply)
    if reply.role is Role.SUPPLIER:
        return _supplier(order, reply)
    return _buyer(order, reply)


def _draft_order(order: OrderView, reply: Reply) -> Decision:
    """A buyer's order before their SEND: the supplier knows nothing of it yet."""
    if reply.role is Role.SUPPLIER:
        return Refuse(errors.UnknownOrder())
    if reply.command.kind is CommandKind.SEND:
        if not reply.in_thread:  # the echo went to the buyer's real mailbox: answering it is the proof
            return Refuse(errors.CancelNeedsReply(command="SEND"))
        return SendOrder()
    if reply.command.kind is CommandKind.CANCEL:
        return _cancel(order, reply)
    return Refuse(errors.OrderNotSent())


def _supplier(order: OrderView, reply: Reply) -> Decision:
    kind = reply.command.kind
    for error in (reply.attachment_error, reply.sheet_error):
        if error is not None:
            return Refuse(error)
    if kind is CommandKind.INVOICE:
        return _invoice(order, reply)
    if kind is CommandKind.DELIVERED:
        if order.status not in DELIVERING:
            return Refuse(errors.DeliveryNotExpected(status=order.status.value))
        return RecordDelivery(note=reply.note)
    if reply.sheet is not None:
        return _new_sheet(order, reply)
    if reply.bill is not None:
        return _new_bill(order, reply)
    if kind is CommandKind.SEND:
        return _send(order)
    if kind in (CommandKind.APPROVE, CommandKind.REJECT, CommandKind.PAID, CommandKind.CANCEL, CommandKind.RECEIVED,
                CommandKind.SHORT, CommandKind.DAMAGED):
        return Refuse(errors.OnlyBuyersDecide())
    if reply.documents:
        return _documents(order, reply)
    return _comment(reply, Role.BUYER)


def _invoice(order: OrderView, reply: Reply) -> Decision:
    if order.status in (OrderStatus.INVOICED, OrderStatus.PAID):
        return Refuse(errors.AlreadyInvoiced())
    approved = order.approved
    if order.status not in INVOICEABLE or approved is None:
        return Refuse(errors.InvoiceBeforeApproval(status=order.status.value))
    if not reply.documents:
        return Refuse(errors.InvoiceNeedsDocument())
    return RecordInvoice(revision_id=approved.id, note=reply.note)


def _documents(order: OrderView, reply: Reply) -> Decision:
    if order.status in CLOSED:
        return Refuse(errors.OrderClosed(status=order.status.value))
    return AttachDocuments(note=reply.note)


def _new_sheet(order: OrderView, reply: Reply) -> Decision:
    assert reply.sheet is not None
    if reply.sheet.order_ref and reply.sheet.order_ref != order.ref:
        return Refuse(errors.SheetForOtherOrder(filename=reply.sheet_filename, sheet_ref=reply.sheet.order_ref))
    if order.status in CLOSED:
        return Refuse(errors.OrderClosed(status=order.status.value))
    draft, pending = order.draft, order.pending
    submit = reply.command.kind is CommandKind.SEND
    return CreateDraft(
        lines=reply.sheet.lines,
        replaces_id=draft.id if draft else None,
        submit=submit,
        note=reply.note,
        supersedes_id=pending.id if submit and pending else None,
    )


def _new_bill(order: OrderView, reply: Reply) -> Decision:
    """A bill read from the supplier's own document: SEND submits it at once only when every
    line and the document's totals add up; otherwise it waits as a draft for the supplier's look."""
    bill = reply.bill
    assert bill is not None
    if bill.order_ref and bill.order_ref != order.ref:
        return Refuse(errors.SheetForOtherOrder(filename=reply.sheet_filename, sheet_ref=bill.order_ref))
    if order.status in CLOSED:
        return Refuse(errors.OrderClosed(status=order.status.value))
    if not bill.lines:
        return Refuse(errors.BillLinesUnreadable(filename=reply.sheet_filename, remarks=bill.remarks))
    draft, pending = order.draft, order.pending
    send = reply.command.kind is CommandKind.SEND
    submit = send and bill.reconciled
    return CreateDraft(lines=bill.lines, replaces_id=draft.id if draft else None, submit=submit, note=reply.note,
                       supersedes_id=pending.id if submit and pending else None, source=bill,
                       send_held=send and not submit)


def _send(order: OrderView) -> Decision:
    if order.status in CLOSED:
        return Refuse(errors.OrderClosed(status=order.status.value))
    draft = order.draft
    if draft is None:
        pending = order.pending
        return Refuse(errors.NothingToSend(pending_number=pending.number if pending else None))
    pending = order.pending
    return Submit(revision_id=draft.id, supersedes_id=pending.id if pending else None)


def _buyer(order: OrderView, reply: Reply) -> Decision:
    kind = reply.command.kind
    if kind in (CommandKind.RECEIVED, CommandKind.SHORT, CommandKind.DAMAGED):
        return _receiving(order, reply)  # a delivery note may come with it
    if (reply.sheet is not None or reply.bill is not None or reply.sheet_error is not None
            or kind in (CommandKind.SEND, CommandKind.INVOICE)):
        return Refuse(errors.OnlySupplierBills())
    if kind in (CommandKind.APPROVE, CommandKind.REJECT):
        return _decision(order, reply)
    if kind is CommandKind.PAID:
        if order.status is not OrderStatus.INVOICED:
            return Refuse(errors.PaymentNotDue(status=order.status.value))
        return RecordPayment(note=reply.command.argument)
    if kind is CommandKind.CANCEL:
        return _cancel(order, reply)
    if kind in (CommandKind.RECEIVED, CommandKind.SHORT, CommandKind.DAMAGED):
        return _receiving(order, reply)
    return _comment(reply, Role.SUPPLIER)


def _receiving(order: OrderView, reply: Reply) -> Decision:
    """What arrived: only after a delivery, in answer to one of the order's emails."""
    if not reply.in_thread:
        return Refuse(errors.CancelNeedsReply(command=reply.command.kind.value.upper()))
    if order.status not in (*AFTER_DELIVERY, OrderStatus.INVOICED):
        return Refuse(errors.NothingDelivered(status=order.status.value))
    if reply.command.kind is CommandKind.RECEIVED:
        return RecordReceipt(note=reply.note)
    if not reply.note:
        return Refuse(errors.ClaimNeedsText(kind=reply.command.kind.value.upper()))
    return OpenClaim(kind=reply.command.kind.value, text=reply.note)


def _cancel(order: OrderView, reply: Reply) -> Decision:
    """Before the supplier invoices, with a reason, in answer to one of the order's emails."""
    if not reply.in_thread:
        return Refuse(errors.CancelNeedsReply())
    if order.status in (*AFTER_DELIVERY, OrderStatus.INVOICED, OrderStatus.PAID):
        return Refuse(errors.CancelTooLate(status=order.status.value))
    if not reply.command.argument:
        return Refuse(errors.CancelNeedsReason())
    return CancelOrder(reason=reply.command.argument)


def _decision(order: OrderView, reply: Reply) -> Decision:
    if reply.bound_revision_id is None:
        return Refuse(errors.DecisionNeedsRequest())
    answered = order.revision(reply.bound_revision_id)
    if answered is None:
        return Refuse(errors.DecisionNeedsRequest())
    refusal = _not_decidable(order, answered) or _not_this_step(reply)
    if refusal is not None:
        return Refuse(refusal)
    argument, step = reply.command.argument, reply.step.number if reply.step else None
    if _overrules_tolerance(reply):
        step = reply.bound_step
    if reply.command.kind is CommandKind.APPROVE:
        condition = approval_condition(reply.command.text)
        if condition:  # approving would drop the condition: the supplier would deliver without it
            return Refuse(errors.ConditionalApproval(condition=condition))
        return Approve(revision_id=answered.id, note=argument, step=step)
    if not argument:
        return Refuse(errors.RejectNeedsReason())
    return Reject(revision_id=answered.id, reason=argument, step=step)


def _approver(order: OrderView, reply: Reply) -> Decision:
    """Finance, the CFO or their delegates: APPROVE or REJECT of the step now asked of them, in answer
    to that step's own request. Nothing else of theirs is applied, nor relayed to the supplier as if
    a buyer had written it."""
    kind = reply.command.kind
    if kind not in (CommandKind.APPROVE, CommandKind.REJECT):
        return Refuse(errors.OnlyStepDecisions(kind.value.upper() if kind is not CommandKind.NONE else ""))
    if reply.bound_step is None:  # not an answer to a step's request
        return Refuse(errors.DecisionNeedsRequest() if reply.step else errors.OnlyStepDecisions(kind.value.upper()))
    decision = _decision(order, reply)
    if isinstance(decision, Refuse):
        return decision
    if reply.step is None or order.status is not OrderStatus.AWAITING_APPROVAL:
        return Refuse(errors.OnlyStepDecisions(kind.value.upper()))  # no step of theirs is asked now
    return decision


def _not_this_step(reply: Reply) -> errors.UserError | None:
    """A step's request is answered by that step's approvers, while it is the step asked."""
    step = reply.step
    if step is None or _overrules_tolerance(reply):
        return None
    if reply.bound_step is not None and reply.bound_step != step.number:
        return errors.StaleStep(answered=reply.bound_step, current=step.number, name=step.name)
    if reply.sender.lower() not in step.approvers:
        return errors.NotYourStep(number=step.number, name=step.name)
    return None


def _overrules_tolerance(reply: Reply) -> bool:
    """A buyer's REJECT of the buyers' step the bot approved by tolerance, from its notice, while the
    next step has not decided: it ends the chain as any REJECT does."""
    step = reply.step
    return (step is not None and reply.command.kind is CommandKind.REJECT and reply.bound_step == 1
            and step.number == 2 and reply.sender.lower() in step.overrulable_by)


def _not_decidable(order: OrderView, answered: RevisionView) -> errors.UserError | None:
    if answered.status in (RevisionStatus.APPROVED, RevisionStatus.REJECTED):
        return errors.AlreadyDecided(number=answered.number, status=answered.status.value,
                                     decided_by=answered.decided_by)
    pending = order.pending
    if answered.status is not RevisionStatus.SUBMITTED or pending is None or pending.id != answered.id:
        return errors.StaleRevision(answered_number=answered.number,
                                    current_number=pending.number if pending else None)
    return None


def _plain_text(reply: Reply) -> bool:
    return (reply.command.kind is CommandKind.NONE and reply.sheet is None and reply.bill is None
            and not reply.documents and reply.sheet_error is None and reply.attachment_error is None)


def _comment(reply: Reply, to: Role) -> Decision:
    if not reply.command.text.strip():
        return Refuse(errors.EmptyReply())
    return RelayComment(text=reply.command.text.strip(), to=to)


def order_status_after(decision: Decision, current: OrderStatus) -> OrderStatus:
    """The order's state machine, in one place."""
    if isinstance(decision, Submit) or (isinstance(decision, CreateDraft) and decision.submit):
        return OrderStatus.AWAITING_APPROVAL
    if isinstance(decision, Approve):
        return OrderStatus.APPROVED
    if isinstance(decision, Reject):
        return OrderStatus.REJECTED
    if isinstance(decision, RecordInvoice):
        return OrderStatus.INVOICED
    if isinstance(decision, RecordPayment):
        return OrderStatus.PAID
    if isinstance(decision, CancelOrder):
        return OrderStatus.CANCELLED
    if isinstance(decision, SendOrder):
        return OrderStatus.NEW
    return current


def delivery_status(open_quantities: dict) -> OrderStatus:
    """After a delivery: everything approved is on its way, or only part of it."""
    return OrderStatus.PARTLY_DELIVERED if open_quantities else OrderStatus.DELIVERED
