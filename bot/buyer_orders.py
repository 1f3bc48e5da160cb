"""A buyer's mail to the bot's own address: `ORDER <supplier>` creates an order from an attached
sheet (any layout, read by the intake) or from lines in the body, echoed to the buyer and sent to
the supplier at their SEND; `TEMPLATE` returns a blank order sheet. Nothing is created from a mail
that cannot be used: each reason is answered on its own."""
from __future__ import annotations

from sqlmodel import Session

from bot import errors
from bot.app import App
from bot.apply import Outcome
from bot.notify import Thread
from bot.orders import NewOrder, OrderRejected, add_order, check_order, keep_order_documents, order_documents
from bot.reading import BillInput, bill_input
from parsers.authresults import dmarc_verdict
from parsers.buyer_order import OrderRequest, blank_order_sheet, lines_from_readings, read_order_request
from parsers.bill_sheet import XLSX_TYPE
from parsers.documents import Document, DocumentLimits, Refused, sort_attachments
from parsers.records import Attachment, Line, ParsedMessage
from parsers.reply import Command, CommandKind
from storage import queries
from storage.models import InboundMessage, InboundStatus, OrderStatus, Supplier

TEMPLATE_NAME = "order-sheet.xlsx"
BODY = "the lines in your email"


def handle(app: App, s: Session, row: InboundMessage, message: ParsedMessage, command: Command,
           released: bool = False) -> Outcome:
    if not app.config.buyers.is_buyer(message.sender):
        return _refuse(app, s, message, errors.NotABuyer())
    if command.kind is CommandKind.TEMPLATE:
        sheet = Attachment(TEMPLATE_NAME, XLSX_TYPE, blank_order_sheet(app.config.bot.customer_name))
        app.notifier.order_template(s, message.sender, sheet, Thread.of(message))
        return Outcome(InboundStatus.APPLIED, "order sheet sent")
    return _order(app, s, row, message, command, released)


def _order(app: App, s: Session, row: InboundMessage, message: ParsedMessage, command: Command,
           released: bool) -> Outcome:
    settings = app.config.buyers
    request = read_order_request(command.argument, message.new_text, app.config.keywords[CommandKind.SEND],
                                 settings.default_tax_rate)
    supplier = _supplier(app, s, request.supplier)
    if supplier is None:
        return _refuse(app, s, message, errors.UnknownSupplier(request.supplier, tuple(sorted(settings.suppliers))))
    given = bill_input(app.readers, message.attachments, CommandKind.ORDER)
    lines, problems, read_from = _lines(app, given, request)
    documents, refused = _documents(app, message, given)
    problems += [f"{r.filename or 'the attachments'}: {r.reason}" for r in refused]
    new = NewOrder(supplier.email, (message.sender,), lines, request.currency, None, request.delivery,
                   request.deliver_to, request.ref)
    if not problems and lines:
        problems += _checked(new)
    if problems:
        return _refuse(app, s, message, errors.OrderUnreadable(tuple(problems)))
    if not lines:
        return _refuse(app, s, message, errors.OrderLinesMissing())
    wants_send = request.send or settings.send_at_once
    send = wants_send and (released or _vouched_for(app, message))
    order = add_order(app, s, new, message.sender, OrderStatus.NEW if send else OrderStatus.DRAFT, row.id)
    keep_order_documents(app, s, order.id, documents, row.id)
    if send:
        app.notifier.new_order(s, order, lines, order_documents(app, s, order.id))
    app.notifier.order_echo(s, order, lines, message.sender, send, read_from, Thread.of(message),
                            tuple(d.filename for d in documents), unconfirmed=wants_send and not send)
    return Outcome(InboundStatus.APPLIED, "order created and sent" if send else "draft order (waits for SEND)",
                   order.id)


def _supplier(app: App, s: Session, written: str) -> Supplier | None:
    """A supplier we know: by a configured short name, or by an address that acts for one."""
    if not written:
        return None
    address = app.config.buyers.supplier_address(written)
    if address in app.config.buyers.suppliers.values():
        return queries.supplier_for(s, address)
    return queries.supplier_of_address(s, address) if "@" in address else None


def _lines(app: App, given: BillInput, request: OrderRequest) -> tuple[tuple[Line, ...], list[str], str]:
    """(lines, problems, what they were read from): an attached sheet, CSV or PDF first, else the body."""
    problems = list(request.problems)
    if given.error is not None:
        return (), problems + _error_problems(given.error), given.filename
    if given.sheet is not None:
        return given.sheet.lines, problems, given.filename
    if given.readings:
        lines, unread = lines_from_readings(given.readings, app.config.buyers.default_tax_rate)
        return lines, problems + unread, ", ".join(a.filename for a in given.originals)
    return request.lines, problems, BODY


def _documents(app: App, message: ParsedMessage, given: BillInput) -> tuple[list[Document], list[Refused]]:
    """The other attachments (a drawing, a specification): for the supplier, with the order."""
    taken = {a.sha256 for a in given.originals}
    rest = [a for a in message.attachments if a.filename not in given.not_documents and a.sha256 not in taken]
    limits = app.config.limits
    return sort_attachments(rest, DocumentLimits(limits.max_attachment_mb << 20, limits.max_attachments_mb << 20,
                                                 limits.max_attachments))


def _error_problems(error: errors.UserError) -> list[str]:
    if isinstance(error, errors.SheetProblems):
        return [f"{error.filename}: {problem}" for problem in error.problems]
    if isinstance(error, errors.DocumentsUnreadable):
        return [f"{name}: {why}" for name, why in error.unreadable]
    if isinstance(error, errors.TooManySheets):
        return [f"more than one spreadsheet attached ({', '.join(error.filenames)}): send one order per email"]
    return [error.summary]


def _checked(new: NewOrder) -> list[str]:
    try:
        check_order(new)
    except OrderRejected as exc:
        return [str(exc)]
    return []


def _vouched_for(app: App, message: ParsedMessage) -> bool:
    """ORDER … SEND (or send_at_once) skips the round trip only when our receiving server vouches for
    the sender: an aligned DMARC pass in its own Authentication-Results ([auth] authserv_id). A From
    line alone is easy to forge, and an order in the company's name reaches a supplier who will ship
    it; without that pass the order waits, like any draft, for SEND from the buyer's real mailbox."""
    auth = app.config.auth
    return bool(auth.authserv_id) and dmarc_verdict(message.auth_results, auth.authserv_id, message.sender).passed


def _refuse(app: App, s: Session, message: ParsedMessage, error: errors.UserError) -> Outcome:
    answered = app.notifier.refusal(s, error, message, None)
    return Outcome(InboundStatus.REFUSED, f"refused: {error.template}" + ("" if answered else " (not answered: budget spent)"))
