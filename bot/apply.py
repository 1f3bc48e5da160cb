"""Carry out a workflow decision: state changes, timeline events and queued emails."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlmodel import Session

from bot import bills, chain, errors, receiving
from bot.app import App
from bot.notify import BillOrigin, BillView, Thread, bill_view
from bot.orders import order_documents
from bot.payments import record_payment, terms_for
from bot.terms import schedule
from bot.workflow import (
    Approve,
    AttachDocuments,
    CancelOrder,
    OpenClaim,
    RecordDelivery,
    RecordReceipt,
    CreateDraft,
    Decision,
    Refuse,
    RecordInvoice,
    RecordPayment,
    Reject,
    RelayComment,
    Reply,
    Role,
    SendOrder,
    Submit,
    delivery_status,
    order_status_after,
)
from parsers.bill_sheet import sheet_content_type
from parsers.documents import Document as ScanDocument
from parsers.documents import safe_filename, sniff
from parsers.intake import BillFromDocuments, LineSource
from parsers.parts import FileAttachment
from parsers.records import AnyAttachment, Attachment, Line, ParsedMessage
from storage import queries
from storage.queries import LineNote
from storage.models import (
    Claim,
    Delivery,
    DeliveryLine,
    OrderStatus,
    Receipt,
    ReceiptLine,
    Document,
    InboundMessage,
    InboundStatus,
    Invoice,
    PurchaseOrder,
    Revision,
    RevisionStatus,
    StepStatus,
    Supplier,
)

DECIDED_BEFORE = (RevisionStatus.SUBMITTED, RevisionStatus.APPROVED, RevisionStatus.REJECTED,
                  RevisionStatus.SUPERSEDED)


@dataclass(frozen=True)
class Outcome:
    status: InboundStatus
    disposition: str
    order_id: int | None = None


class Applier:
    """Applies one decision for one inbound message inside the caller's transaction."""

    def __init__(self, app: App, s: Session, row: InboundMessage, message: ParsedMessage,
                 order: PurchaseOrder, documents: Sequence[ScanDocument] = (),
                 originals: Sequence[AnyAttachment] = ()) -> None:
        self.app, self.s, self.row, self.message, self.order = app, s, row, message, order
        originals_hashes = {a.sha256 for a in originals}
        self.originals = originals  # the supplier's own files a bill was read from
        self.documents = [d for d in documents if d.file.sha256 not in originals_hashes]  # scans
        self.now = app.clock()
        self.thread = Thread.of(message)

    def apply(self, decision: Decision, reply: Reply) -> Outcome:
        attached = f", {len(self.message.attachments)} attachment(s)" if self.message.attachments else ""
        self._event("email_received", f"{self.message.subject[:120]!r}{attached}")
        if isinstance(decision, Refuse):
            return self.refuse(decision.error)
        if isinstance(decision, CreateDraft):
            return self._draft(decision, reply)
        if isinstance(decision, Submit):
            self._store_scans(decision.revision_id)
            self._submit(self.s.get(Revision, decision.revision_id), decision.supersedes_id)
            return self._applied("submitted")
        if isinstance(decision, Approve | Reject):
            return self._decide(decision)
        if isinstance(decision, AttachDocuments):
            return self._attach(decision)
        if isinstance(decision, RecordInvoice):
            return self._invoice(decision)
        if isinstance(decision, RecordPayment):
            record_payment(self.app, self.s, self.order, self.now.date(), None, self.message.sender, self.row.id)
            return self._applied("paid")
        if isinstance(decision, CancelOrder):
            return self._cancel(decision)
        if isinstance(decision, RecordDelivery):
            return self._deliver(decision, reply)
        if isinstance(decision, RecordReceipt):
            return self._receive(decision, reply)
        if isinstance(decision, OpenClaim):
            return self._claim(decision)
        if isinstance(decision, SendOrder):
            return self._send_order(decision)
        return self._comment(decision)

    def refuse(self, error: errors.UserError) -> Outcome:
        answered = self.app.notifier.refusal(self.s, error, self.message, self.order)
        self._event("refused", f"{error.summary} ({self.message.sender})")
        budget = "" if answered else " (not answered: budget spent)"
        return Outcome(InboundStatus.REFUSED, f"refused: {error.template}{budget}", self.order.id)

    # --- the supplier's bill -------------------------------------------------------------

    def _draft(self, decision: CreateDraft, reply: Reply) -> Outcome:
        revision = self._draft_revision(decision.replaces_id)
        notes = line_notes(decision.source) if decision.source else ()
        queries.replace_revision_lines(self.s, revision.id, decision.lines, notes,
                                       fresh=decision.replaces_id is None)
        self._record_origin(revision, decision, reply.sheet_filename)
        self._store_scans(revision.id)
        if decision.note:
            self._note(decision.note, revision.id)
        origin = f"from {revision.read_from}" if revision.read_from else f"from {reply.sheet_filename}"
        doubts = "" if revision.reconciled is not False else f"; not everything adds up ({revision.doubts[:200]})"
        self._event("draft_replaced" if decision.replaces_id else "draft_created",
                    f"rev {revision.number}: {len(decision.lines)} lines {origin}{doubts}", revision.id)
        self.s.flush()
        if decision.submit:
            self._submit(revision, decision.supersedes_id, decision.lines)
            return self._applied("draft + submitted")
        view = self._view(revision, decision.lines, decision.send_held)
        self.app.notifier.draft_received(self.s, self.order, view, self.thread)
        return self._applied("draft (SEND held: it does not add up)" if decision.send_held else "draft")

    def _record_origin(self, revision: Revision, decision: CreateDraft, sheet_filename: str) -> None:
        """Our sheet is kept as the bill sheet; the supplier's own files as the bill's sources."""
        source = decision.source
        if source is None:
            queries.assign(revision, read_from="", reconciled=None, doubts="")  # a new revision's own values
            self._keep_sheet(sheet_filename, revision.id)
            return
        revision.read_from, revision.reconciled = source.read_from[:2000], source.reconciled
        revision.doubts = "\n".join(source.remarks)[:10000]
        for original in self.originals:
            kind = sniff(original.head())
            content_type = kind[1] if kind else _text_type(original.filename)
            self._keep(original, safe_filename(original.filename), content_type, "bill_source", revision.id)

    def _draft_revision(self, replaces_id: int | None) -> Revision:
        if replaces_id is not None:
            revision = self.s.get(Revision, replaces_id)
            assert revision is not None
            revision.created_at, revision.inbound_id = self.now, self.row.id
            return revision
        numbers = [r.number for r in queries.revisions_of(self.s, self.order.id)]
        revision = Revision(order_id=self.order.id, number=max(numbers, default=0) + 1,
                            status=RevisionStatus.DRAFT, created_at=self.now, inbound_id=self.row.id)
        self.s.add(revision)
        self.s.flush()
        queries.remember_revision(self.s, revision)
        return revision

    def _keep_sheet(self, filename: str, revision_id: int) -> None:
        attachment = next(a for a in self.message.attachments if a.filename == filename)
        self._keep(attachment, safe_filename(filename), sheet_content_type(attachment.data), "bill_sheet",
                   revision_id)

    def _keep(self, file: AnyAttachment, filename: str, content_type: str, kind: str,
              revision_id: int | None) -> Document:
        """Stored by hash (the same bytes twice are one file); the same file twice on one order is one row."""
        digest = self.app.files.save_file(file, "documents")  # the batch syncs before its commit
        existing = queries.document_of(self.s, self.order.id, digest, kind)
        if existing is not None:
            if existing.revision_id is None and revision_id is not None:
                queries.bind_document(self.s, existing, revision_id)
            return existing
        return queries.add_document(self.s, sha256=digest, filename=filename, content_type=content_type,
                                    size=file.size, kind=kind, order_id=self.order.id, revision_id=revision_id,
                                    inbound_id=self.row.id, created_at=self.now)

    def _store_scans(self, revision_id: int | None) -> None:
        """This message's scans, and scans that waited for a draft, go with the revision."""
        for scan in self.documents:
            self._keep(scan.file, scan.filename, scan.content_type, "scan", revision_id)
            self._event("document", f"{scan.filename} ({scan.kind}, {scan.size:,} bytes)", revision_id)
        if revision_id is not None:
            queries.bind_waiting_scans(self.s, self.order.id, revision_id)

    def _note(self, text: str, revision_id: int | None) -> None:
        queries.add_comment(self.s, order_id=self.order.id, revision_id=revision_id, author=self.message.sender,
                            text=text, inbound_id=self.row.id, created_at=self.now)
        self._event("comment", f"from {self.message.sender}: {text[:200]}", revision_id)

    def _submit(self, revision: Revision | None, supersedes_id: int | None,
                lines: Sequence[Line] | None = None) -> None:
        assert revision is not None
        revision.status, revision.submitted_at = RevisionStatus.SUBMITTED, self.now
        if supersedes_id is not None:
            older = self.s.get(Revision, supersedes_id)
            assert older is not None
            older.status = RevisionStatus.SUPERSEDED
            for step in queries.steps_of(self.s, older.id):
                if step.status in (StepStatus.WAITING, StepStatus.REQUESTED):
                    step.status = StepStatus.CLOSED
            self._event("superseded", f"rev {older.number} replaced by rev {revision.number}", older.id)
        self.order.status = order_status_after(Submit(revision.id, supersedes_id), self.order.status)
        self._event("submitted", f"rev {revision.number} submitted for approval", revision.id)
        self.s.flush()
        lines = queries.revision_lines(self.s, revision.id) if lines is None else lines
        view = self._view(revision, lines)
        older_number = self.s.get(Revision, supersedes_id).number if supersedes_id else None
        self.app.notifier.submitted(self.s, self.order, view, self.thread)
        chain.start(self.app, self.s, self.order, revision, lines, view, self._files_of(revision, lines),
                    older_number, queries.notes_of(self.s, revision.id))  # tolerance, else the first step

    def _files_of(self, revision: Revision, lines: Sequence[Line] | None) -> tuple[AnyAttachment, ...]:
        """What goes with the approval request: the bot's own sheet of the revision (its numbers are
        the ones the email shows), the supplier's file as sent (our sheet as they edited it, or their
        own documents), and the revision's scans. Stored files stay in the file store: the email is
        written from there."""
        sheets: list[AnyAttachment] = []
        sources: list[AnyAttachment] = []
        scans: list[AnyAttachment] = []
        for document in queries.documents_of(self.s, order_id=self.order.id, revision_id=revision.id):
            found = {"bill_sheet": sheets, "bill_source": sources, "scan": scans}.get(document.kind)
            if found is not None:
                path = self.app.files.path_for(document.sha256, "documents")
                found.append(FileAttachment.stored(document.filename, document.content_type, path, document.sha256))
        return (self._our_sheet(revision, lines), *(sources or sheets[-1:]), *scans)

    def _our_sheet(self, revision: Revision, lines: Sequence[Line] | None) -> Attachment:
        lines = queries.revision_lines(self.s, revision.id) if lines is None else lines
        sheet = self.app.notifier.sheet_attachment(self.order, self.s.get(Supplier, self.order.supplier_id), lines)
        return replace(sheet, filename=f"{self.order.ref}-bill-rev{revision.number}.xlsx")

    # --- the buyer's decision ------------------------------------------------------------

    def _decide(self, decision: Approve | Reject) -> Outcome:
        approve = isinstance(decision, Approve)
        text = decision.note if isinstance(decision, Approve) else decision.reason
        status = RevisionStatus.APPROVED if approve else RevisionStatus.REJECTED
        values = {"decided_at": self.now, "decided_by": self.message.sender,
                  ("note" if approve else "reason"): text}
        revision = self.s.get(Revision, decision.revision_id)
        assert revision is not None
        if decision.step is not None:
            step = chain.decide_step(self.app, self.s, self.order, revision, decision.step, approve, text,
                                     self.message.sender, lambda: self._files_of(revision, None), self._view(revision))
            if step is chain.StepOutcome.TAKEN:
                return self.refuse(errors.AlreadyDecided(revision.number, f"decided at step {decision.step}", ""))
            if step is chain.StepOutcome.CONTINUES:
                self.app.notifier.decision_recorded(self.s, self.order, revision.number, "approved", text,
                                                    self.message.sender, self.thread, decision.step)
                return self._applied(f"step {decision.step} approved")
        if not queries.decide_revision(self.s, revision.id, status, values):
            self.s.refresh(revision)  # someone decided first: answer, do not apply twice
            return self.refuse(errors.AlreadyDecided(revision.number, revision.status.value, revision.decided_by))
        self.s.refresh(revision)
        self.order.status = order_status_after(decision, self.order.status)
        self._event(status.value, f"rev {revision.number} {status.value} by {self.message.sender}"
                    + (f": {text}" if text else ""), revision.id)
        self._tell_decision(revision, approve, text)
        return self._applied(status.value)

    def _tell_decision(self, revision: Revision, approve: bool, text: str) -> None:
        view, by, notifier = self._view(revision), self.message.sender, self.app.notifier
        if approve:
            notifier.approved(self.s, self.order, view, text, by)
        else:
            lines = queries.revision_lines(self.s, revision.id)
            notifier.rejected(self.s, self.order, view, lines, text, by)
        notifier.decision_recorded(self.s, self.order, revision.number, "approved" if approve else "rejected",
                                   text, by, self.thread)

    # --- scans and the invoice -----------------------------------------------------------

    def _attach(self, decision: AttachDocuments) -> Outcome:
        draft = next((r for r in queries.revisions_of(self.s, self.order.id) if r.status is RevisionStatus.DRAFT), None)
        self._store_scans(draft.id if draft else None)
        if decision.note:
            self._note(decision.note, draft.id if draft else None)
        names = [d.filename for d in self.documents]
        self.app.notifier.documents_received(self.s, self.order, names, draft.number if draft else None, self.thread)
        return self._applied(f"{len(names)} document(s) attached")

    def _invoice(self, decision: RecordInvoice) -> Outcome:
        revision = self.s.get(Revision, decision.revision_id)
        assert revision is not None
        scan = next((d for d in self.documents if d.kind == "pdf"), self.documents[0])
        document = self._keep(scan.file, scan.filename, scan.content_type, "invoice", revision.id)
        facts = self.app.readers.invoice(scan.file)
        invoice_date = facts.invoice_date or self.now.date()
        expected = bills.totals(queries.revision_lines(self.s, revision.id)).gross
        supplier = self.s.get(Supplier, self.order.supplier_id)
        assert supplier is not None
        terms = terms_for(self.app, supplier)
        dates = schedule(terms, invoice_date, expected)
        invoice = Invoice(order_id=self.order.id, revision_id=revision.id, document_id=document.id,
                          number=facts.number or "", invoice_date=invoice_date, total_read=facts.total,
                          net_read=facts.net, tax_read=facts.tax,
                          total_expected=expected, read_method=facts.method, terms=str(terms),
                          due_date=dates.due, discount_until=dates.discount_until,
                          discount_amount=dates.discount_amount, inbound_id=self.row.id, created_at=self.now)
        approved = queries.revision_lines(self.s, revision.id)
        invoice.hold = receiving.three_way(approved, queries.received_quantities(self.s, self.order.id),
                                           facts.total).hold
        self.s.add(invoice)
        revision.status = RevisionStatus.INVOICED
        self.order.status = order_status_after(decision, self.order.status)
        self._event("invoiced", _invoice_summary(invoice, self.order.currency), revision.id)
        if invoice.mismatch:
            self._event("invoice_mismatch", f"invoice total {invoice.total_read} ≠ approved {expected}", revision.id)
        if invoice.hold:
            self._event("payment_held", invoice.hold, revision.id)
        if decision.note:
            self._note(decision.note, revision.id)
        attachment = replace(scan.file, filename=scan.filename, content_type=scan.content_type)
        self.app.notifier.invoice_received(self.s, self.order, invoice, revision.number, attachment, self.thread)
        return self._applied("invoiced" + (" (total mismatch flagged)" if invoice.mismatch else ""))

    def _send_order(self, decision: SendOrder) -> Outcome:
        """The buyer's SEND: the supplier gets the order now, and the buyer the confirmation."""
        if not queries.send_draft_order(self.s, self.order.id):
            self.s.refresh(self.order)
            return self.refuse(errors.OrderAlreadySent(status=self.order.status.value))
        self.s.refresh(self.order)
        self._event("sent", f"sent to the supplier at {self.message.sender}'s SEND")
        lines = queries.order_lines(self.s, self.order.id)
        self.app.notifier.new_order(self.s, self.order, lines, order_documents(self.app, self.s, self.order.id))
        self.app.notifier.order_echo(self.s, self.order, lines, self.message.sender, True, "", self.thread)
        return self._applied("order sent")

    def _cancel(self, decision: CancelOrder) -> Outcome:
        """The buyer cancels: the order is closed, open revisions go with it, the supplier is told why
        (unless it was a draft the supplier never got)."""
        sent = self.order.status is not OrderStatus.DRAFT
        self.order.status = order_status_after(decision, self.order.status)
        for revision in queries.revisions_of(self.s, self.order.id):
            if revision.status in (RevisionStatus.DRAFT, RevisionStatus.SUBMITTED):
                revision.status = RevisionStatus.SUPERSEDED
        self._event("cancelled", f"cancelled by {self.message.sender}: {decision.reason}")
        self.app.notifier.cancelled(self.s, self.order, decision.reason, self.message.sender, self.thread, sent)
        return self._applied("cancelled")

    # --- delivery and receipt ------------------------------------------------------------

    def _approved_lines(self) -> list[Line]:
        revision = next(r for r in queries.revisions_of(self.s, self.order.id)
                        if r.status in (RevisionStatus.APPROVED, RevisionStatus.INVOICED))
        return queries.revision_lines(self.s, revision.id)

    def _quantities(self, reply: Reply, approved: Sequence[Line],
                    default: dict) -> tuple[dict, list[str]]:
        """From an attached delivery note or sheet, else from lines in the text, else `default`."""
        if reply.counted is not None:
            return reply.counted, [] if reply.counted else ["the attached document names no article of this order"]
        found, problems = receiving.quantities_from_text(reply.command.text, approved)
        return (found or default), problems

    def _deliver(self, decision: RecordDelivery, reply: Reply) -> Outcome:
        approved = self._approved_lines()
        before = queries.delivered_quantities(self.s, self.order.id)
        quantities, problems = self._quantities(reply, approved, receiving.outstanding(approved, before))
        if problems or not quantities:
            return self.refuse(errors.QuantitiesUnclear(tuple(problems) or ("no article of this order was named",)))
        number = len(queries.deliveries_of(self.s, self.order.id)) + 1
        delivery = Delivery(order_id=self.order.id, number=number, note=decision.note[:2000],
                            by=self.message.sender, inbound_id=self.row.id, created_at=self.now)
        self.s.add(delivery)
        self.s.flush()
        self.s.add_all(DeliveryLine(delivery_id=delivery.id, sku=key, quantity=q) for key, q in quantities.items())
        self._keep_documents("delivery_note")
        still_open = receiving.outstanding(approved, receiving.add(before, quantities))
        if self.order.status is not OrderStatus.INVOICED:  # invoiced first: it stays invoiced, the payment waits
            self.order.status = delivery_status(still_open)
        self._event("delivered", f"delivery {number}: {_listed(quantities)}"
                    + (f"; still open: {_listed(still_open)}" if still_open else "; everything approved is delivered"))
        self.app.notifier.delivered(self.s, self.order, number, quantities, still_open, decision.note, self.thread)
        return self._applied(f"delivery {number}")

    def _receive(self, decision: RecordReceipt, reply: Reply) -> Outcome:
        approved = self._approved_lines()
        delivered = queries.delivered_quantities(self.s, self.order.id)
        before = queries.received_quantities(self.s, self.order.id)
        unconfirmed = {k: q - before.get(k, Decimal(0)) for k, q in delivered.items() if q > before.get(k, Decimal(0))}
        quantities, problems = self._quantities(reply, approved, unconfirmed)
        if problems or not quantities:
            return self.refuse(errors.QuantitiesUnclear(tuple(problems) or ("everything delivered is already received",)))
        receipt = Receipt(order_id=self.order.id, by=self.message.sender, inbound_id=self.row.id, created_at=self.now)
        self.s.add(receipt)
        self.s.flush()
        self.s.add_all(ReceiptLine(receipt_id=receipt.id, sku=key, quantity=q) for key, q in quantities.items())
        received = receiving.add(before, quantities)
        if not receiving.outstanding(approved, received) and self.order.status is not OrderStatus.INVOICED:
            self.order.status = OrderStatus.RECEIVED
        differs = {k: q for k, q in received.items() if q != delivered.get(k, Decimal(0))}
        self._event("received", f"received {_listed(quantities)}"
                    + (f"; differs from what was delivered ({_listed(delivered)})" if differs else ""))
        self._rematch(approved, received)
        self.app.notifier.received(self.s, self.order, quantities, delivered, received, decision.note)
        return self._applied("received")

    def _rematch(self, approved: Sequence[Line], received: dict) -> None:
        """An invoice that waited for the goods is matched again now that more arrived."""
        invoice = queries.invoice_of(self.s, self.order.id)
        if invoice is None or not invoice.hold:
            return
        invoice.hold = receiving.three_way(approved, received, invoice.total_read).hold
        self._event("payment_released" if not invoice.hold else "payment_held",
                    invoice.hold or f"invoice {invoice.number or ''} matches what was received: payment due "
                                    f"{invoice.due_date}")

    def _claim(self, decision: OpenClaim) -> Outcome:
        self.s.add(Claim(order_id=self.order.id, kind=decision.kind, text=decision.text[:2000],
                         by=self.message.sender, inbound_id=self.row.id, created_at=self.now))
        self._event("claim", f"{decision.kind}: {decision.text[:200]}")
        author = self.message.sender_name or self.message.sender
        self.app.notifier.comment(self.s, self.order, True, author, f"{decision.kind.upper()}: {decision.text}")
        return self._applied(f"claim ({decision.kind})")

    def _keep_documents(self, kind: str) -> None:
        for document in (*self.documents, *(ScanDocument(a.filename, a.content_type, "", a) for a in self.originals)):
            self._keep(document.file, document.filename, document.content_type, kind, None)

    # --- comments ------------------------------------------------------------------------

    def _comment(self, decision: RelayComment) -> Outcome:
        author = self.message.sender_name or self.message.sender
        queries.add_comment(self.s, order_id=self.order.id, author=self.message.sender, text=decision.text,
                            inbound_id=self.row.id, created_at=self.now)
        self._event("comment", f"from {self.message.sender}: {decision.text[:200]}")
        self.app.notifier.comment(self.s, self.order, decision.to is Role.SUPPLIER, author, decision.text)
        return self._applied("comment relayed")

    # --- helpers -------------------------------------------------------------------------

    def _view(self, revision: Revision, lines: Sequence[Line] | None = None, send_held: bool = False) -> BillView:
        """`lines`: the revision's lines when this message just wrote them (no need to read them back)."""
        lines = queries.revision_lines(self.s, revision.id) if lines is None else lines
        earlier = [r for r in queries.revisions_of(self.s, self.order.id)
                   if r.number < revision.number and r.status in DECIDED_BEFORE]
        previous = queries.revision_lines(self.s, earlier[-1].id) if earlier else None
        return bill_view(revision.number, self.order.currency, lines,
                         queries.order_lines(self.s, self.order.id), previous, origin_of(self.s, revision, send_held))

    def _event(self, kind: str, detail: str, revision_id: int | None = None) -> None:
        queries.add_event(self.s, self.order.id, self.now, self.message.sender, kind, detail,
                          revision_id=revision_id, inbound_id=self.row.id)

    def _applied(self, disposition: str) -> Outcome:
        return Outcome(InboundStatus.APPLIED, disposition, self.order.id)


