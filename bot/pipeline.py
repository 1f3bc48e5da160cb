"""One inbound message, one unit of work: ledger row, effects and queued answers commit together.

A message already in the ledger is skipped, so fetching it again changes
nothing. A system error rolls the effects back and records the message as
failed (raw bytes kept) for the operator; it never loses the message.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot import away, buyer_orders, chain, errors
from bot.app import App
from bot.apply import Applier, Outcome
from bot.matching import match_order, order_named_by_headers
from bot.workflow import (Approve, CancelOrder, OrderView, RecordPayment, Reject, Reply, RevisionView, Role, SendOrder,
                          decide)
from parsers.authresults import dmarc_verdict
from bot.notify import Thread
from bot.reading import COUNTING, BillInput, Reading, bill_files, bill_input, invoice_file
from bot.receiving import counted_lines, quantities_from_lines
from bot.supplier_list import wants_all
from parsers.documents import DocumentLimits, sort_attachments
from parsers.intake import BillFromDocuments, build_bill
from parsers.message import HEADER_BYTES, WHOLE_BYTES, MessageUnreadable, bounced_message_ids, parse_file, read_headers
from parsers.records import AnyAttachment, ParsedMessage
from parsers.reply import CommandKind, parse_command
from storage import queries
from storage.db import session
from storage.files import RawMessage
from storage.models import InboundMessage, InboundStatus, OutboxStatus, PurchaseOrder, RevisionStatus, Supplier

log = logging.getLogger("supplierbot.pipeline")
#: a message that names none of these (in any case) carries no PDF or image; substring searches of
#: its lowered bytes, not one case-blind regex, which tried every alternative at every byte (~5× slower)
_MAYBE_DOCUMENT = (b"application/pdf", b"image/", b"octet-stream", b".pdf", b".png", b".jpg", b".jpeg", b".tif")


@dataclass(frozen=True)
class Source:
    """Where a message was fetched: its identity in the ledger."""

    account: str
    folder: str
    uidvalidity: int
    uid: int


def process(app: App, source: Source, raw: bytes | RawMessage) -> Outcome | None:
    """Apply one fetched message exactly once. None when it was already in the ledger."""
    return process_batch(app, [(source, raw)])[0]


def process_batch(app: App, batch: Sequence[tuple[Source, bytes | RawMessage]]) -> list[Outcome | None]:
    """Queue fetched messages in the ledger, then apply everything queued (these and any
    waiting before them); each message's outcome, None for one already in the ledger."""
    from bot.workers import Worker  # the worker loop is built on this module

    ids = enqueue(app, batch)
    outcomes = Worker(app).drain()
    return [outcomes.get(inbound_id) if inbound_id is not None else None for inbound_id in ids]


def enqueue(app: App, fetched: Sequence[tuple[Source, bytes | RawMessage]]) -> list[int | None]:
    """Fetching: store each new message's raw bytes and its ledger row, queued, in one commit
    that also moves the cursor; the new rows' ids (None for a message already in the ledger).

    Nothing is parsed beyond the headers: the sender and the order the reply names decide
    which messages must wait for which (see queries.claim_inbound).
    """
    # a fetch streams each message to disk; bytes (tests, tools) are stored first
    batch = [(source, raw if isinstance(raw, RawMessage) else app.files.save_raw(raw)) for source, raw in fetched]
    if not batch:
        return []
    with session(app.engine) as s:
        stored = queries.ledger_keys(s, [(o.account, o.folder, o.uidvalidity, o.uid) for o, _ in batch])
        known = {source for source, _ in batch
                 if (source.account, source.folder, source.uidvalidity, source.uid) in stored}
        rows: list[InboundMessage | None] = []
        for source, raw in batch:
            rows.append(None if source in known else _queued_row(app, s, source, raw))
            known.add(source)
        last: dict[tuple[str, str, int], int] = {}
        for source, _ in batch:
            folder = (source.account, source.folder, source.uidvalidity)
            last[folder] = max(last.get(folder, 0), source.uid)
        for (account, folder, uidvalidity), uid in last.items():
            queries.advance_cursor(s, account, folder, uidvalidity, uid)
        app.files.flush()  # raw bytes on disk before the commit that references them
        try:
            s.commit()
        except IntegrityError:  # another fetcher stored them first (its lease ran out under it)
            s.rollback()
            return [None] * len(batch)
    return [row.id if row is not None else None for row in rows]


