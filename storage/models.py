"""Database tables (SQLModel). Money and quantities are exact decimals; times are UTC."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum

from sqlalchemy import Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class DecimalText(TypeDecorator):
    """Decimal stored as text: exact on SQLite and PostgreSQL alike."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, whatever the backend keeps."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(timezone.utc).isoformat(timespec="microseconds")

    def process_result_value(self, value: str | None, dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


class EnumText(TypeDecorator):
    """An Enum kept as its plain value (readable in SQL) and read back as the Enum."""

    impl = String(20)
    cache_ok = True

    def __init__(self, enum_class: type[Enum]) -> None:
        super().__init__()
        self.enum_class = enum_class

    def process_bind_param(self, value: Enum | str | None, dialect) -> str | None:
        return None if value is None else self.enum_class(value).value

    def process_result_value(self, value: str | None, dialect) -> Enum | None:
        return None if value is None else self.enum_class(value)


class OrderStatus(str, Enum):
    DRAFT = "draft"  # a buyer's ORDER by email, echoed to them: the supplier gets it at SEND
    NEW = "new"
    AWAITING_APPROVAL = "awaiting_approval"
    REJECTED = "rejected"
    APPROVED = "approved"
    PARTLY_DELIVERED = "partly_delivered"  # the supplier said DELIVERED for some of it
    DELIVERED = "delivered"  # everything approved is delivered, waiting for the receipt
    RECEIVED = "received"  # the company confirmed it received everything
    INVOICED = "invoiced"
    PAID = "paid"
    CANCELLED = "cancelled"


class RevisionStatus(str, Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # a newer revision was submitted before this one was decided
    INVOICED = "invoiced"
    PAID = "paid"


class InboundStatus(str, Enum):
    APPLIED = "applied"  # changed state and/or answered
    REFUSED = "refused"  # user error: answered, nothing changed
    IGNORED = "ignored"  # automatic mail, duplicate or our own: recorded, not answered
    FAILED = "failed"  # system error: kept for the operator to reprocess
    HELD = "held"  # a decision without sender authentication: waits for the operator
    QUEUED = "queued"  # fetched and stored, waiting for a worker to claim and process it


class OutboxStatus(str, Enum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"  # refused for good by the SMTP server, or too many attempts
    BOUNCED = "bounced"  # accepted, then returned by a later server


class Supplier(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_type=String(320), unique=True, index=True)
    name: str = ""
    domain: str = ""  # every address @domain acts for the supplier ("" = only listed addresses)
    terms: str = ""  # payment terms set by the operator ("" = from the config)
    currency: str = Field(default="", sa_type=String(3))  # the contract's currency: new orders default to it
    language: str = Field(default="", sa_type=String(8))  # "" = the company's language (config); "de", "en"…


class SupplierAddress(SQLModel, table=True):
    """Further addresses that act for a supplier (colleagues, a shared mailbox)."""

    __tablename__ = "supplier_address"
    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    email: str = Field(sa_type=String(320), unique=True)


class BuyerDelegate(SQLModel, table=True):
    """Someone who may approve or reject for a buyer."""

    __tablename__ = "buyer_delegate"
    id: int | None = Field(default=None, primary_key=True)
    buyer_id: int = Field(foreign_key="buyer.id", index=True)
    email: str = Field(sa_type=String(320), index=True)


class Buyer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_type=String(320), unique=True, index=True)
    name: str = ""
    # their out-of-office was seen (and not yet a mail of their own since): reminders go to their delegates
    away_since: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PurchaseOrder(SQLModel, table=True):
    __tablename__ = "purchase_order"
    __table_args__ = (Index("ix_purchase_order_supplier_status", "supplier_id", "status"),)  # status counts
    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(sa_type=String(40), unique=True, index=True)
    customer: str
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    currency: str = Field(sa_type=String(3))
    requested_delivery: date | None = None
    deliver_to: str = Field(default="", sa_type=Text)  # delivery address, as the buyer wrote it ("" = not given)
    buyer_ref: str = Field(default="", sa_type=String(80))  # the buyer's own reference for the order
    status: OrderStatus = Field(sa_type=EnumText(OrderStatus), default=OrderStatus.NEW, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


class OrderBuyer(SQLModel, table=True):
    __tablename__ = "order_buyer"
    __table_args__ = (Index("ix_order_buyer_buyer_order", "buyer_id", "order_id"),)  # a buyer's orders, in order
    order_id: int = Field(foreign_key="purchase_order.id", primary_key=True)
    buyer_id: int = Field(foreign_key="buyer.id", primary_key=True)


class _LineColumns(SQLModel):
    position: int
    sku: str = ""
    description: str = ""
    quantity: Decimal = Field(sa_type=DecimalText)
    unit: str = ""
    unit_price: Decimal = Field(sa_type=DecimalText)
    tax_rate: Decimal = Field(sa_type=DecimalText)


class OrderLine(_LineColumns, table=True):
    __tablename__ = "order_line"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)


class Revision(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("order_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    number: int
    status: RevisionStatus = Field(sa_type=EnumText(RevisionStatus), default=RevisionStatus.DRAFT)
    created_at: datetime = Field(sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: str = ""
    reason: str = ""  # REJECT's reason
    note: str = ""  # APPROVE's note
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    # a bill read from the supplier's own document: what it was read from, and whether it added up
    read_from: str = Field(sa_type=Text, default="")  # "" for the bot's own sheet
    reconciled: bool | None = None
    doubts: str = Field(sa_type=Text, default="")  # what did not add up, one remark a line of text
    # within the supplier's tolerance: approved by the bot at this time unless a buyer rejects it first
    auto_approve_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    auto_approval: str = Field(sa_type=Text, default="")  # why it needed no decision ("" = it did)


class StepStatus(str, Enum):
    WAITING = "waiting"  # its turn has not come
    REQUESTED = "requested"  # its approvers were asked
    APPROVED = "approved"
    REJECTED = "rejected"
    CLOSED = "closed"  # an earlier step rejected, or the revision was replaced


class ApprovalStep(SQLModel, table=True):
    """One step of a submitted revision's approval chain: who is asked, and who decided when."""

    __tablename__ = "approval_step"
    __table_args__ = (UniqueConstraint("revision_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    revision_id: int = Field(foreign_key="revision.id", index=True)
    number: int  # 1, 2, … in the order they are asked
    name: str  # "buyers", "finance", "cfo"
    approvers: str = Field(sa_type=Text, default="")  # comma-separated addresses; "" = the order's buyers
    status: StepStatus = Field(sa_type=EnumText(StepStatus), default=StepStatus.WAITING)
    requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: str = ""
    note: str = Field(sa_type=Text, default="")  # APPROVE's note or REJECT's reason


class RevisionLine(_LineColumns, table=True):
    __tablename__ = "revision_line"
    id: int | None = Field(default=None, primary_key=True)
    revision_id: int = Field(foreign_key="revision.id", index=True)
    source: str = Field(sa_type=Text, default="")  # where in the supplier's document ("" from our sheet)
    remark: str = Field(sa_type=Text, default="")  # how the line was read, and why it is doubtful if it is
    doubtful: bool = False  # it did not add up, or the scan was unclear: the supplier and buyer see a mark


class Document(SQLModel, table=True):
    """A file kept by content hash; the same bytes twice are stored once on disk."""

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(sa_type=String(64), index=True)
    filename: str
    content_type: str
    size: int
    kind: str  # bill_sheet, bill_source (a bill read from the supplier's own file), scan, invoice
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    revision_id: int | None = Field(default=None, foreign_key="revision.id")
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class ReplyToken(SQLModel, table=True):
    """An unguessable reply address token: which order, and which revision's approval request."""

    __tablename__ = "reply_token"
    token: str = Field(sa_type=String(64), primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    revision_id: int | None = Field(default=None, foreign_key="revision.id")
    step: int | None = None  # the approval step a request's token is bound to
    audience: str  # supplier | buyer
    created_at: datetime = Field(sa_type=UTCDateTime)


class InboundMessage(SQLModel, table=True):
    """The ledger: one row per fetched message, written with its effects in one transaction."""

    __tablename__ = "inbound_message"
    __table_args__ = (
        UniqueConstraint("account", "folder", "uidvalidity", "uid"),
        Index("ix_inbound_message_id_hash", "message_id", "sha256"),
        # the queue: the few queued rows among all, and what each waits for (see queries.claim_inbound)
        Index("ix_inbound_message_queue", "status", "id"),
        Index("ix_inbound_message_queue_key", "status", "queue_key", "id"),
        Index("ix_inbound_message_queue_sender", "status", "sender", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(sa_type=String(320))
    folder: str = Field(sa_type=String(200))
    uidvalidity: int
    uid: int
    message_id: str = Field(sa_type=String(998), default="")
    sha256: str = Field(sa_type=String(64))
    raw_path: str
    size: int
    sender: str = ""
    subject: str = Field(sa_type=Text, default="")
    status: InboundStatus = Field(sa_type=EnumText(InboundStatus))
    disposition: str = ""  # what the bot did, in a word (draft, submitted, approved, refused:sheet…)
    error: str = Field(sa_type=Text, default="")
    order_id: int | None = Field(default=None, foreign_key="purchase_order.id", index=True)
    received_at: datetime = Field(sa_type=UTCDateTime)
    attempts: int = 1
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    location: str = "source"  # source (still in the folder it came from) | processed | failed | left (no MOVE/UIDPLUS)
    # the queue: a worker's claim (host:pid:nonce, until when), and what must be applied in arrival
    # order ("order:<id>" when the headers name the order; "" = serialised per sender)
    claimed_by: str = Field(sa_type=String(200), default="")
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    queue_key: str = Field(sa_type=String(200), default="")


class FetcherLease(SQLModel, table=True):
    """Who fetches a mailbox (account + folder) and until when: one fetcher at a time, any
    process takes over once the lease runs out."""

    __tablename__ = "fetcher_lease"
    mailbox: str = Field(sa_type=String(600), primary_key=True)
    holder: str = Field(sa_type=String(200))
    until: datetime = Field(sa_type=UTCDateTime)


class MailboxCursor(SQLModel, table=True):
    """The highest UID applied per folder and UIDVALIDITY, so a poll fetches only what is new."""

    __tablename__ = "mailbox_cursor"
    account: str = Field(sa_type=String(320), primary_key=True)
    folder: str = Field(sa_type=String(200), primary_key=True)
    uidvalidity: int
    last_uid: int


class OutboxMessage(SQLModel, table=True):
    """An email the bot decided to send, queued in the same transaction as the decision."""

    __tablename__ = "outbox_message"
    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(sa_type=String(255), unique=True)
    order_id: int | None = Field(default=None, foreign_key="purchase_order.id", index=True)
    revision_id: int | None = Field(default=None, foreign_key="revision.id")
    purpose: str  # new_order, draft_received, approval_request, decision, comment, error…
    recipients: str = Field(sa_type=Text)  # comma-separated envelope recipients
    subject: str = Field(sa_type=Text)
    raw: bytes = Field(sa_type=LargeBinary)
    status: OutboxStatus = Field(sa_type=EnumText(OutboxStatus), default=OutboxStatus.QUEUED, index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(sa_type=Text, default="")
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    # a sender's claim (host:pid:nonce, until when): two senders never send the same row
    claimed_by: str = Field(sa_type=String(200), default="")
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Comment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    revision_id: int | None = Field(default=None, foreign_key="revision.id")  # a note sent with a sheet
    author: str
    text: str = Field(sa_type=Text)
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class Invoice(SQLModel, table=True):
    """The supplier's final invoice for the approved revision, what was read from it, and when it is due."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True, unique=True)
    revision_id: int = Field(foreign_key="revision.id")
    document_id: int = Field(foreign_key="document.id")
    number: str = ""
    invoice_date: date
    total_read: Decimal | None = Field(default=None, sa_type=DecimalText)
    net_read: Decimal | None = Field(default=None, sa_type=DecimalText)
    tax_read: Decimal | None = Field(default=None, sa_type=DecimalText)
    hold: str = Field(sa_type=Text, default="")  # why the payment waits (not received, a line differs); "" = due
    total_expected: Decimal = Field(sa_type=DecimalText)
    read_method: str = "none"  # text, ocr, none
    terms: str = "net 30"
    due_date: date
    discount_until: date | None = None
    discount_amount: Decimal = Field(default=Decimal(0), sa_type=DecimalText)
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    created_at: datetime = Field(sa_type=UTCDateTime)

    @property
    def mismatch(self) -> bool:
        return self.total_read is not None and self.total_read != self.total_expected


class Delivery(SQLModel, table=True):
    """One DELIVERED from the supplier: what they say they shipped (several per order are normal)."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    number: int
    note: str = Field(sa_type=Text, default="")
    by: str
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class DeliveryLine(SQLModel, table=True):
    __tablename__ = "delivery_line"
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    sku: str  # the approved line's key (SKU, else description)
    quantity: Decimal = Field(sa_type=DecimalText)


class Receipt(SQLModel, table=True):
    """One RECEIVED from the company: what arrived."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    by: str
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class ReceiptLine(SQLModel, table=True):
    __tablename__ = "receipt_line"
    id: int | None = Field(default=None, primary_key=True)
    receipt_id: int = Field(foreign_key="receipt.id", index=True)
    sku: str
    quantity: Decimal = Field(sa_type=DecimalText)


class Claim(SQLModel, table=True):
    """SHORT or DAMAGED from the company: an open claim against the supplier, shown with the order."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    kind: str  # short | damaged
    text: str = Field(sa_type=Text)
    by: str
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class Payment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", unique=True)
    amount: Decimal = Field(sa_type=DecimalText)
    paid_on: date
    recorded_by: str  # "operator" or the buyer's address
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class ScheduledSend(SQLModel, table=True):
    """One row per digest or reminder sent: what makes each one go out once per period, across restarts."""

    __tablename__ = "scheduled_send"
    key: str = Field(sa_type=String(200), primary_key=True)  # e.g. digest:3:2026-11-28, remind-approval:7:2
    created_at: datetime = Field(sa_type=UTCDateTime)


class Event(SQLModel, table=True):
    """The timeline: who did what, when, from which message. Data, not logs."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str  # an address, or "operator" / "bot"
    kind: str
    detail: str = Field(sa_type=Text, default="")
    revision_id: int | None = Field(default=None, foreign_key="revision.id")
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    outbox_id: int | None = Field(default=None, foreign_key="outbox_message.id")
