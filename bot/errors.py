"""The closed set of user errors: each is answered to the sender with its own template.

System errors (a database or server failure, a bug) are not here: they are
retried and surfaced to the operator, never explained to a supplier.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from parsers.records import Problem


@dataclass(frozen=True)
class UserError:
    """Base: `template` names templates/errors/<template>.txt; fields are its variables."""

    template: ClassVar[str] = ""
    summary: ClassVar[str] = ""


@dataclass(frozen=True)
class UnknownOrder(UserError):
    template = "unknown_order"
    summary = "we could not tell which order this message is about"


@dataclass(frozen=True)
class NotAParty(UserError):
    template = "not_a_party"
    summary = "the sender is neither the supplier nor a buyer of this order"


@dataclass(frozen=True)
class OnlyBuyersDecide(UserError):
    template = "only_buyers_decide"
    summary = "only the order's buyers can approve, reject or mark paid"


@dataclass(frozen=True)
class OnlySupplierBills(UserError):
    template = "only_supplier_bills"
    summary = "only the supplier can send bills, SEND or INVOICE"


@dataclass(frozen=True)
class SheetProblems(UserError):
    template = "sheet_problems"
    summary = "the bill spreadsheet has problems"
    filename: str = ""
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class SheetForOtherOrder(UserError):
    template = "sheet_for_other_order"
    summary = "the spreadsheet belongs to another order"
    filename: str = ""
    sheet_ref: str = ""


@dataclass(frozen=True)
class TooManySheets(UserError):
    template = "too_many_sheets"
    summary = "more than one bill spreadsheet was attached"
    filenames: tuple[str, ...] = ()


@dataclass(frozen=True)
class NothingToSend(UserError):
    template = "nothing_to_send"
    summary = "SEND was received but there is no draft bill"
    pending_number: int | None = None


@dataclass(frozen=True)
class OrderClosed(UserError):
    template = "order_closed"
    summary = "the order no longer takes bills"
    status: str = ""


@dataclass(frozen=True)
class DecisionNeedsRequest(UserError):
    template = "decision_needs_request"
    summary = "a decision must answer the approval request email"


@dataclass(frozen=True)
class StaleRevision(UserError):
    template = "stale_revision"
    summary = "the approval request answered is not the current one"
    answered_number: int = 0
    current_number: int | None = None


@dataclass(frozen=True)
class AlreadyDecided(UserError):
    template = "already_decided"
    summary = "this revision was already decided"
    number: int = 0
    status: str = ""
    decided_by: str = ""


@dataclass(frozen=True)
class RejectNeedsReason(UserError):
    template = "reject_needs_reason"
    summary = "REJECT needs a reason"


@dataclass(frozen=True)
class ConditionalApproval(UserError):
    template = "conditional_approval"
    summary = "an approval cannot carry a condition"
    condition: str = ""


@dataclass(frozen=True)
class EmptyReply(UserError):
    template = "empty_reply"
    summary = "the reply had no new text and no spreadsheet"


@dataclass(frozen=True)
class UnreadableMessage(UserError):
    template = "unreadable_message"
    summary = "the message could not be read"
    detail: str = ""


@dataclass(frozen=True)
class AttachmentsNotAccepted(UserError):
    template = "attachments_not_accepted"
    summary = "some attachments cannot be accepted"
    refused: tuple[tuple[str, str], ...] = ()  # (file name, reason)


@dataclass(frozen=True)
class InvoiceBeforeApproval(UserError):
    template = "invoice_before_approval"
    summary = "an invoice can only follow an approved bill"
    status: str = ""


@dataclass(frozen=True)
class InvoiceNeedsDocument(UserError):
    template = "invoice_needs_document"
    summary = "INVOICE needs the invoice attached"


@dataclass(frozen=True)
class AlreadyInvoiced(UserError):
    template = "already_invoiced"
    summary = "the order is already invoiced"
    number: str = ""


@dataclass(frozen=True)
class MessageTooLarge(UserError):
    template = "message_too_large"
    summary = "the message is too large"
    size_mb: int = 0
    limit_mb: int = 0


@dataclass(frozen=True)
class PaymentNotDue(UserError):
    template = "payment_not_due"
    summary = "only an invoiced order can be marked paid"
    status: str = ""


@dataclass(frozen=True)
class DocumentsUnreadable(UserError):
    template = "documents_unreadable"
    summary = "an attached document could not be read"
    unreadable: tuple[tuple[str, str], ...] = ()  # (file name, why, in the supplier's words)


@dataclass(frozen=True)
class BillLinesUnreadable(UserError):
    template = "bill_lines_unreadable"
    summary = "no line of the bill could be read"
    filename: str = ""
    remarks: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotASupplier(UserError):
    template = "not_a_supplier"
    summary = "ORDERS lists a supplier's orders to the supplier's own addresses only"


@dataclass(frozen=True)
class CancelNeedsReason(UserError):
    template = "cancel_needs_reason"
    summary = "CANCEL needs a reason"


@dataclass(frozen=True)
class CancelTooLate(UserError):
    template = "cancel_too_late"
    summary = "an invoiced order can no longer be cancelled"
    status: str = ""


@dataclass(frozen=True)
class CancelNeedsReply(UserError):
    template = "cancel_needs_reply"
    summary = "this must answer one of the order's emails"
    command: str = "CANCEL"


@dataclass(frozen=True)
class DeliveryNotExpected(UserError):
    template = "delivery_not_expected"
    summary = "DELIVERED comes after the bill is approved"
    status: str = ""


@dataclass(frozen=True)
class NothingDelivered(UserError):
    template = "nothing_delivered"
    summary = "nothing has been delivered yet"
    status: str = ""


@dataclass(frozen=True)
class ClaimNeedsText(UserError):
    template = "claim_needs_text"
    summary = "a claim needs to say what is short or damaged"
    kind: str = ""


@dataclass(frozen=True)
class QuantitiesUnclear(UserError):
    template = "quantities_unclear"
    summary = "the quantities could not be read"
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotABuyer(UserError):
    template = "not_a_buyer"
    summary = "only the company's buyers can order by email"


@dataclass(frozen=True)
class UnknownSupplier(UserError):
    template = "unknown_supplier"
    summary = "we do not know the supplier this order is for"
    written: str = ""  # what followed ORDER ("" when nothing did)
    short_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderLinesMissing(UserError):
    template = "order_lines_missing"
    summary = "the order has no lines"


@dataclass(frozen=True)
class OrderUnreadable(UserError):
    template = "order_unreadable"
    summary = "parts of the order could not be read"
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderNotSent(UserError):
    template = "order_not_sent"
    summary = "this order has not been sent to the supplier yet"


@dataclass(frozen=True)
class NotYourStep(UserError):
    template = "not_your_step"
    summary = "this approval step is someone else's"
    number: int = 0
    name: str = ""


@dataclass(frozen=True)
class OnlyStepDecisions(UserError):
    """A later step's approver wrote something else than the decision of their step."""

    template = "only_step_decisions"
    summary = "a later approval step's approver can only approve or reject that step"
    command: str = ""  # what they wrote instead ("" for text)


@dataclass(frozen=True)
class StaleStep(UserError):
    template = "stale_step"
    summary = "that approval step is already decided"
    answered: int = 0
    current: int = 0
    name: str = ""


@dataclass(frozen=True)
class OrderAlreadySent(UserError):
    template = "order_already_sent"
    summary = "this order was already sent to the supplier"
    status: str = ""