def _listed(quantities: dict) -> str:
    return ", ".join(f"{quantity} {key}" for key, quantity in quantities.items())


def line_notes(bill: BillFromDocuments) -> tuple[LineNote, ...]:
    return tuple(LineNote(_where(source), "; ".join(source.remarks)[:2000], source.uncertain)
                 for source in bill.sources)


def _where(source: LineSource) -> str:
    printed = f" (“{source.printed_as}”)" if source.printed_as else ""
    return f"{source.where}{printed}"[:1000]


def origin_of(s: Session, revision: Revision, send_held: bool = False) -> BillOrigin | None:
    """How a revision was read, for the emails: None when it came on the bot's own sheet."""
    if not revision.read_from:
        return None
    doubts = tuple(line for line in revision.doubts.split("\n") if line)
    return BillOrigin(revision.read_from, bool(revision.reconciled), doubts,
                      tuple(queries.revision_notes(s, revision.id)), send_held)


def _text_type(filename: str) -> str:
    return "text/csv" if filename.lower().endswith(".csv") else "application/octet-stream"


def _invoice_summary(invoice: Invoice, currency: str) -> str:
    read = f"read total {invoice.total_read}" if invoice.total_read is not None else "total not readable"
    number = f"no. {invoice.number}, " if invoice.number else ""
    discount = (f"; {currency} {invoice.discount_amount} off if paid by {invoice.discount_until}"
                if invoice.discount_until else "")
    return (f"invoice {number}dated {invoice.invoice_date}, {read} ({invoice.read_method}); "
            f"approved {currency} {invoice.total_expected}; due {invoice.due_date} ({invoice.terms}){discount}")