def _queued_row(app: App, s: Session, source: Source, raw: RawMessage) -> InboundMessage:
    row = _ledger_row(app, source, raw, raw.sha256)
    row.status = InboundStatus.QUEUED
    stub = read_headers(raw.head(HEADER_BYTES))
    row.message_id, row.sender, row.subject = stub.message_id[:998], stub.sender, stub.subject[:500]
    row.queue_key = queue_key(app, s, stub)
    s.add(row)
    return row


def queue_key(app: App, s: Session, stub: ParsedMessage) -> str:
    """The order a message's headers name (reply address token, thread, subject tag): messages of
    one order are applied in arrival order. "" when the headers name none (serialised per sender)."""
    if stub.automatic or not stub.sender:
        return ""
    bot = app.config.bot
    order_id = order_named_by_headers(stub, bot.address, bot.reply_separator, queries.SqlOrderLookup(s, app.files))
    return f"order:{order_id}" if order_id else ""


@dataclass
class Prepared:
    """A claimed message read from disk, parsed once, with its PDFs and scans being read."""

    inbound_id: int
    raw: RawMessage
    message: ParsedMessage | None  # None: not parsed yet (too large, or no documents to look for)
    readings: tuple[Reading, ...] = ()


def prepare(app: App, inbound_id: int, raw: RawMessage) -> Prepared:
    """Start reading the message's PDFs and scans (a bill, or the invoice) in the reader pool,
    outside any transaction; the message's own processing then finds them read."""
    message, bills, invoice, priced = _slow_documents(app, raw)
    readings = (app.readers.start(bills, priced) if bills else None,
                app.readers.start_invoice(invoice) if invoice is not None else None)
    return Prepared(inbound_id, raw, message, tuple(r for r in readings if r is not None))


def _slow_documents(app: App, raw: RawMessage) -> tuple[ParsedMessage | None, tuple[AnyAttachment, ...],
                                                        AnyAttachment | None, bool]:
    """(the parsed message, its bill documents, its invoice document, whether the bill documents
    carry prices)."""
    if raw.size > app.config.limits.max_message_mb << 20 or (
            raw.size <= WHOLE_BYTES and not _may_carry_documents(raw.read())):
        return None, (), None, True  # most replies carry no PDF or image: parsed once, in handle()
    try:
        message = parse_file(str(raw.path), raw.size)
    except MessageUnreadable:
        return None, (), None, True
    if message.automatic or not message.attachments:
        return message, (), None, True
    command = parse_command(message.new_text, app.config.keywords).kind
    if command is CommandKind.INVOICE:
        return message, (), invoice_file(message.attachments), True
    return message, bill_files(message.attachments, command).slow, None, command not in COUNTING


def _may_carry_documents(data: bytes) -> bool:
    lowered = data.lower()
    return any(mark in lowered for mark in _MAYBE_DOCUMENT)


def apply_claimed(app: App, s: Session, owner: str, prepared: Prepared) -> Outcome | None:
    """Apply one claimed message in a savepoint of the caller's transaction; None when the
    claim is no longer ours (its lease ran out and another worker took it)."""
    taken = queries.take_claimed_checked(s, prepared.inbound_id, owner)
    if taken is None:
        return None
    row, copy = taken
    savepoint = s.begin_nested()
    try:
        with queries.one_message(s):  # its events in one statement at its end, its reads made once
            outcome = handle(app, s, row, prepared.raw, message=prepared.message, copy=copy)
        queries.settle_inbound(s, row, status=outcome.status, disposition=outcome.disposition,
                               order_id=outcome.order_id, claimed_by="", claimed_until=None)
        savepoint.commit()
        return outcome
    except Exception as exc:  # any system error: keep the message, record it, go on
        savepoint.rollback()
        # rows the message wrote by plain INSERTs are gone, but an object loaded from one may still
        # be in the session; on SQLite the next message's row may take its id
        s.expire_all()
        log.exception("message failed", extra={"inbound_id": prepared.inbound_id})
        row = s.get(InboundMessage, prepared.inbound_id)
        assert row is not None
        row.status, row.error, row.disposition = InboundStatus.FAILED, _describe(exc), "failed"
        row.claimed_by, row.claimed_until = "", None
        row.next_attempt_at = app.clock() + backoff(1)
        s.flush()
        return Outcome(InboundStatus.FAILED, "failed")


