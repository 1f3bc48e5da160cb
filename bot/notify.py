"""Every email the bot sends, rendered and queued in the outbox of the caller's transaction."""
from __future__ import annotations

from collections.abc import Callable, Sequence
import io
import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot import bills
from bot.approval import StepRequest
from bot.compose import Outgoing, compose, new_message_id
from bot.config import Config
from bot.errors import UserError
from bot.render import Renderer
from bot.supplier_list import ListedOrder, listed_orders
from bot.tokens import new_token, reply_address
from parsers.bill_sheet import ODS_TYPE, XLSX_TYPE, SheetHeader, write_bill_sheet
from parsers.records import Attachment, Line, ParsedMessage
from parsers.reply import REPLY_MARKER
from storage import queries
from storage.queries import LineNote
from storage.models import Comment, Invoice, OutboxMessage, Payment, PurchaseOrder, ReplyToken, Supplier

log = logging.getLogger("supplierbot.notify")
SHEET_MEDIA_TYPES = (XLSX_TYPE, ODS_TYPE)  # the bill sheet among the files of an approval request
LIST_AS_SHEET_FROM = 15  # a longer list of orders comes as a spreadsheet too


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


class Notifier:
    def __init__(self, config: Config, renderer: Renderer, clock: Callable[[], datetime]) -> None:
        self.config, self.renderer, self.clock = config, renderer, clock

    # --- to the supplier -----------------------------------------------------------------

    def new_order(self, s: Session, order: PurchaseOrder, lines: Sequence[Line],
                  files: tuple[Attachment, ...] = ()) -> OutboxMessage:
        """`files`: what the buyer sent with their ORDER (drawings, specifications), attached as sent."""
        supplier = s.get(Supplier, order.supplier_id)
        view = bill_view(None, order.currency, lines, lines)
        sheet = self.sheet_attachment(order, supplier, lines)
        context = {"bill": view, "sheet_name": sheet.filename}
        subject = f"[{order.ref}] New order from {self.config.bot.customer_name}"
        return self._to_supplier(s, order, "new_order", subject, context, None, (sheet, *files))

    def draft_received(self, s: Session, order: PurchaseOrder, view: BillView, thread: Thread | None) -> OutboxMessage:
        subject = f"[{order.ref}] Draft bill rev {view.number} received — {bills.format_money(view.totals.gross, order.currency)}"
        return self._to_supplier(s, order, "draft_received", subject, {"bill": view}, thread)

    def submitted(self, s: Session, order: PurchaseOrder, view: BillView, thread: Thread | None) -> OutboxMessage:
        subject = f"[{order.ref}] Bill rev {view.number} submitted for approval"
        return self._to_supplier(s, order, "submitted", subject, {"bill": view}, thread)

    def approved(self, s: Session, order: PurchaseOrder, view: BillView, note: str, by: str) -> OutboxMessage:
        """What was approved, line by line, with our sheet of that revision as the supplier's record."""
        lines = [change.line for change in view.changes if change.kind is not bills.ChangeKind.REMOVED]
        sheet = self.sheet_attachment(order, s.get(Supplier, order.supplier_id), lines)
        sheet = replace(sheet, filename=f"{order.ref}-bill-rev{view.number}.xlsx")
        subject = f"[{order.ref}] Bill rev {view.number} approved — please deliver"
        context = {"bill": view, "note": note, "by": by, "sheet_name": sheet.filename}
        return self._to_supplier(s, order, "approved", subject, context, None, (sheet,))

    def rejected(self, s: Session, order: PurchaseOrder, view: BillView, lines: Sequence[Line],
                 reason: str, by: str) -> OutboxMessage:
        supplier = s.get(Supplier, order.supplier_id)
        sheet = self.sheet_attachment(order, supplier, lines)
        subject = f"[{order.ref}] Bill rev {view.number} rejected — please correct"
        context = {"bill": view, "reason": reason, "by": by, "sheet_name": sheet.filename}
        return self._to_supplier(s, order, "rejected", subject, context, None, (sheet,))

    # --- to the buyers -------------------------------------------------------------------

    def approval_request(self, s: Session, order: PurchaseOrder, view: BillView, revision_id: int,
                         files: tuple[Attachment, ...], superseded: int | None,
                         notes: Sequence[Comment], step: StepRequest | None = None,
                         to: tuple[str, ...] = ()) -> OutboxMessage:
        """To the order's buyers, or to a later step's approvers (`to`), with a token bound to the
        revision and the step."""
        token = self._token(s, order.id, revision_id, "buyer", step.number if step else None)
        supplier = s.get(Supplier, order.supplier_id)
        subject = (f"[{order.ref}] Bill rev {view.number} for approval — "
                   f"{bills.format_money(view.totals.gross, order.currency)}"
                   + (f" (step {step.number} of {step.of}: {step.name})" if step and step.of > 1 else ""))
        scans = [f.filename for f in files if f.content_type not in SHEET_MEDIA_TYPES]
        context = {"bill": view, "supplier": supplier, "superseded": superseded, "notes": notes, "scans": scans,
                   "step": step if step and step.of > 1 else None}
        mail = self._outgoing("approval_request", to or self._buyer_addresses(s, order), subject,
                              self._context(order, context), token, None, files)
        return self._queue(s, mail, order.id, revision_id)

    def auto_approval(self, s: Session, order: PurchaseOrder, view: BillView, revision_id: int,
                      files: tuple[Attachment, ...], reasons: Sequence[str], until: datetime) -> OutboxMessage:
        """A bill within the supplier's tolerance: the buyers are told what and why, and may REJECT until `until`."""
        token = self._token(s, order.id, revision_id, "buyer")
        subject = (f"[{order.ref}] Bill rev {view.number} approved within tolerance — "
                   f"{bills.format_money(view.totals.gross, order.currency)} (REJECT to stop it)")
        context = {"bill": view, "supplier": s.get(Supplier, order.supplier_id), "reasons": reasons,
                   "until": until}
        mail = self._outgoing("auto_approval", self._buyer_addresses(s, order), subject,
                              self._context(order, context), token, None, files)
        return self._queue(s, mail, order.id, revision_id)

    def order_echo(self, s: Session, order: PurchaseOrder, lines: Sequence[Line], to: str, sent: bool,
                   read_from: str, thread: Thread | None, documents: Sequence[str] = ()) -> OutboxMessage:
        """A buyer's ORDER as the bot understood it: waiting for their SEND, or sent to the supplier."""
        supplier = s.get(Supplier, order.supplier_id)
        assert supplier is not None
        view = bill_view(None, order.currency, lines, lines)
        total = bills.format_money(view.totals.gross, order.currency)
        subject = (f"[{order.ref}] Order sent to {supplier.email} — {total}" if sent
                   else f"[{order.ref}] Your order for {supplier.email}: reply SEND to send it — {total}")
        context = self._context(order, {"bill": view, "supplier": supplier, "sent": sent, "read_from": read_from,
                                        "documents": documents})
        mail = self._outgoing("order_echo", (to,), subject, context, self._token(s, order.id, None, "buyer"), thread)
        return self._queue(s, mail, order.id, None)

    def draft_reminder(self, s: Session, order: PurchaseOrder, days: int) -> OutboxMessage:
        """A buyer's draft order waits for their SEND: the supplier has not got it."""
        supplier = s.get(Supplier, order.supplier_id)
        assert supplier is not None
        lines = queries.order_lines(s, order.id)
        view = bill_view(None, order.currency, lines, lines)
        buyers = self._buyer_addresses(s, order)
        subject = f"[{order.ref}] Reminder: your order for {supplier.email} is not sent yet"
        context = self._context(order, {"bill": view, "supplier": supplier, "days": days})
        mail = self._outgoing("draft_reminder", buyers, subject, context, self._token(s, order.id, None, "buyer"),
                              self._thread_to(s, order, buyers))
        return self._queue(s, mail, order.id, None)

    def order_template(self, s: Session, to: str, sheet: Attachment, thread: Thread | None) -> OutboxMessage:
        """TEMPLATE: a blank order sheet, and how to order with it."""
        bot = self.config.bot
        context = {"customer": bot.customer_name, "marker": REPLY_MARKER, "waiting": None, "bot_address": bot.address,
                   "short_names": sorted(self.config.buyers.suppliers), "sheet_name": sheet.filename}
        mail = self._outgoing("order_template", (to,), f"Order sheet for {bot.customer_name}", context, None,
                              thread, (sheet,))
        return self._queue(s, mail, None, None)

    def invoice_received(self, s: Session, order: PurchaseOrder, invoice: Invoice, number: int,
                         document: Attachment, thread: Thread | None) -> None:
        context = {"invoice": invoice, "number": number, "filename": document.filename}
        flag = " — TOTAL DIFFERS" if invoice.mismatch else ""
        subject = f"[{order.ref}] Invoice received, due {invoice.due_date.isoformat()}{flag}"
        mail = self._outgoing("invoice_received", self._buyer_addresses(s, order), subject,
                              self._context(order, context), self._token(s, order.id, None, "buyer"),
                              self._thread_to(s, order, self._buyer_addresses(s, order)), (document,))
        self._queue(s, mail, order.id, invoice.revision_id)
        subject = f"[{order.ref}] Invoice received — payment due {invoice.due_date.isoformat()}"
        self._to_supplier(s, order, "invoice_confirmed", subject, context, thread)

    def remittance(self, s: Session, order: PurchaseOrder, payment: Payment, invoice: Invoice) -> OutboxMessage:
        subject = f"[{order.ref}] Payment of {bills.format_money(payment.amount, order.currency)} sent"
        return self._to_supplier(s, order, "remittance", subject, {"payment": payment, "invoice": invoice}, None)

    def digest(self, s: Session, supplier: Supplier, items: Sequence[DigestItem], day: date) -> OutboxMessage:
        waiting = queries.waiting_for_supplier(s, supplier.id)
        subject = f"Your open orders with {self.config.bot.customer_name}: {waiting.total} waiting for you"
        context = {"items": items, "waiting": waiting, "day": day, "customer": self.config.bot.customer_name,
                   "marker": REPLY_MARKER}
        mail = self._outgoing("digest", (supplier.email,), subject, context, None, None)
        return self._queue(s, mail, None, None)

    def reminder(self, s: Session, order: PurchaseOrder, kind: str, period: int, to_escalation: str = "",
                 approvers: tuple[str, ...] = (), step: int | None = None) -> OutboxMessage:
        """kind: unprocessed | invoice (to the supplier), approval | escalation (to buyers / the escalation address)."""
        context = {"kind": kind, "period": period}
        if kind in ("unprocessed", "invoice"):
            subject = {"unprocessed": f"[{order.ref}] Reminder: your bill is awaited",
                       "invoice": f"[{order.ref}] Reminder: we are waiting for your invoice"}[kind]
            supplier = s.get(Supplier, order.supplier_id)
            assert supplier is not None
            return self._to_supplier(s, order, "reminder", subject, context,
                                     self._thread_to(s, order, (supplier.email,)))
        pending = next(r for r in queries.revisions_of(s, order.id) if r.status.value == "submitted")
        context["number"] = pending.number
        to = (to_escalation,) if kind == "escalation" else approvers or self._buyer_addresses(s, order)
        subject = (f"[{order.ref}] Escalation: bill rev {pending.number} waits for approval" if kind == "escalation"
                   else f"[{order.ref}] Reminder: bill rev {pending.number} waits for your approval")
        token = self._token(s, order.id, pending.id, "buyer", step)
        mail = self._outgoing("reminder", to, subject, self._context(order, context), token,
                              self._thread_to(s, order, self._buyer_addresses(s, order)))
        return self._queue(s, mail, order.id, pending.id)

    def documents_received(self, s: Session, order: PurchaseOrder, names: Sequence[str], draft: int | None,
                           thread: Thread | None) -> OutboxMessage:
        subject = f"[{order.ref}] {len(names)} document(s) received"
        return self._to_supplier(s, order, "documents_received", subject, {"names": names, "draft": draft}, thread)

    def decision_recorded(self, s: Session, order: PurchaseOrder, number: int, decision: str,
                          text: str, by: str, thread: Thread | None, step: int | None = None) -> OutboxMessage:
        """`step`: an approval step of several was approved, and the next one asked."""
        subject = f"[{order.ref}] Recorded: bill rev {number} {decision}" + (f" at step {step}" if step else "")
        context = self._context(order, {"number": number, "decision": decision, "text": text, "by": by,
                                        "step": step})
        mail = self._outgoing("decision_recorded", self._buyer_addresses(s, order), subject, context,
                              self._token(s, order.id, None, "buyer"), thread)
        return self._queue(s, mail, order.id, None)

    def delivered(self, s: Session, order: PurchaseOrder, number: int, quantities: dict, still_open: dict,
                  note: str, thread: Thread | None) -> None:
        """The buyers are asked to confirm what arrived; the supplier gets the record."""
        context = self._context(order, {"number": number, "quantities": quantities, "still_open": still_open,
                                        "note": note})
        subject = f"[{order.ref}] Delivery {number} on its way — please confirm receipt"
        mail = self._outgoing("delivery_to_confirm", self._buyer_addresses(s, order), subject, context,
                              self._token(s, order.id, None, "buyer"), None)
        self._queue(s, mail, order.id, None)
        self._to_supplier(s, order, "delivery_recorded", f"[{order.ref}] Delivery {number} recorded", context, thread)

    def received(self, s: Session, order: PurchaseOrder, quantities: dict, delivered: dict, received: dict,
                 note: str) -> None:
        """The supplier learns what the company confirmed, and where it differs from the deliveries."""
        differs = {key: (delivered.get(key), quantity) for key, quantity in received.items()
                   if quantity != delivered.get(key)}
        context = {"quantities": quantities, "differs": differs, "note": note}
        self._to_supplier(s, order, "receipt_confirmed", f"[{order.ref}] Receipt confirmed by {self.config.bot.customer_name}"
                          + (" — it differs from the delivery" if differs else ""), context, None)

    def cancelled(self, s: Session, order: PurchaseOrder, reason: str, by: str, thread: Thread | None,
                  tell_supplier: bool = True) -> None:
        """The supplier is told the order is off and why (unless it never had it); the buyers get the
        record in their thread."""
        context = {"reason": reason, "by": by}
        if tell_supplier:
            self._to_supplier(s, order, "cancelled",
                              f"[{order.ref}] Order cancelled by {self.config.bot.customer_name}", context, None)
        mail = self._outgoing("cancel_recorded", self._buyer_addresses(s, order), f"[{order.ref}] Recorded: cancelled",
                              self._context(order, context), None, thread)
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
        subject = (f"Your {'orders' if include_closed else 'open orders'} with {bot.customer_name}: "
                   f"{len(items)}, {yours} waiting for you")
        context = {"items": items, "yours": yours, "include_closed": include_closed, "customer": bot.customer_name,
                   "marker": REPLY_MARKER, "as_sheet": len(items) > LIST_AS_SHEET_FROM, "waiting": None}
        sheet = (orders_sheet(items),) if context["as_sheet"] else ()
        mail = self._outgoing("orders_list", (to,), subject, context, None, thread, sheet)
        self._queue(s, mail, None, None)
        return len(items)

    # --- either way ----------------------------------------------------------------------

    def comment(self, s: Session, order: PurchaseOrder, to_supplier: bool, author: str, text: str) -> OutboxMessage:
        """Relayed in the recipient's own thread of this order, with a reply token of its own."""
        context = {"author": author, "text": text}
        if to_supplier:
            supplier = s.get(Supplier, order.supplier_id)
            assert supplier is not None
            thread = self._thread_to(s, order, (supplier.email,))
            return self._to_supplier(s, order, "comment", f"[{order.ref}] Message from {author}", context, thread)
        buyers = self._buyer_addresses(s, order)
        mail = self._outgoing("comment", buyers, f"[{order.ref}] Question from {author}",
                              self._context(order, context), self._token(s, order.id, None, "buyer"),
                              self._thread_to(s, order, buyers))
        return self._queue(s, mail, order.id, None)

    @staticmethod
    def _thread_to(s: Session, order: PurchaseOrder, recipients: tuple[str, ...]) -> Thread | None:
        last = queries.last_message_to(s, order.id, ",".join(recipients))
        return Thread(last.message_id, ()) if last else None

    def refusal(self, s: Session, error: UserError, message: ParsedMessage,
                order: PurchaseOrder | None) -> OutboxMessage | None:
        """The answer to an unusable message; None once the sender's daily budget is spent."""
        since = self.clock() - timedelta(days=1)
        if queries.error_replies_since(s, message.sender, since) >= self.config.bot.error_replies_per_sender_per_day:
            return None
        ref = f"[{order.ref}] " if order else ""
        subject = f"{ref}Not processed: {error.summary}"
        supplier = queries.supplier_by_email(s, message.sender)
        context = {"error": error, "subject": message.subject, "order": order,
                   "customer": self.config.bot.customer_name, "marker": REPLY_MARKER,
                   "bot_address": self.config.bot.address,
                   "waiting": queries.waiting_for_supplier(s, supplier.id) if supplier else None}
        # No reply token: a refused sender gains no address; a reply still threads by Message-ID.
        mail = self._outgoing(f"errors/{error.template}", (message.sender,), subject, context, None,
                              Thread.of(message), automatic="auto-replied")
        return self._queue(s, replace(mail, purpose=f"error:{error.template}"), order.id if order else None, None)

    def operator_report(self, s: Session, subject: str, text: str) -> OutboxMessage | None:
        """Something the operator must look at; logged always, mailed when an address is configured."""
        log.warning("operator report", extra={"about": subject.split(":", 1)[0]})  # no addresses in logs
        if not self.config.bot.operator_address:
            return None
        mail = Outgoing("operator", (self.config.bot.operator_address,), f"[supplierbot] {subject}", text,
                        self.renderer.render("_plain_text", {"text": text}).html)
        return self._queue(s, mail, None, None)

    # --- building blocks -----------------------------------------------------------------

    def sheet_attachment(self, order: PurchaseOrder, supplier: Supplier | None, lines: Sequence[Line]) -> Attachment:
        header = SheetHeader(order.ref, self.config.bot.customer_name,
                             supplier.email if supplier else "", order.currency)
        return Attachment(f"{order.ref}-bill.xlsx", XLSX_TYPE, write_bill_sheet(header, lines))

    def _to_supplier(self, s: Session, order: PurchaseOrder, template: str, subject: str,
                     extra: dict[str, Any], thread: Thread | None,
                     attachments: tuple[Attachment, ...] = ()) -> OutboxMessage:
        supplier = s.get(Supplier, order.supplier_id)
        assert supplier is not None
        s.flush()
        context = self._context(order, {**extra, "supplier": supplier,
                                        "waiting": queries.waiting_for_supplier(s, supplier.id)})
        token = self._token(s, order.id, None, "supplier")
        mail = self._outgoing(template, (supplier.email,), subject, context, token, thread, attachments)
        return self._queue(s, mail, order.id, None)

    def _context(self, order: PurchaseOrder, extra: dict[str, Any]) -> dict[str, Any]:
        return {"order": order, "customer": self.config.bot.customer_name, "marker": REPLY_MARKER,
                "waiting": None, **extra}

    def _buyer_addresses(self, s: Session, order: PurchaseOrder) -> tuple[str, ...]:
        return tuple(buyer.email for buyer in queries.buyers_of(s, order.id))

    def _token(self, s: Session, order_id: int, revision_id: int | None, audience: str,
               step: int | None = None) -> str:
        token = new_token()
        s.add(ReplyToken(token=token, order_id=order_id, revision_id=revision_id, step=step,
                         audience=audience, created_at=self.clock()))
        return token

    def _outgoing(self, template: str, to: tuple[str, ...], subject: str, context: dict[str, Any],
                  token: str | None, thread: Thread | None, attachments: tuple[Attachment, ...] = (),
                  automatic: str = "auto-generated") -> Outgoing:
        rendered = self.renderer.render(template, context)
        bot = self.config.bot
        return Outgoing(
            purpose=template.removeprefix("errors/"), to=to, subject=subject, text=rendered.text,
            html=rendered.html, reply_to=reply_address(bot.address, token, bot.reply_separator) if token else None,
            in_reply_to=thread.message_id if thread else None,
            references=(*thread.references, thread.message_id) if thread else (),
            attachments=attachments, automatic=automatic,
        )

    def _queue(self, s: Session, mail: Outgoing, order_id: int | None, revision_id: int | None) -> OutboxMessage:
        now = self.clock()
        message_id = new_message_id(self.config.bot.address.partition("@")[2])
        sender_name = f"{self.config.bot.customer_name} purchasing"
        row = OutboxMessage(
            message_id=message_id, order_id=order_id, revision_id=revision_id, purpose=mail.purpose,
            recipients=",".join(mail.to), subject=mail.subject, created_at=now,
            raw=compose(mail, self.config.bot.address, sender_name, message_id, now),
        )
        s.add(row)
        s.flush()
        if order_id is not None:
            queries.add_event(s, order_id, now, "bot", "email_queued",
                              f"{mail.purpose} to {', '.join(mail.to)}", revision_id=revision_id, outbox_id=row.id)
        return row
