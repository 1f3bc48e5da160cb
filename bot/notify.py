"""Every email the bot sends, rendered and queued in the outbox of the caller's transaction."""
from __future__ import annotations

from collections.abc import Callable, Sequence
import io
import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot import bills, languages
from bot.approval import StepRequest
from bot.compose import Outgoing, compose_chunks, new_message_id
from bot.config import Config
from bot.errors import UserError
from bot.render import Action, Renderer
from bot.supplier_list import ListedOrder, listed_orders
from bot.tokens import new_token, reply_address
from parsers.bill_sheet import ODS_TYPE, XLSX_TYPE, SheetHeader, write_bill_sheet
from parsers.records import AnyAttachment, Attachment, Line, ParsedMessage
from parsers.reply import REPLY_MARKER, CommandKind
from storage import queries
from storage.files import FileStore
from storage.queries import LineNote
from storage.models import Comment, Invoice, Payment, PurchaseOrder, ReplyToken, Supplier

log = logging.getLogger("supplierbot.notify")
SHEET_MEDIA_TYPES = (XLSX_TYPE, ODS_TYPE)  # the bill sheet among the files of an approval request
LIST_AS_SHEET_FROM = 15  # a longer list of orders comes as a spreadsheet too
OUTBOX_INLINE_BYTES = 1 << 20  # an email with more attachments than this is written to a file, not its row


@dataclass(frozen=True)
class BillView:
    """A set of lines as the emails show it: each line against a base, and totals."""

    number: int | None
    currency: str
    changes: list[bills.LineChange]
    totals: bills.Totals
    base_totals: bills.Totals
    changed: bool
    previous: list[bills.LineChange] | None = None  # against the previous revision, from rev 2
    origin: BillOrigin | None = None  # read from the supplier's own document, not from our sheet

    def note(self, index: int) -> LineNote | None:
        """Where the line at `index` of the bill (not of the removed ones) was read, if it was."""
        notes = self.origin.notes if self.origin else ()
        return notes[index] if index < len(notes) else None


@dataclass(frozen=True)
class BillOrigin:
    """A bill read from the supplier's own files: from what, whether it all added up, and why not."""

    read_from: str
    reconciled: bool
    doubts: tuple[str, ...]  # document-level: unreadable rows, totals that differ
    notes: tuple[LineNote, ...]  # one per line of the bill
    send_held: bool = False  # SEND came with it, but it did not add up: it waits as a draft

    @property
    def doubtful_lines(self) -> int:
        return sum(1 for note in self.notes if note.doubtful)


def bill_view(number: int | None, currency: str, lines: Sequence[Line], base: Sequence[Line],
              previous: Sequence[Line] | None = None, origin: BillOrigin | None = None) -> BillView:
    changes = bills.diff_lines(base, lines)
    against_previous = bills.diff_lines(previous, lines) if previous is not None else None
    return BillView(number, currency, changes, bills.totals(lines), bills.totals(base),
                    bills.has_changes(changes), against_previous, origin)


def orders_sheet(items: Sequence[ListedOrder]) -> Attachment:
    """The list as a workbook the supplier can sort and filter."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Orders"
    sheet.append(["Order", "Where it stands", "Waits for you", "Amount", "Currency", "Since", "Reply to"])
    for item in items:
        sheet.append([item.ref, item.state, "yes" if item.yours else "", float(item.amount), item.currency,
                      item.since, item.reply_to])
    for column, width in zip("ABCDEFG", (15, 46, 13, 12, 9, 12, 44)):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    workbook.save(out)
    return Attachment("orders.xlsx", XLSX_TYPE, out.getvalue())


@dataclass(frozen=True)
class DigestItem:
    """One line of a supplier's daily digest."""

    ref: str
    state: str  # unprocessed | rejected | awaiting invoice
    since: date
    reply_to: str
    status: str = ""  # the order's status, for a state worded in another language


@dataclass(frozen=True)
class Thread:
    """The inbound message an email answers (for In-Reply-To/References)."""

    message_id: str
    references: tuple[str, ...]

    @classmethod
    def of(cls, message: ParsedMessage | None) -> Thread | None:
        if message is None or not message.message_id:
            return None
        return cls(message.message_id, message.references)