def _ledger_row(app: App, source: Source, raw: RawMessage, digest: str) -> InboundMessage:
    return InboundMessage(
        account=source.account, folder=source.folder, uidvalidity=source.uidvalidity, uid=source.uid,
        sha256=digest, raw_path=str(raw.path), size=raw.size,
        status=InboundStatus.FAILED, received_at=app.clock(),
    )


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … capped at an hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** (attempts - 1)))


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def retry(app: App, inbound_id: int) -> Outcome | None:
    """Process a failed message again from its raw bytes on disk (no IMAP needed)."""
    with session(app.engine) as s:
        row = s.get(InboundMessage, inbound_id)
        if row is None or row.status is not InboundStatus.FAILED:
            return None
        raw = app.files.raw(row.sha256)
        try:
            outcome = handle(app, s, row, raw)
            row.status, row.disposition, row.order_id = outcome.status, outcome.disposition, outcome.order_id
            row.error, row.next_attempt_at = "", None
            app.files.flush()
            s.commit()
            return outcome
        except Exception as exc:  # still failing: count it, and maybe give up
            s.rollback()
            failure = exc
    return _failed_again(app, inbound_id, failure)


def _failed_again(app: App, inbound_id: int, exc: Exception) -> Outcome:
    log.warning("retry failed", extra={"inbound_id": inbound_id, "error": type(exc).__name__})
    with session(app.engine) as s:
        row = s.get(InboundMessage, inbound_id)
        assert row is not None
        row.attempts += 1
        row.error = _describe(exc)
        row.next_attempt_at = None if row.attempts >= app.config.bot.max_attempts else app.clock() + backoff(row.attempts)
        if row.next_attempt_at is None:
            app.notifier.operator_report(s, f"Message #{row.id} failed {row.attempts} times and was set aside",
                                         f"From {row.sender}, subject {row.subject!r}.\nLast error: {row.error}\n"
                                         f"See it with `supplierbot failed list`; after a fix, "
                                         f"`supplierbot failed retry {row.id}`.")
        s.commit()
    return Outcome(InboundStatus.FAILED, "failed")


def retry_due(app: App) -> list[Outcome | None]:
    with session(app.engine) as s:
        due = queries.failed_due(s, app.clock())
    return [retry(app, inbound_id) for inbound_id in due]


def handle(app: App, s: Session, row: InboundMessage, raw: RawMessage, released: bool = False,
           message: ParsedMessage | None = None, copy: queries.CopyChecked | None = None) -> Outcome:
    """`message`: the message already parsed from `raw` (it is parsed once); `copy`: whether it
    has an earlier copy, asked when its row was taken (for the Message-ID its headers gave)."""
    limit = app.config.limits.max_message_mb
    if raw.size > limit << 20:  # never parse the body: answered from the headers alone
        return _unreadable(app, s, raw, errors.MessageTooLarge(raw.size >> 20, limit))
    try:
        message = message or parse_file(str(raw.path), raw.size)
    except MessageUnreadable as exc:
        cause = type(exc.__cause__).__name__ if exc.__cause__ else ""
        return _unreadable(app, s, raw, errors.UnreadableMessage(detail=str(exc)), cause)
    queries.assign(row, message_id=message.message_id[:998], sender=message.sender, subject=message.subject[:500])
    s.flush()  # the ledger row has its id from here on
    ignored = _ignore_reason(app, s, row, message, copy)
    if ignored:
        if ignored.startswith("automatic"):
            ignored += _note_bounce(app, s, row, raw) + away.note_away(s, message.sender, message.automatic, app.clock())
        return Outcome(InboundStatus.IGNORED, ignored)
    away.note_back(s, message.sender)
    return _route(app, s, row, message, released)


def _note_bounce(app: App, s: Session, row: InboundMessage, raw: RawMessage) -> str:
    """A returned copy of one of our emails: mark that outbox row bounced and tell the operator.
    (A report names the original near its start: a large one is read only that far.)"""
    bounced = queries.outbox_by_message_ids(s, bounced_message_ids(raw.head(WHOLE_BYTES)))
    for sent in bounced:
        sent.status = OutboxStatus.BOUNCED
        sent.last_error = f"bounced: inbound #{row.id} from {row.sender}"
        if sent.order_id is not None:
            queries.add_event(s, sent.order_id, app.clock(), row.sender, "bounced",
                              f"{sent.purpose} to {sent.recipients} came back", inbound_id=row.id, outbox_id=sent.id)
        app.notifier.operator_report(s, f"Bounce: {sent.subject}",
                                     f"The email to {sent.recipients} ({sent.purpose}) was returned.\n"
                                     f"Subject: {sent.subject}\nSee inbound message #{row.id}.")
    return f"; bounce of outbox {', '.join(f'#{b.id}' for b in bounced)}" if bounced else ""


def _ignore_reason(app: App, s: Session, row: InboundMessage, message: ParsedMessage,
                   copy: queries.CopyChecked | None = None) -> str:
    if message.sender == app.config.bot.address:  # first: our copies of what we sent are auto-generated too
        return "our own message"
    if message.automatic:
        return f"automatic: {message.automatic}"
    if not message.message_id:
        return ""
    if copy is not None and copy.message_id == message.message_id:  # asked already, for this very Message-ID
        earlier_id = copy.earlier_id
    else:
        earlier = queries.earlier_copy(s, message.message_id, row.sha256, row.id or 0)
        earlier_id = earlier.id if earlier else None
    return f"duplicate of inbound #{earlier_id}" if earlier_id is not None else ""


def _route(app: App, s: Session, row: InboundMessage, message: ParsedMessage, released: bool) -> Outcome:
    command = parse_command(message.new_text, app.config.keywords)
    if command.kind is CommandKind.ORDERS:
        return _orders(app, s, row, message, command.argument)
    if command.kind in (CommandKind.ORDER, CommandKind.TEMPLATE) and not _answers_an_order(app, s, message):
        return buyer_orders.handle(app, s, row, message, command, released)
    given = bill_input(app.readers, message.attachments, command.kind)
    limits = app.config.limits
    documents, refused = sort_attachments([a for a in message.attachments if a.filename not in given.not_documents],
                                          DocumentLimits(limits.max_attachment_mb << 20, limits.max_attachments_mb << 20,
                                                         limits.max_attachments))
    attachment_error = errors.AttachmentsNotAccepted(tuple((r.filename, r.reason) for r in refused)) if refused else None
    bot = app.config.bot
    lookup = queries.SqlOrderLookup(s, app.files, load_order=True)  # holds the order and supplier till the end
    match = match_order(message, given.order_ref, bot.address, bot.reply_separator, lookup)
    if match is None:
        return _refuse(app, s, row, message, errors.UnknownOrder(), None)
    order = s.get(PurchaseOrder, match.order_id)
    assert order is not None
    lookup.loaded.append(s.get(Supplier, order.supplier_id))  # read by role_of and the answers: once
    role = Role(queries.role_of(s, order.id, message.sender))
    if role is Role.STRANGER and queries.is_step_approver(s, order.id, message.sender):
        role = Role.APPROVER  # finance, the CFO, a delegate: that step's decision, nothing else
    counting = command.kind in COUNTING
    if role is not Role.SUPPLIER and not given.not_documents and not counting:
        given = BillInput()  # a buyer's PDF or photo is a document, never a bill
    reply = Reply(
        role=role, command=command,
        sheet=given.sheet, sheet_filename=given.filename, sheet_error=given.error,
        bound_revision_id=match.revision_id, documents=len(documents), attachment_error=attachment_error,
        bill=None if counting else _bill(s, order, given), in_thread=match.via in ("token", "thread"),
        counted=_counted(s, order, given) if counting else None,
        sender=message.sender, step=chain.step_view(s, order.id, _pending_id(s, order)), bound_step=match.step,
    )
    decision = decide(order_view(s, order), reply)
    decides = isinstance(decision, Approve | Reject | RecordPayment | CancelOrder | SendOrder)
    if decides and app.config.auth.require_dmarc and not released:
        verdict = dmarc_verdict(message.auth_results, app.config.auth.authserv_id, message.sender)
        if not verdict.passed:
            return _hold(app, s, row, order, message, verdict.reason)
    return Applier(app, s, row, message, order, documents, given.originals).apply(decision, reply)


def _pending_id(s: Session, order: PurchaseOrder) -> int | None:
    return next((r.id for r in queries.revisions_of(s, order.id) if r.status is RevisionStatus.SUBMITTED), None)


def _answers_an_order(app: App, s: Session, message: ParsedMessage) -> bool:
    """An email about an existing order (its token, its thread, or its [PO-…] tag in the subject):
    `Order confirmed` or `Bestellung erhalten` there is text for that order, never a new ORDER."""
    bot = app.config.bot
    return match_order(message, None, bot.address, bot.reply_separator, queries.SqlOrderLookup(s, app.files)) is not None