@dataclass(frozen=True)
class QueuedEmail:
    """An email in the outbox, as queued: its row is written by a plain INSERT (nothing reads it
    back as an object in the transaction that writes it)."""

    id: int
    message_id: str
    raw: bytes  # the email, or where it was spilled (see FileStore.spill)


class Notifier:
    def __init__(self, config: Config, renderer: Renderer, clock: Callable[[], datetime],
                 files: FileStore | None = None) -> None:
        self.config, self.renderer, self.clock = config, renderer, clock
        self.files = files  # where an email with large attachments is written (else it is kept in its row)

    # --- to the supplier -----------------------------------------------------------------

    def new_order(self, s: Session, order: PurchaseOrder, lines: Sequence[Line],
                  files: tuple[AnyAttachment, ...] = ()) -> QueuedEmail:
        """`files`: what the buyer sent with their ORDER (drawings, specifications), attached as sent."""
        supplier = s.get(Supplier, order.supplier_id)
        view = bill_view(None, order.currency, lines, lines)
        sheet = self.sheet_attachment(order, supplier, lines)
        context = {"bill": view, "sheet_name": sheet.filename}
        subject = self._subject(supplier, "new_order", ref=order.ref, customer=self.config.bot.customer_name)
        return self._to_supplier(s, order, "new_order", subject, context, None, (sheet, *files))

    def draft_received(self, s: Session, order: PurchaseOrder, view: BillView, thread: Thread | None) -> QueuedEmail:
        supplier = s.get(Supplier, order.supplier_id)
        subject = self._subject(supplier, "draft_received", ref=order.ref, number=view.number,
                                total=self._money(supplier, view.totals.gross, order.currency))
        return self._to_supplier(s, order, "draft_received", subject, {"bill": view}, thread,
                                 actions=(CommandKind.SEND,))

    def submitted(self, s: Session, order: PurchaseOrder, view: BillView, thread: Thread | None) -> QueuedEmail:
        subject = self._subject(s.get(Supplier, order.supplier_id), "submitted", ref=order.ref, number=view.number)
        return self._to_supplier(s, order, "submitted", subject, {"bill": view}, thread)

    def approved(self, s: Session, order: PurchaseOrder, view: BillView, note: str, by: str) -> QueuedEmail:
        """What was approved, line by line, with our sheet of that revision as the supplier's record."""
        lines = [change.line for change in view.changes if change.kind is not bills.ChangeKind.REMOVED]
        supplier = s.get(Supplier, order.supplier_id)
        sheet = self.sheet_attachment(order, supplier, lines)
        sheet = replace(sheet, filename=f"{order.ref}-bill-rev{view.number}.xlsx")
        subject = self._subject(supplier, "approved", ref=order.ref, number=view.number)
        context = {"bill": view, "note": note, "by": by, "sheet_name": sheet.filename}
        return self._to_supplier(s, order, "approved", subject, context, None, (sheet,),
                                 actions=(CommandKind.DELIVERED,))

    def rejected(self, s: Session, order: PurchaseOrder, view: BillView, lines: Sequence[Line],
                 reason: str, by: str) -> QueuedEmail:
        """What was rejected, line by line, and why; the sheet of that revision to correct, named
        after it so it is not mistaken for the order's first sheet."""
        supplier = s.get(Supplier, order.supplier_id)
        sheet = self.sheet_attachment(order, supplier, lines)
        sheet = replace(sheet, filename=f"{order.ref}-bill-rev{view.number}.xlsx")
        subject = self._subject(supplier, "rejected", ref=order.ref, number=view.number)
        context = {"bill": view, "reason": reason, "by": by, "sheet_name": sheet.filename}
        return self._to_supplier(s, order, "rejected", subject, context, None, (sheet,))

    # --- to the buyers -------------------------------------------------------------------

    def approval_request(self, s: Session, order: PurchaseOrder, view: BillView, revision_id: int,
                         files: tuple[AnyAttachment, ...], superseded: int | None,
                         notes: Sequence[Comment], step: StepRequest | None = None,
                         to: tuple[str, ...] = (), rejected_before: int | None = None) -> QueuedEmail:
        """To the order's buyers, or to a later step's approvers (`to`), with a token bound to the
        revision and the step. `rejected_before`: the rejected revision that kept tolerance from
        approving this one."""
        token = self._token(s, order.id, revision_id, "buyer", step.number if step else None)
        supplier = s.get(Supplier, order.supplier_id)
        subject = languages.subject(self._company, "approval_request", ref=order.ref, number=view.number,
                                    total=languages.money(view.totals.gross, order.currency, self._company))
        if step and step.of > 1:
            subject += languages.subject(self._company, "approval_step", number=step.number, of=step.of,
                                         name=step.name)
        scans = [f.filename for f in files if f.content_type not in SHEET_MEDIA_TYPES]
        context = {"bill": view, "supplier": supplier, "superseded": superseded, "notes": notes, "scans": scans,
                   "step": step if step and step.of > 1 else None, "rejected_before": rejected_before}
        mail = self._outgoing("approval_request", to or self._buyer_addresses(s, order), subject,
                              self._context(order, context), token, None, files, language=self._company,
                              actions=(CommandKind.APPROVE, CommandKind.REJECT))
        return self._queue(s, mail, order.id, revision_id)

    def auto_approval(self, s: Session, order: PurchaseOrder, view: BillView, revision_id: int,
                      files: tuple[AnyAttachment, ...], reasons: Sequence[str], until: datetime) -> QueuedEmail:
        """A bill within the supplier's tolerance: the buyers are told what and why, and may REJECT until `until`."""
        token = self._token(s, order.id, revision_id, "buyer")
        subject = languages.subject(self._company, "auto_approval", ref=order.ref, number=view.number,
                                    total=languages.money(view.totals.gross, order.currency, self._company))
        context = {"bill": view, "supplier": s.get(Supplier, order.supplier_id), "reasons": reasons,
                   "until": until}
        mail = self._outgoing("auto_approval", self._buyer_addresses(s, order), subject,
                              self._context(order, context), token, None, files, language=self._company,
                              actions=(CommandKind.REJECT,))
        return self._queue(s, mail, order.id, revision_id)

    def order_echo(self, s: Session, order: PurchaseOrder, lines: Sequence[Line], to: str, sent: bool,
                   read_from: str, thread: Thread | None, documents: Sequence[str] = (),
                   unconfirmed: bool = False) -> QueuedEmail:
        """A buyer's ORDER as the bot understood it: waiting for their SEND, or sent to the supplier.
        `unconfirmed`: they asked to send at once, but their email could not be confirmed as theirs."""
        supplier = s.get(Supplier, order.supplier_id)
        assert supplier is not None
        view = bill_view(None, order.currency, lines, lines)
        subject = languages.subject(self._company, "order_sent" if sent else "order_draft", ref=order.ref,
                                    supplier=supplier.email,
                                    total=languages.money(view.totals.gross, order.currency, self._company))
        context = self._context(order, {"bill": view, "supplier": supplier, "sent": sent, "read_from": read_from,
                                        "documents": documents, "unconfirmed": unconfirmed})
        actions = (CommandKind.CANCEL,) if sent else (CommandKind.SEND, CommandKind.CANCEL)
        mail = self._outgoing("order_echo", (to,), subject, context, self._token(s, order.id, None, "buyer"), thread,
                              language=self._company, actions=actions, buttons=ORDER_BUTTONS)
        return self._queue(s, mail, order.id, None)

    def draft_reminder(self, s: Session, order: PurchaseOrder, days: int) -> QueuedEmail:
        """A buyer's draft order waits for their SEND: the supplier has not got it."""
        supplier = s.get(Supplier, order.supplier_id)
        assert supplier is not None
        lines = queries.order_lines(s, order.id)
        view = bill_view(None, order.currency, lines, lines)
        buyers = self._buyer_addresses(s, order)
        subject = languages.subject(self._company, "draft_reminder", ref=order.ref, supplier=supplier.email)
        context = self._context(order, {"bill": view, "supplier": supplier, "days": days})
        mail = self._outgoing("draft_reminder", buyers, subject, context, self._token(s, order.id, None, "buyer"),
                              self._thread_to(s, order, buyers), language=self._company,
                              actions=(CommandKind.SEND, CommandKind.CANCEL), buttons=ORDER_BUTTONS)
        return self._queue(s, mail, order.id, None)

    def order_template(self, s: Session, to: str, sheet: Attachment, thread: Thread | None) -> QueuedEmail:
        """TEMPLATE: a blank order sheet, and how to order with it."""
        bot = self.config.bot
        context = {"customer": bot.customer_name, "marker": REPLY_MARKER, "waiting": None, "bot_address": bot.address,
                   "short_names": sorted(self.config.buyers.suppliers), "sheet_name": sheet.filename}
        subject = languages.subject(self._company, "order_template", customer=bot.customer_name)
        mail = self._outgoing("order_template", (to,), subject, context, None, thread, (sheet,),
                              language=self._company)
        return self._queue(s, mail, None, None)

    def invoice_received(self, s: Session, order: PurchaseOrder, invoice: Invoice, number: int,
                         document: Attachment, thread: Thread | None) -> None:
        context = {"invoice": invoice, "number": number, "filename": document.filename}
        subject = languages.subject(self._company, "invoice_received", ref=order.ref,
                                    due=languages.day(invoice.due_date, self._company))
        subject += languages.subject(self._company, "total_differs") if invoice.mismatch else ""
        mail = self._outgoing("invoice_received", self._buyer_addresses(s, order), subject,
                              self._context(order, context), self._token(s, order.id, None, "buyer"),
                              self._thread_to(s, order, self._buyer_addresses(s, order)), (document,),
                              language=self._company)
        self._queue(s, mail, order.id, invoice.revision_id)
        supplier = s.get(Supplier, order.supplier_id)
        subject = self._subject(supplier, "invoice_confirmed", ref=order.ref,
                                due=languages.day(invoice.due_date, self._language(supplier)))
        self._to_supplier(s, order, "invoice_confirmed", subject, context, thread)

    def remittance(self, s: Session, order: PurchaseOrder, payment: Payment, invoice: Invoice) -> QueuedEmail:
        supplier = s.get(Supplier, order.supplier_id)
        subject = self._subject(supplier, "remittance", ref=order.ref,
                                total=self._money(supplier, payment.amount, order.currency))
        return self._to_supplier(s, order, "remittance", subject, {"payment": payment, "invoice": invoice}, None)

    def digest(self, s: Session, supplier: Supplier, items: Sequence[DigestItem], day: date) -> QueuedEmail:
        waiting = queries.waiting_for_supplier(s, supplier.id)
        subject = self._subject(supplier, "digest", customer=self.config.bot.customer_name, waiting=waiting.total)
        context = {"items": items, "waiting": waiting, "day": day, "customer": self.config.bot.customer_name,
                   "marker": REPLY_MARKER}
        mail = self._outgoing("digest", (supplier.email,), subject, context, None, None,
                              language=self._language(supplier))
        return self._queue(s, mail, None, None)

    def reminder(self, s: Session, order: PurchaseOrder, kind: str, period: int, to_escalation: str = "",
                 approvers: tuple[str, ...] = (), step: int | None = None) -> QueuedEmail:
        """kind: unprocessed | invoice (to the supplier), approval | escalation (to buyers / the escalation address)."""
        context = {"kind": kind, "period": period}
        if kind in ("unprocessed", "invoice"):
            supplier = s.get(Supplier, order.supplier_id)
            assert supplier is not None
            subject = self._subject(supplier, f"reminder_{kind}", ref=order.ref)
            return self._to_supplier(s, order, "reminder", subject, context,
                                     self._thread_to(s, order, (supplier.email,)))
        pending = next(r for r in queries.revisions_of(s, order.id) if r.status.value == "submitted")
        context["number"] = pending.number
        to = (to_escalation,) if kind == "escalation" else approvers or self._buyer_addresses(s, order)
        subject = languages.subject(self._company, f"reminder_{kind}", ref=order.ref, number=pending.number)
        token = self._token(s, order.id, pending.id, "buyer", step)
        mail = self._outgoing("reminder", to, subject, self._context(order, context), token,
                              self._thread_to(s, order, self._buyer_addresses(s, order)), language=self._company,
                              actions=(CommandKind.APPROVE, CommandKind.REJECT))
        return self._queue(s, mail, order.id, pending.id)

    def documents_received(self, s: Session, order: PurchaseOrder, names: Sequence[str], draft: int | None,
                           thread: Thread | None) -> QueuedEmail:
        subject = self._subject(s.get(Supplier, order.supplier_id), "documents_received", ref=order.ref,
                                count=len(names))
        return self._to_supplier(s, order, "documents_received", subject, {"names": names, "draft": draft}, thread,
                                 actions=(CommandKind.SEND,) if draft else ())

    def decision_recorded(self, s: Session, order: PurchaseOrder, number: int, decision: str,
                          text: str, by: str, thread: Thread | None, step: int | None = None,
                          rejectable: int | None = None) -> QueuedEmail:
        """`step`: an approval step of several was approved, and the next one asked. `rejectable`: the
        revision whose step the bot approved by tolerance: its buyers may still REJECT it (the token
        is bound to that revision and step) until the next step decides."""
        subject = languages.subject(self._company, "decision_recorded", ref=order.ref, number=number,
                                    decision=languages.subject(self._company, f"decision_{decision}"))
        if step:
            subject += languages.subject(self._company, "at_step", step=step)
        context = self._context(order, {"number": number, "decision": decision, "text": text, "by": by,
                                        "step": step, "rejectable": rejectable is not None})
        token = self._token(s, order.id, rejectable, "buyer", step if rejectable is not None else None)
        mail = self._outgoing("decision_recorded", self._buyer_addresses(s, order), subject, context, token, thread,
                              language=self._company, actions=(CommandKind.REJECT,) if rejectable is not None else ())
        return self._queue(s, mail, order.id, None)

    def delivered(self, s: Session, order: PurchaseOrder, number: int, quantities: dict, still_open: dict,
                  note: str, thread: Thread | None) -> None:
        """The buyers are asked to confirm what arrived; the supplier gets the record."""
        context = self._context(order, {"number": number, "quantities": quantities, "still_open": still_open,
                                        "note": note})
        subject = languages.subject(self._company, "delivery_to_confirm", ref=order.ref, number=number)
        mail = self._outgoing("delivery_to_confirm", self._buyer_addresses(s, order), subject, context,
                              self._token(s, order.id, None, "buyer"), None, language=self._company,
                              actions=(CommandKind.RECEIVED,))
        self._queue(s, mail, order.id, None)
        subject = self._subject(s.get(Supplier, order.supplier_id), "delivery_recorded", ref=order.ref, number=number)
        self._to_supplier(s, order, "delivery_recorded", subject, context, thread)

    def received(self, s: Session, order: PurchaseOrder, quantities: dict, delivered: dict, received: dict,
                 note: str) -> None:
        """The supplier learns what the company confirmed, and where it differs from the deliveries."""
        differs = {key: (delivered.get(key), quantity) for key, quantity in received.items()
                   if quantity != delivered.get(key)}
        context = {"quantities": quantities, "differs": differs, "note": note}
        supplier = s.get(Supplier, order.supplier_id)
        subject = self._subject(supplier, "receipt_confirmed", ref=order.ref, customer=self.config.bot.customer_name)
        subject += self._subject(supplier, "receipt_differs") if differs else ""
        self._to_supplier(s, order, "receipt_confirmed", subject, context, None)

    def cancelled(self, s: Session, order: PurchaseOrder, reason: str, by: str, thread: Thread | None,
                  tell_supplier: bool = True) -> None:
        """The supplier is told the order is off and why (unless it never had it); the buyers get the
        record in their thread."""
        context = {"reason": reason, "by": by}
        if tell_supplier:
            subject = self._subject(s.get(Supplier, order.supplier_id), "cancelled", ref=order.ref,
                                    customer=self.config.bot.customer_name)
            self._to_supplier(s, order, "cancelled", subject, context, None)
        mail = self._outgoing("cancel_recorded", self._buyer_addresses(s, order),
                              languages.subject(self._company, "cancel_recorded", ref=order.ref),
                              self._context(order, context), None, thread, language=self._company)
        self._queue(s, mail, order.id, None)

    def orders_list(self, s: Session, supplier: Supplier, to: str, include_closed: bool,
                    thread: Thread | None) -> int:
        """A supplier's list of orders, each with the address that lands in its thread; as a
        spreadsheet too when it is long. Returns how many orders it lists."""
        bot = self.config.bot
        items = listed_orders(s, supplier, include_closed, bot.address, bot.reply_separator,
                              lambda order: queries.latest_supplier_token(s, order.id)
                              or self._token(s, order.id, None, "supplier"))
        yours = sum(1 for item in items if item.yours)
        which = self._subject(supplier, "orders_all" if include_closed else "orders_open")
        subject = self._subject(supplier, "orders_list", which=which, customer=bot.customer_name,
                                count=len(items), yours=yours)
        context = {"items": items, "yours": yours, "include_closed": include_closed, "customer": bot.customer_name,
                   "marker": REPLY_MARKER, "as_sheet": len(items) > LIST_AS_SHEET_FROM, "waiting": None}
        sheet = (orders_sheet(items),) if context["as_sheet"] else ()
        mail = self._outgoing("orders_list", (to,), subject, context, None, thread, sheet,
                              language=self._language(supplier))
        self._queue(s, mail, None, None)
        return len(items)

    # --- either way ----------------------------------------------------------------------

    def comment(self, s: Session, order: PurchaseOrder, to_supplier: bool, author: str, text: str) -> QueuedEmail:
        """Relayed in the recipient's own thread of this order, with a reply token of its own."""
        context = {"author": author, "text": text}
        if to_supplier:
            supplier = s.get(Supplier, order.supplier_id)
            assert supplier is not None
            thread = self._thread_to(s, order, (supplier.email,))
            subject = self._subject(supplier, "comment", ref=order.ref, author=author)
            return self._to_supplier(s, order, "comment", subject, context, thread)
        buyers = self._buyer_addresses(s, order)
        mail = self._outgoing("comment", buyers, languages.subject(self._company, "question", ref=order.ref, author=author),
                              self._context(order, context), self._token(s, order.id, None, "buyer"),
                              self._thread_to(s, order, buyers), language=self._company)
        return self._queue(s, mail, order.id, None)

    @staticmethod
    def _thread_to(s: Session, order: PurchaseOrder, recipients: tuple[str, ...]) -> Thread | None:
        last = queries.last_message_to(s, order.id, ",".join(recipients))
        return Thread(last.message_id, ()) if last else None

    def refusal(self, s: Session, error: UserError, message: ParsedMessage,
                order: PurchaseOrder | None) -> QueuedEmail | None:
        """The answer to an unusable message; None once the sender's daily budget is spent."""
        since = self.clock() - timedelta(days=1)
        if queries.error_replies_since(s, message.sender, since) >= self.config.bot.error_replies_per_sender_per_day:
            return None
        ref = f"[{order.ref}] " if order else ""
        supplier = queries.supplier_by_email(s, message.sender)
        language = self._language(supplier) if supplier else self._company
        summary = languages.error_summary(error.template, error.summary, language)
        subject = f"{ref}{languages.subject(language, 'not_processed')}: {summary}"
        context = {"error": error, "subject": message.subject, "order": order,
                   "customer": self.config.bot.customer_name, "marker": REPLY_MARKER,
                   "bot_address": self.config.bot.address,
                   "waiting": queries.waiting_for_supplier(s, supplier.id) if supplier else None}
        # No reply token: a refused sender gains no address; a reply still threads by Message-ID.
        mail = self._outgoing(f"errors/{error.template}", (message.sender,), subject, context, None,
                              Thread.of(message), automatic="auto-replied", language=language)
        return self._queue(s, replace(mail, purpose=f"error:{error.template}"), order.id if order else None, None)

    def operator_report(self, s: Session, subject: str, text: str) -> QueuedEmail | None:
        """Something the operator must look at; logged always, mailed when an address is configured."""
        log.warning("operator report", extra={"about": subject.split(":", 1)[0]})  # no addresses in logs
        if not self.config.bot.operator_address:
            return None
        mail = Outgoing("operator", (self.config.bot.operator_address,), f"[supplierbot] {subject}", text,
                        self.renderer.render("_plain_text", {"text": text, "customer": self.config.bot.customer_name}).html)
        return self._queue(s, mail, None, None)

    # --- building blocks -----------------------------------------------------------------

    def sheet_attachment(self, order: PurchaseOrder, supplier: Supplier | None, lines: Sequence[Line]) -> Attachment:
        header = SheetHeader(order.ref, self.config.bot.customer_name,
                             supplier.email if supplier else "", order.currency)
        return Attachment(f"{order.ref}-bill.xlsx", XLSX_TYPE, write_bill_sheet(header, lines, self._language(supplier)))

    def _to_supplier(self, s: Session, order: PurchaseOrder, template: str, subject: str,
                     extra: dict[str, Any], thread: Thread | None,
                     attachments: tuple[AnyAttachment, ...] = (),
                     actions: tuple[CommandKind, ...] = ()) -> QueuedEmail:
        supplier = s.get(Supplier, order.supplier_id)
        assert supplier is not None
        s.flush()
        context = self._context(order, {**extra, "supplier": supplier,
                                        "waiting": queries.waiting_for_supplier(s, supplier.id)})
        token = self._token(s, order.id, None, "supplier")
        mail = self._outgoing(template, (supplier.email,), subject, context, token, thread, attachments,
                              language=self._language(supplier), actions=actions)
        return self._queue(s, mail, order.id, None)

    @property
    def _company(self) -> str:
        return self.config.bot.language

    def _language(self, supplier: Supplier | None) -> str:
        return languages.reader_language(supplier.language if supplier else "", self.config.bot.language)

    def _subject(self, supplier: Supplier | None, key: str, **values: object) -> str:
        return languages.subject(self._language(supplier), key, **values)

    def _money(self, supplier: Supplier | None, amount: Any, currency: str) -> str:
        return languages.money(amount, currency, self._language(supplier))

    def _context(self, order: PurchaseOrder, extra: dict[str, Any]) -> dict[str, Any]:
        return {"order": order, "customer": self.config.bot.customer_name, "marker": REPLY_MARKER,
                "waiting": None, **extra}

    def _buyer_addresses(self, s: Session, order: PurchaseOrder) -> tuple[str, ...]:
        return tuple(buyer.email for buyer in queries.buyers_of(s, order.id))

    def _token(self, s: Session, order_id: int, revision_id: int | None, audience: str,
               step: int | None = None) -> str:
        token = new_token()  # a plain INSERT: nothing reads the row back as an object in this transaction
        queries.insert_rows(s, ReplyToken, {"token": token, "order_id": order_id, "revision_id": revision_id,
                                            "step": step, "audience": audience, "created_at": self.clock()})
        return token

    def _outgoing(self, template: str, to: tuple[str, ...], subject: str, context: dict[str, Any],
                  token: str | None, thread: Thread | None, attachments: tuple[AnyAttachment, ...] = (),
                  automatic: str = "auto-generated", language: str = languages.DEFAULT_LANGUAGE,
                  actions: tuple[CommandKind, ...] = (), buttons: ButtonTable | None = None) -> Outgoing:
        bot = self.config.bot
        reply_to = reply_address(bot.address, token, bot.reply_separator) if token else None
        shown = (action_buttons(actions, reply_to, subject, language, self.config.keywords, buttons or BUTTONS)
                 if reply_to else ())
        rendered = self.renderer.render(template, {**context, "actions": shown}, language)
        return Outgoing(
            purpose=template.removeprefix("errors/"), to=to, subject=subject, text=rendered.text,
            html=rendered.html, reply_to=reply_to,
            in_reply_to=thread.message_id if thread else None,
            references=(*thread.references, thread.message_id) if thread else (),
            attachments=attachments, automatic=automatic,
        )

    def _queue(self, s: Session, mail: Outgoing, order_id: int | None, revision_id: int | None) -> QueuedEmail:
        now = self.clock()
        message_id = new_message_id(self.config.bot.address.partition("@")[2])
        sender_name = f"{self.config.bot.customer_name} purchasing"
        chunks = compose_chunks(mail, self.config.bot.address, sender_name, message_id, now)
        if self.files is not None and sum(a.size for a in mail.attachments) > OUTBOX_INLINE_BYTES:
            raw = self.files.spill(chunks, "outbox")  # written a piece at a time; synced before the commit
        else:
            raw = b"".join(chunks)
        s.flush()  # what the row refers to first, as when it was an ORM object
        row = QueuedEmail(queries.add_outbox(s, {
            "message_id": message_id, "order_id": order_id, "revision_id": revision_id, "purpose": mail.purpose,
            "recipients": ",".join(mail.to), "subject": mail.subject, "created_at": now, "raw": raw}),
            message_id, raw)
        if order_id is not None:
            queries.add_event(s, order_id, now, "bot", "email_queued",
                              f"{mail.purpose} to {', '.join(mail.to)}", revision_id=revision_id, outbox_id=row.id)
        return row