def _orders(app: App, s: Session, row: InboundMessage, message: ParsedMessage, argument: str) -> Outcome:
    """A supplier's list of their orders; anyone else learns nothing about any order."""
    supplier = queries.supplier_of_address(s, message.sender)
    if supplier is None:
        return _refuse(app, s, row, message, errors.NotASupplier(), None)
    listed = app.notifier.orders_list(s, supplier, message.sender, wants_all(argument), Thread.of(message))
    return Outcome(InboundStatus.APPLIED, f"orders listed ({listed})")


def _counted(s: Session, order: PurchaseOrder, given: BillInput) -> dict | None:
    """A delivery note's quantities per approved line (None when none came with the message)."""
    if given.sheet is None and not given.readings:
        return None
    approved = next((r for r in queries.revisions_of(s, order.id)
                     if r.status in (RevisionStatus.APPROVED, RevisionStatus.INVOICED)), None)
    lines = queries.revision_lines(s, approved.id) if approved else []
    if given.sheet is not None:
        return quantities_from_lines(given.sheet.lines, lines)
    return counted_lines([line for reading in given.readings for line in reading.lines], lines)


def _bill(s: Session, order: PurchaseOrder, given: BillInput) -> BillFromDocuments | None:
    """The supplier's own documents set against this order's lines."""
    if not given.readings:
        return None
    return build_bill(given.readings, queries.order_lines(s, order.id))


def _hold(app: App, s: Session, row: InboundMessage, order: PurchaseOrder, message: ParsedMessage,
          reason: str) -> Outcome:
    """A decision we cannot authenticate: nothing changes until the operator releases it."""
    queries.add_event(s, order.id, app.clock(), message.sender, "held", f"decision held: {reason}", inbound_id=row.id)
    app.notifier.operator_report(s, f"Held: decision on {order.ref} from {message.sender}",
                                 f"{reason}.\nSee `supplierbot held list`; `supplierbot held release {row.id}` "
                                 f"applies it, `supplierbot held drop {row.id}` discards it.")
    return Outcome(InboundStatus.HELD, f"held: {reason}", order.id)


def release(app: App, inbound_id: int) -> Outcome | None:
    """The operator vouches for a held message: apply it now (its state may have moved on)."""
    with session(app.engine) as s:
        row = s.get(InboundMessage, inbound_id)
        if row is None or row.status is not InboundStatus.HELD:
            return None
        outcome = handle(app, s, row, app.files.raw(row.sha256), released=True)
        row.status, row.disposition = outcome.status, f"released by operator: {outcome.disposition}"
        s.commit()
        return outcome


def drop(app: App, inbound_id: int) -> bool:
    with session(app.engine) as s:
        row = s.get(InboundMessage, inbound_id)
        if row is None or row.status is not InboundStatus.HELD:
            return False
        row.status, row.disposition = InboundStatus.IGNORED, "dropped by operator"
        if row.order_id is not None:
            queries.add_event(s, row.order_id, app.clock(), "operator", "dropped", f"held message #{row.id} dropped",
                              inbound_id=row.id)
        s.commit()
        return True


def order_view(s: Session, order: PurchaseOrder) -> OrderView:
    revisions = tuple(RevisionView(r.id, r.number, r.status, r.decided_by) for r in queries.revisions_of(s, order.id))
    return OrderView(order.id, order.ref, order.status, revisions)


def _refuse(app: App, s: Session, row: InboundMessage, message: ParsedMessage,
            error: errors.UserError, order: PurchaseOrder | None) -> Outcome:
    answered = app.notifier.refusal(s, error, message, order)
    return Outcome(InboundStatus.REFUSED, f"refused: {error.template}" + ("" if answered else " (not answered: budget spent)"),
                   order.id if order else None)


def _unreadable(app: App, s: Session, raw: RawMessage, error: errors.UserError, cause: str = "") -> Outcome:
    """Answer what we cannot read, if it names a person to answer (and is not a robot's), under
    the order its headers name (reply address, thread, subject tag): the body is never parsed."""
    stub = read_headers(raw.head(HEADER_BYTES))
    note = f" ({cause})" if cause else ""
    if not stub.sender or stub.automatic or stub.sender == app.config.bot.address:
        return Outcome(InboundStatus.IGNORED, f"not answered: {error.summary}{note}")
    bot = app.config.bot
    match = match_order(stub, None, bot.address, bot.reply_separator, queries.SqlOrderLookup(s, app.files))
    order = s.get(PurchaseOrder, match.order_id) if match else None
    app.notifier.refusal(s, error, stub, order)
    return Outcome(InboundStatus.REFUSED, f"refused: {error.template}{note}", order.id if order else None)