#: Per language, per command: (label, the command word, the words under the command line).
ButtonTable = dict[str, dict[CommandKind, tuple[str, str, str]]]

#: What each button writes and says, per language.
BUTTONS: ButtonTable = {
    "en": {CommandKind.APPROVE: ("Approve", "approve", ""),
           CommandKind.REJECT: ("Reject…", "reject", "reason: "),
           CommandKind.SEND: ("Submit this bill (SEND)", "send", ""),
           CommandKind.DELIVERED: ("Report delivery (DELIVERED)", "delivered", ""),
           CommandKind.RECEIVED: ("Confirm receipt (RECEIVED)", "received", "")},
    "de": {CommandKind.APPROVE: ("Freigeben", "freigeben", ""),
           CommandKind.REJECT: ("Ablehnen…", "ablehnen", "Grund: "),
           CommandKind.SEND: ("Rechnung absenden (SENDEN)", "senden", ""),
           CommandKind.DELIVERED: ("Lieferung melden (GELIEFERT)", "geliefert", ""),
           CommandKind.RECEIVED: ("Eingang bestätigen (ERHALTEN)", "erhalten", "")},
}


#: A buyer's own order, not yet sent or sent: SEND sends the order, CANCEL drops it.
ORDER_BUTTONS: ButtonTable = {
    "en": {CommandKind.SEND: ("Send the order (SEND)", "send", ""),
           CommandKind.CANCEL: ("Cancel…", "cancel", "reason: ")},
    "de": {CommandKind.SEND: ("Bestellung absenden (SENDEN)", "senden", ""),
           CommandKind.CANCEL: ("Stornieren…", "stornieren", "Grund: ")},
}


def action_buttons(commands: tuple[CommandKind, ...], reply_to: str, subject: str, language: str,
                   keywords: dict[CommandKind, tuple[str, ...]],
                   buttons: ButtonTable = BUTTONS) -> tuple[Action, ...]:
    """A reply to `reply_to` with the command as its first line, in the reader's language when the
    configured keywords accept that word, else in the first word they do accept."""
    table = buttons.get(language, buttons[languages.DEFAULT_LANGUAGE])
    shown: list[Action] = []
    for command in commands:
        label, word, second_line = table[command]
        accepted = [w.casefold() for w in keywords.get(command, ())]
        if word not in accepted:
            word = accepted[0] if accepted else word
        body = f"{word.upper()}\n{second_line}" if second_line else f"{word.upper()}\n"
        shown.append(Action(label, reply_to, f"Re: {subject}", body,
                            primary=command not in (CommandKind.REJECT, CommandKind.CANCEL)))
    return tuple(shown)
