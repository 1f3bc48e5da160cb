"""Repository functions over a Session. None of them commits: the unit of work does."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.parser import BytesHeaderParser
from email.policy import compat32
from dataclasses import dataclass
from functools import cache
from decimal import Decimal
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, exists, func, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.matching import Target
from parsers.records import Line
from storage.files import SPILLED, FileStore
from storage.models import (
    ApprovalStep,
    StepStatus,
    Claim,
    Delivery,
    DeliveryLine,
    Receipt,
    ReceiptLine,
    Buyer,
    BuyerDelegate,
    SupplierAddress,
    Comment,
    Document,
    Invoice,
    Event,
    FetcherLease,
    InboundMessage,
    InboundStatus,
    MailboxCursor,
    OrderBuyer,
    OrderLine,
    OrderStatus,
    OutboxMessage,
    OutboxStatus,
    PurchaseOrder,
    ReplyToken,
    Revision,
    RevisionLine,
    RevisionStatus,
    Supplier,
)


def supplier_for(s: Session, email: str) -> Supplier:
    return _party_for(s, Supplier, email)


def supplier_by_email(s: Session, email: str) -> Supplier | None:
    return s.exec(select(Supplier).where(Supplier.email == email.strip().lower())).first()


def buyer_for(s: Session, email: str) -> Buyer:
    return _party_for(s, Buyer, email)


def _party_for(s: Session, model: type[Supplier] | type[Buyer], email: str):
    """The supplier or buyer with this address, created on first use (named after its local part)."""
    email = email.strip().lower()
    found = s.exec(select(model).where(model.email == email)).first()
    if found is None:
        found = model(email=email, name=email.split("@")[0])
        s.add(found)
        s.flush()
    return found


def next_order_ref(s: Session, prefix: str, year: int) -> str:
    stem = f"{prefix}-{year}-"
    refs = s.exec(select(PurchaseOrder.ref).where(col(PurchaseOrder.ref).startswith(stem))).all()
    numbers = [int(ref[len(stem):]) for ref in refs if ref[len(stem):].isdigit()]
    return f"{stem}{max(numbers, default=0) + 1:04d}"


def order_by_ref(s: Session, ref: str) -> PurchaseOrder | None:
    return s.exec(select(PurchaseOrder).where(PurchaseOrder.ref == ref.upper())).first()


def all_orders(s: Session, limit: int, offset: int, status: OrderStatus | None = None) -> Sequence[PurchaseOrder]:
    query = select(PurchaseOrder).order_by(col(PurchaseOrder.id).desc()).offset(offset).limit(limit)
    if status is not None:
        query = query.where(PurchaseOrder.status == status.value)
    return s.exec(query).all()


def buyers_of(s: Session, order_id: int) -> list[Buyer]:
    return _memoised(s, "buyers", order_id, lambda: list(s.exec(_buyers_statement(), params={"key": order_id}).all()))


@cache
def _buyers_statement():
    """Built once, bound per call (see `_take_claimed_statement`), like the other reads of one message."""
    return select(Buyer).join(OrderBuyer, col(OrderBuyer.buyer_id) == col(Buyer.id)).where(
        OrderBuyer.order_id == bindparam("key")).order_by(col(Buyer.email))


def _memoised(s: Session, kind: str, key: int, read) -> list:
    """`read()` once per message (inside `one_message`), else every time; always a fresh list."""
    memo = _memo(s)
    if memo is None:
        return read()
    found = memo.get((kind, key))
    if found is None:
        found = memo[(kind, key)] = read()
    return list(found)


def order_lines(s: Session, order_id: int) -> list[Line]:
    return _memoised(s, "order_lines", order_id, lambda: [
        Line(*row) for row in rows_of(s, _lines_statement(OrderLine), key=order_id)])


def rows_of(s: Session, statement, **params: object) -> list:
    """A SELECT of columns, bound, on the session's connection: rows, without the ORM's execute
    (which costs more than the query). What is pending is flushed first, as autoflush would."""
    s.flush()
    return s.connection().execute(statement, params).all()


def revisions_of(s: Session, order_id: int) -> list[Revision]:
    """Oldest first. Memoised per message: the same identity-mapped objects, so a status set on one
    is seen; a revision made meanwhile is added by `remember_revision`."""
    return _memoised(s, "revisions", order_id, lambda: list(
        s.exec(_revisions_statement(), params={"key": order_id}).all()))


@cache
def _revisions_statement():
    return select(Revision).where(Revision.order_id == bindparam("key")).order_by(col(Revision.number))


def revision_lines(s: Session, revision_id: int) -> list[Line]:
    return _memoised(s, "revision_lines", revision_id, lambda: [
        Line(*row) for row in rows_of(s, _lines_statement(RevisionLine), key=revision_id)])


@cache
def _lines_statement(model: type[OrderLine | RevisionLine]):
    owner = model.order_id if model is OrderLine else model.revision_id  # type: ignore[union-attr]
    return select(*_line_columns(model)).where(owner == bindparam("key")).order_by(col(model.position))


def _line_columns(model: type[OrderLine | RevisionLine]) -> tuple:
    """A line's columns in `Line`'s order: rows, not ORM objects (a bill has many lines)."""
    return (model.sku, model.description, model.quantity, model.unit, model.unit_price, model.tax_rate)


def replace_revision_lines(s: Session, revision_id: int, lines: Sequence[Line],
                           notes: Sequence[LineNote] = (), fresh: bool = False) -> None:
    """Bulk statements: building one ORM object per line costs more than the insert.
    `notes`: for a bill read from the supplier's own document, each line's place and remark.
    `fresh`: a revision made in this transaction has no lines to delete."""
    forget(s, "revision_lines", revision_id)
    if not fresh:
        s.execute(delete(RevisionLine).where(col(RevisionLine.revision_id) == revision_id))
    s.flush()  # the revision first, as the ORM's bulk insert did
    insert_rows(s, RevisionLine, [{"revision_id": revision_id, "position": position, **_line_fields(line),
                                   **(_note_fields(notes[position - 1]) if notes else {})}
                                  for position, line in enumerate(lines, start=1)])


def insert_rows(s: Session, model: type, rows: dict[str, object] | list[dict[str, object]]) -> None:
    """A plain INSERT of one row, or of many in one executemany, on the session's connection: no
    ORM object, no unit of work, the statement built once a table. Nothing is flushed: what the
    rows refer to must be in the database already, and nothing reads them back as objects."""
    if rows:  # an empty list would be one INSERT of a row of defaults
        s.connection().execute(_insert_statement(model.__table__), rows)


@cache
def _insert_statement(table):
    return insert(table)


@dataclass(frozen=True)
class LineNote:
    """Where a bill line was read in the supplier's document, and what to say about it."""

    source: str
    remark: str = ""
    doubtful: bool = False


def _note_fields(note: LineNote) -> dict[str, object]:
    return {"source": note.source, "remark": note.remark, "doubtful": note.doubtful}


def revision_notes(s: Session, revision_id: int) -> list[LineNote]:
    return [LineNote(*row) for row in rows_of(s, _notes_statement(), key=revision_id)]


@cache
def _notes_statement():
    return select(RevisionLine.source, RevisionLine.remark, RevisionLine.doubtful).where(
        RevisionLine.revision_id == bindparam("key")).order_by(col(RevisionLine.position))


def add_order_lines(s: Session, order_id: int, lines: Sequence[Line]) -> None:
    for position, line in enumerate(lines, start=1):
        s.add(OrderLine(order_id=order_id, position=position, **_line_fields(line)))


def _line_fields(line: Line) -> dict[str, object]:
    return {"sku": line.sku, "description": line.description, "quantity": line.quantity,
            "unit": line.unit, "unit_price": line.unit_price, "tax_rate": line.tax_rate}


def to_line(row: OrderLine | RevisionLine) -> Line:
    return Line(row.sku, row.description, row.quantity, row.unit, row.unit_price, row.tax_rate)


def decide_revision(s: Session, revision_id: int, status: RevisionStatus, values: dict[str, object]) -> bool:
    """Conditional update: only a still-submitted revision is decided, so a decision happens once."""
    return _moved(s, Revision, revision_id, RevisionStatus.SUBMITTED.value, {"status": status.value, **values})


def _moved(s: Session, model: type[Revision] | type[ApprovalStep] | type[PurchaseOrder], row_id: int,
           expected: str, values: dict[str, object]) -> bool:
    """A row changes only from the status expected: whoever comes second changes nothing."""
    result = s.execute(
        update(model).where(col(model.id) == row_id, col(model.status) == expected).values(**values)
        .execution_options(synchronize_session="fetch"))
    return result.rowcount == 1


@dataclass(frozen=True)
class SupplierWaiting:
    """What waits for one supplier, oldest first: orders to answer with a bill, rejected bills
    to correct, approved orders to deliver and invoice."""

    new: tuple[str, ...]
    rejected: tuple[str, ...]
    to_invoice: tuple[str, ...]

    @property
    def total(self) -> int:
        return len(self.new) + len(self.rejected) + len(self.to_invoice)


def waiting_for_supplier(s: Session, supplier_id: int) -> SupplierWaiting:
    states = (OrderStatus.NEW, OrderStatus.REJECTED, OrderStatus.APPROVED)
    refs: dict[OrderStatus, list[str]] = {state: [] for state in states}
    for state, ref in rows_of(s, _waiting_statement(), key=supplier_id):
        refs[_WAITING_BUCKETS[OrderStatus(state)]].append(ref)
    return SupplierWaiting(*(tuple(refs[state]) for state in states))


#: the order states a supplier has something to do in, and the list each goes in: delivered in part
#: or in full, or received, the delivery or the invoice is still the supplier's to do
_WAITING_BUCKETS = {OrderStatus.NEW: OrderStatus.NEW, OrderStatus.REJECTED: OrderStatus.REJECTED,
                    OrderStatus.APPROVED: OrderStatus.APPROVED, OrderStatus.PARTLY_DELIVERED: OrderStatus.APPROVED,
                    OrderStatus.DELIVERED: OrderStatus.APPROVED, OrderStatus.RECEIVED: OrderStatus.APPROVED}


@cache
def _waiting_statement():
    return (select(PurchaseOrder.status, PurchaseOrder.ref)
            .where(PurchaseOrder.supplier_id == bindparam("key"),
                   col(PurchaseOrder.status).in_([v.value for v in _WAITING_BUCKETS]))
            .order_by(col(PurchaseOrder.created_at), col(PurchaseOrder.id)))


def add_event(s: Session, order_id: int, at: datetime, actor: str, kind: str, detail: str = "", *,
              revision_id: int | None = None, inbound_id: int | None = None,
              outbox_id: int | None = None) -> None:
    """A plain INSERT on the session's connection: nobody reads an event back in the
    transaction that writes it, so no ORM object and no flush. What it refers to is
    flushed already (the ledger row, revisions and outbox rows are flushed when made).
    Inside `one_message` the events wait and go in one executemany at its end."""
    row = {"order_id": order_id, "at": at, "actor": actor, "kind": kind, "detail": detail,
           "revision_id": revision_id, "inbound_id": inbound_id, "outbox_id": outbox_id}
    held = s.info.get(_EVENTS)
    if held is not None:
        held.append(row)
        return
    insert_rows(s, Event, row)


_EVENTS, _MEMO = "supplierbot.events", "supplierbot.memo"


@contextmanager
def one_message(s: Session) -> Iterator[None]:
    """The scope of one inbound message on the worker's hot path: its timeline events are written
    together when it ends (one executemany, in the order they happened), and what does not change
    while a message is applied (an order's revisions, lines, buyers, a revision's steps) is read
    once. An exception drops both: the caller rolls the message's savepoint back."""
    s.info[_EVENTS], s.info[_MEMO] = [], {}
    try:
        yield
        write_events(s)
    finally:
        s.info.pop(_EVENTS, None)
        s.info.pop(_MEMO, None)


def write_events(s: Session) -> None:
    """The events held so far, in one statement (what they refer to is flushed first)."""
    held = s.info.get(_EVENTS)
    if held:
        s.flush()
        insert_rows(s, Event, list(held))
        held.clear()


def assign(row: object, **values: object) -> None:
    """Set only what differs: an attribute set to its own value still makes the row dirty, and
    the next query flushes it for nothing."""
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


def _memo(s: Session) -> dict | None:
    return s.info.get(_MEMO)


def forget(s: Session, kind: str, key: int) -> None:
    """A memoised read is stale (its rows were added to): read it again next time."""
    memo = _memo(s)
    if memo is not None:
        memo.pop((kind, key), None)


def remember_revision(s: Session, revision: Revision) -> None:
    """A revision just made: the order's memoised revisions gain it (it has the highest number)."""
    memo = _memo(s)
    known = memo.get(("revisions", revision.order_id)) if memo is not None else None
    if known is not None:
        known.append(revision)


def events_of(s: Session, order_id: int) -> list[Event]:
    write_events(s)
    query = select(Event).where(Event.order_id == order_id).order_by(col(Event.at), col(Event.id))
    return list(s.exec(query).all())


def ledger_row(s: Session, account: str, folder: str, uidvalidity: int, uid: int) -> InboundMessage | None:
    query = select(InboundMessage).where(
        InboundMessage.account == account, InboundMessage.folder == folder,
        InboundMessage.uidvalidity == uidvalidity, InboundMessage.uid == uid)
    return s.exec(query).first()


def ledger_keys(s: Session, keys: Sequence[tuple[str, str, int, int]]) -> set[tuple[str, str, int, int]]:
    """Which of these (account, folder, UIDVALIDITY, UID) are in the ledger, in one query per folder."""
    found: set[tuple[str, str, int, int]] = set()
    for account, folder, uidvalidity in {key[:3] for key in keys}:
        uids = [key[3] for key in keys if key[:3] == (account, folder, uidvalidity)]
        query = select(InboundMessage.uid).where(
            InboundMessage.account == account, InboundMessage.folder == folder,
            InboundMessage.uidvalidity == uidvalidity, col(InboundMessage.uid).in_(uids))
        found.update((account, folder, uidvalidity, int(uid)) for uid in s.exec(query).all())
    return found


def earlier_copy(s: Session, message_id: str, digest: str, this_id: int) -> InboundMessage | None:
    """The same message (same Message-ID and bytes) already taken in under another UID: applied,
    or queued before this one (a later queued copy is the duplicate, not this one)."""
    return s.exec(select(InboundMessage).where(*_copy_of(InboundMessage, message_id, digest, this_id))).first()


def _copy_of(earlier, message_id, digest, this_id) -> tuple:
    return (earlier.message_id == message_id, earlier.sha256 == digest,
            col(earlier.id) != this_id, col(earlier.status) != "failed",
            or_(col(earlier.status) != InboundStatus.QUEUED.value, col(earlier.id) < this_id))


def claim_inbound(s: Session, owner: str, now: datetime, until: datetime, limit: int,
                  takeover: Sequence[str] = (), big_bytes: int = 256 << 10, small_only: bool = False) -> list[int]:
    """Claim up to `limit` queued messages, oldest first, that nobody holds (or whose holder's
    lease ran out, or who is in `takeover`) and that wait for no earlier message.

    A message waits while an earlier one of the same order is still queued, or of the same
    sender when either names no order in its headers: a SEND never overtakes the sheet it
    submits, and different orders go in parallel. On PostgreSQL the candidates are locked
    with SKIP LOCKED, so workers claiming at the same time take different rows; the wait
    looks at the status, not at claims, so it holds whoever has the earlier message.
    """
    s.flush()  # as the ORM's execute did: these go on the session's connection
    small, big, claim = _claim_statements(s.get_bind().dialect.name == "postgresql")
    # a big message (scans) fetched less than a minute ago goes after the small ones: quick replies pass it
    params = {"now": now, "takeover": list(takeover), "big_bytes": big_bytes, "fresh_after": now - timedelta(minutes=1)}
    ids: list[int] = []
    for query in (small,) if small_only else (small, big):  # walks in id order, stopping at `limit`
        if len(ids) < limit:
            ids += [int(i) for i, in s.connection().execute(query, {**params, "limit": limit - len(ids)})]
    if ids:
        s.connection().execute(claim, {**params, "ids": ids, "owner": owner, "until": until})
    return ids


@cache
def _claim_statements(postgresql: bool) -> tuple:
    """`claim_inbound`'s candidates (small or fresh messages, then fresh big ones) and its UPDATE,
    built once and bound per claim: building them cost several times running them."""
    me = InboundMessage
    queued = me.status == InboundStatus.QUEUED.value
    free = or_(col(me.claimed_until).is_(None), col(me.claimed_until) <= bindparam("now"),
               col(me.claimed_by).in_(bindparam("takeover", expanding=True)))
    ready = and_(queued, free, *(~waits for waits in _waits(me)))
    fresh_big = and_(col(me.size) > bindparam("big_bytes"), col(me.received_at) > bindparam("fresh_after"))
    candidates = []
    for kind in (~fresh_big, fresh_big):
        query = select(me.id).where(ready, kind).order_by(col(me.id)).limit(bindparam("limit"))
        candidates.append(query.with_for_update(skip_locked=True) if postgresql else query)
    claim = update(me.__table__).where(col(me.id).in_(bindparam("ids", expanding=True)), queued, free).values(
        claimed_by=bindparam("owner"), claimed_until=bindparam("until"))
    return (*candidates, claim)


def _waits(me: type[InboundMessage]) -> tuple:
    """Why a queued message must wait: an earlier queued one of its order, or of its sender when
    either names no order. Three lookups, each a range of an index on (status, key, id)."""
    earlier = aliased(InboundMessage)
    before = (earlier.status == InboundStatus.QUEUED.value, col(earlier.id) < col(me.id))
    return (exists().where(*before, me.queue_key != "", earlier.queue_key == me.queue_key),
            exists().where(*before, earlier.queue_key == "", earlier.sender == me.sender),
            and_(me.queue_key == "", exists().where(*before, earlier.sender == me.sender)))


def take_claimed(s: Session, inbound_id: int, owner: str) -> InboundMessage | None:
    """The queued row this owner claimed, locked until the commit (PostgreSQL); None if it is not ours."""
    taken = take_claimed_checked(s, inbound_id, owner)
    return taken[0] if taken else None


@dataclass(frozen=True)
class CopyChecked:
    """`earlier_copy` answered in the statement that took the row, for the Message-ID its headers gave."""

    message_id: str
    earlier_id: int | None


def take_claimed_checked(s: Session, inbound_id: int, owner: str) -> tuple[InboundMessage, CopyChecked] | None:
    """`take_claimed`, with the id of an earlier copy of the message (see `earlier_copy`) in the same statement."""
    found = s.exec(_take_claimed_statement(), params={"inbound_id": inbound_id, "owner": owner}).first()
    if found is None:
        return None
    row, earlier_id = found
    return row, CopyChecked(row.message_id, earlier_id)


@cache
def _take_claimed_statement():
    """Built once (building this statement cost more than running it), bound per message."""
    me, earlier = InboundMessage, aliased(InboundMessage)
    copy = (select(earlier.id).where(*_copy_of(earlier, me.message_id, me.sha256, me.id))
            .limit(1).correlate(me).scalar_subquery())
    query = select(me, copy).where(me.id == bindparam("inbound_id"), me.claimed_by == bindparam("owner"),
                                   me.status == InboundStatus.QUEUED.value)
    return query.with_for_update(of=me).execution_options(populate_existing=True)


def settle_inbound(s: Session, row: InboundMessage, **values: object) -> None:
    """A claimed message's outcome written at once by one UPDATE built once: no unit of work for
    it. The row's attributes are expired, not set: whoever reads them next (nobody, on the
    worker's path) reads what the database holds, also after a rollback of the savepoint."""
    s.connection().execute(_settle_statement(), {"row_id": row.id, **values})
    s.expire(row, list(values))


@cache
def _settle_statement():
    table = InboundMessage.__table__  # type: ignore[attr-defined]
    return update(table).where(table.c.id == bindparam("row_id"))  # SET: the names given


def inbound_claimants(s: Session, now: datetime) -> list[str]:
    """Who holds a live claim on a queued message."""
    query = select(InboundMessage.claimed_by).distinct().where(
        InboundMessage.status == InboundStatus.QUEUED.value, col(InboundMessage.claimed_until) > now)
    return [str(c) for c in s.exec(query).all()]


def renew_inbound_claims(s: Session, owner: str, inbound_ids: Sequence[int], until: datetime) -> int:
    """Extend `owner`'s claims on these queued messages to `until` (a claim another worker took
    meanwhile stays its); how many were extended."""
    renewed = s.execute(update(InboundMessage).where(
        InboundMessage.status == InboundStatus.QUEUED.value, InboundMessage.claimed_by == owner,
        col(InboundMessage.id).in_(list(inbound_ids))).values(claimed_until=until)
        .execution_options(synchronize_session=False))
    return int(renewed.rowcount)


def release_inbound_claims(s: Session, owner: str, inbound_ids: Sequence[int] | None = None) -> None:
    query = update(InboundMessage).where(InboundMessage.status == InboundStatus.QUEUED.value,
                                         InboundMessage.claimed_by == owner)
    if inbound_ids is not None:
        query = query.where(col(InboundMessage.id).in_(list(inbound_ids)))
    s.execute(query.values(claimed_by="", claimed_until=None).execution_options(synchronize_session=False))


def queue_state(s: Session) -> tuple[int, datetime | None]:
    """How many messages wait in the queue, and when the oldest of them was fetched."""
    query = select(func.count(), func.min(InboundMessage.received_at)).where(
        InboundMessage.status == InboundStatus.QUEUED.value)
    count, oldest = s.exec(query).one()
    return int(count), oldest


def take_fetcher_lease(s: Session, mailbox: str, holder: str, now: datetime, until: datetime,
                       takeover: Sequence[str] = ()) -> bool:
    """Hold (or renew) the right to fetch this mailbox until `until`: ours already, free, run
    out, or held by someone in `takeover`. The condition is in the UPDATE, so two processes
    asking at once cannot both get it."""
    taken = s.execute(update(FetcherLease).where(
        FetcherLease.mailbox == mailbox,
        or_(FetcherLease.holder == holder, col(FetcherLease.until) <= now, col(FetcherLease.holder).in_(list(takeover))))
        .values(holder=holder, until=until).execution_options(synchronize_session=False))
    if taken.rowcount:
        return True
    if s.get(FetcherLease, mailbox) is not None:
        return False
    try:
        with s.begin_nested():
            s.add(FetcherLease(mailbox=mailbox, holder=holder, until=until))
    except IntegrityError:  # another process made it first
        return False
    return True


def fetcher_lease(s: Session, mailbox: str) -> FetcherLease | None:
    return s.get(FetcherLease, mailbox, populate_existing=True)


def release_fetcher_lease(s: Session, mailbox: str, holder: str) -> None:
    s.execute(delete(FetcherLease).where(FetcherLease.mailbox == mailbox, FetcherLease.holder == holder))


def cursor_for(s: Session, account: str, folder: str) -> MailboxCursor | None:
    return s.get(MailboxCursor, (account, folder))


def advance_cursor(s: Session, account: str, folder: str, uidvalidity: int, uid: int) -> None:
    cursor = cursor_for(s, account, folder)
    if cursor is None:
        s.add(MailboxCursor(account=account, folder=folder, uidvalidity=uidvalidity, last_uid=uid))
    elif cursor.uidvalidity != uidvalidity:
        cursor.uidvalidity, cursor.last_uid = uidvalidity, uid
    else:
        cursor.last_uid = max(cursor.last_uid, uid)


def set_location(s: Session, inbound_ids: Sequence[int], location: str) -> None:
    s.execute(update(InboundMessage).where(col(InboundMessage.id).in_(list(inbound_ids)))
              .values(location=location).execution_options(synchronize_session=False))


def _due(now: datetime) -> tuple:
    """Outbox rows to send now: queued, and not waiting out a retry delay."""
    return (OutboxMessage.status == OutboxStatus.QUEUED.value,
            or_(col(OutboxMessage.next_attempt_at).is_(None), col(OutboxMessage.next_attempt_at) <= now))


def outbox_claimants(s: Session, now: datetime) -> list[str]:
    """Who holds a live claim on a queued row."""
    query = select(OutboxMessage.claimed_by).distinct().where(
        OutboxMessage.status == OutboxStatus.QUEUED.value, col(OutboxMessage.claimed_until) > now)
    return [str(c) for c in s.exec(query).all()]


def claim_outbox(s: Session, owner: str, now: datetime, until: datetime, limit: int,
                 takeover: Sequence[str] = (), exclude: Sequence[int] = ()) -> list[int]:
    """Claim up to `limit` due rows that nobody holds (or whose holder's lease ran out, or who
    is in `takeover`), leaving out `exclude`; the ids this owner now holds, oldest first.

    The claim conditions are in the UPDATE's own WHERE, so on PostgreSQL a row another
    sender claimed meanwhile is re-checked after its lock is released and left alone.
    """
    free = and_(or_(col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) <= now,
                    col(OutboxMessage.claimed_by).in_(list(takeover))),
                col(OutboxMessage.id).not_in(list(exclude)))
    candidates = select(OutboxMessage.id).where(*_due(now), free).order_by(col(OutboxMessage.id)).limit(limit)
    s.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(candidates.scalar_subquery()), *_due(now), free)
              .values(claimed_by=owner, claimed_until=until).execution_options(synchronize_session=False))
    query = select(OutboxMessage.id).where(OutboxMessage.claimed_by == owner, *_due(now)).order_by(col(OutboxMessage.id))
    return [int(i) for i in s.exec(query).all()]


def mark_outbox_sent(s: Session, accepted: Sequence[tuple[int, datetime]], note: str = "") -> None:
    """Rows the server accepted (id, when): sent, claims dropped; a row already sent is left alone."""
    for outbox_id, when in accepted:
        values: dict[str, object] = dict(status=OutboxStatus.SENT.value, sent_at=when, claimed_by="",
                                         claimed_until=None, attempts=OutboxMessage.attempts + 1)
        if note:
            values["last_error"] = note
        s.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id,
                                              OutboxMessage.status == OutboxStatus.QUEUED.value)
                  .values(**values).execution_options(synchronize_session=False))


def note_outbox(s: Session, outbox_ids: Sequence[int], note: str) -> None:
    s.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(list(outbox_ids)))
              .values(last_error=note).execution_options(synchronize_session=False))


def release_outbox_claims(s: Session, owner: str) -> None:
    """Only queued rows can still hold a claim (sent and failed rows drop theirs), and the
    status index keeps this off a scan of every email ever sent."""
    s.execute(update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.QUEUED.value,
                                          OutboxMessage.claimed_by == owner)
              .values(claimed_by="", claimed_until=None).execution_options(synchronize_session=False))


def next_outbox_attempt(s: Session) -> datetime | None:
    """When the earliest queued row that waits out a retry delay is due again."""
    query = select(func.min(OutboxMessage.next_attempt_at)).where(
        OutboxMessage.status == OutboxStatus.QUEUED.value, col(OutboxMessage.next_attempt_at).is_not(None))
    return s.exec(query).one()


def outbox_rows(s: Session, status: OutboxStatus | None, limit: int) -> Sequence[OutboxMessage]:
    query = select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status.value)
    return s.exec(query).all()


def add_outbox(s: Session, values: dict[str, object]) -> int:
    """A queued email's row, by a plain INSERT (see `insert_rows`); its id."""
    return _new_id(s, _add_outbox_statement(), values)


@cache
def _add_outbox_statement():
    return insert(OutboxMessage.__table__)  # type: ignore[attr-defined]


def _new_id(s: Session, statement, values: dict[str, object]) -> int:
    """The id of the row `statement` inserts: SQLAlchemy asks for it as the server allows
    (RETURNING on PostgreSQL and on SQLite from 3.35; the cursor's lastrowid before that; an
    explicit RETURNING would fail on older SQLite builds, such as RHEL 9's 3.34)."""
    return int(s.connection().execute(statement, values).inserted_primary_key[0])


def outbox_by_message_ids(s: Session, message_ids: Sequence[str]) -> list[OutboxMessage]:
    if not message_ids:
        return []
    return list(s.exec(select(OutboxMessage).where(col(OutboxMessage.message_id).in_(message_ids))).all())


def error_replies_since(s: Session, recipient: str, since: datetime) -> int:
    query = select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.recipients == recipient, col(OutboxMessage.purpose).startswith("error:"),
        col(OutboxMessage.created_at) >= since)
    return int(s.exec(query).one())


def failed_due(s: Session, now: datetime) -> list[int]:
    """Sorted here, not in SQL: ORDER BY id makes SQLite walk the whole ledger in id order
    (5 ms a poll at 100,000 messages) instead of using the next_attempt_at index (0.03 ms)."""
    query = select(InboundMessage.id).where(
        InboundMessage.status == InboundStatus.FAILED.value,
        col(InboundMessage.next_attempt_at).is_not(None), col(InboundMessage.next_attempt_at) <= now)
    return sorted(int(i) for i in s.exec(query).all())


def inbound_with_status(s: Session, status: InboundStatus = InboundStatus.FAILED) -> Sequence[InboundMessage]:
    query = select(InboundMessage).where(InboundMessage.status == status.value)
    return s.exec(query.order_by(col(InboundMessage.id))).all()


def unsettled(s: Session, account: str, folder: str, uidvalidity: int) -> Sequence[InboundMessage]:
    """Ledger rows whose message still sits in the folder it was fetched from."""
    query = select(InboundMessage).where(
        InboundMessage.account == account, InboundMessage.folder == folder,
        InboundMessage.uidvalidity == uidvalidity, InboundMessage.location == "source")
    return s.exec(query).all()


class SqlOrderLookup:
    """The matching port (bot.matching.OrderLookup) over the database."""

    def __init__(self, s: Session, files: FileStore | None = None, load_order: bool = False) -> None:
        self.s = s
        self.files = files  # where an email too large for its outbox row was written
        #: `load_order`: a token's order and its supplier come in the same statement, and are held
        #: here (the session's identity map keeps only what is referenced): `s.get` finds them
        self.load_order, self.loaded = load_order, []

    def by_token(self, token: str) -> Target | None:
        if not self.load_order:
            found = self.s.exec(_token_statement(False, False), params={"token": token}).first()
            return Target(*found) if found else None
        memo = _memo(self.s)
        with_revisions = memo is not None  # inside one_message: the order's revisions too, one row each
        rows = self.s.exec(_token_statement(True, with_revisions), params={"token": token}).all()
        if not rows:
            return None
        first = rows[0]
        self.loaded += [entity for entity in first[3:5] if entity is not None]
        if with_revisions and first[3] is not None:
            memo[("revisions", first[3].id)] = [row[5] for row in rows if row[5] is not None]
        return Target(*first[:3])

    def by_sent_message_id(self, message_id: str) -> Target | None:
        row = self.s.exec(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).first()
        if row is None or row.order_id is None:
            return None
        if row.purpose != "approval_request" or row.revision_id is None:
            return Target(row.order_id, None)
        return Target(row.order_id, row.revision_id, self._step_asked(row))

    def _step_asked(self, row: OutboxMessage) -> int | None:
        """The step an approval request asked: its reply token's, found in its own Reply-To (the row
        keeps no token of its own). 0 when it cannot be read: bound to no step, it decides none."""
        tokens = self.s.exec(select(ReplyToken).where(ReplyToken.order_id == row.order_id,
                                                      ReplyToken.revision_id == row.revision_id)).all()
        reply_to = _reply_to(self._head(row.raw))
        return next((t.step for t in tokens if t.token in reply_to and t.step is not None), 0)

    def _head(self, raw: bytes) -> bytes:
        path = self.files.spilled(raw) if self.files is not None else None
        if path is None:
            return b"" if raw.startswith(SPILLED) else raw[:HEAD_BYTES]
        try:
            with path.open("rb") as f:
                return f.read(HEAD_BYTES)
        except OSError:
            return b""

    def by_ref(self, ref: str) -> int | None:
        order = order_by_ref(self.s, ref)
        return order.id if order else None

    def is_party(self, order_id: int, address: str) -> bool:
        return role_of(self.s, order_id, address) != "stranger"


@cache
def _token_statement(load_order: bool, with_revisions: bool):
    """A reply token's target; with its order and supplier (and the order's revisions, a row each)."""
    query = select(ReplyToken.order_id, ReplyToken.revision_id, ReplyToken.step,
                   *((PurchaseOrder, Supplier) if load_order else ()), *((Revision,) if with_revisions else ()))
    if load_order:
        query = (query.select_from(ReplyToken)
                 .outerjoin(PurchaseOrder, col(PurchaseOrder.id) == col(ReplyToken.order_id))
                 .outerjoin(Supplier, col(Supplier.id) == col(PurchaseOrder.supplier_id)))
    if with_revisions:
        query = query.outerjoin(Revision, col(Revision.order_id) == col(PurchaseOrder.id)).order_by(
            col(Revision.number))
    return query.where(ReplyToken.token == bindparam("token"))


HEAD_BYTES = 64 << 10  # an email's header block ends well before this


def _reply_to(head: bytes) -> str:
    """The Reply-To header of an email the bot composed ("" when there is none)."""
    block = head.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    headers = BytesHeaderParser(policy=compat32).parsebytes(block + b"\r\n\r\n")
    return str(headers.get("Reply-To", "")).lower()


def role_of(s: Session, order_id: int, address: str) -> str:
    """Exact addresses first (the supplier's own, then buyers and delegates), then the supplier's others."""
    address = address.lower()
    order = s.get(PurchaseOrder, order_id)
    supplier = s.get(Supplier, order.supplier_id) if order else None
    if order is None or supplier is None:
        return "stranger"
    if supplier.email == address:
        return "supplier"
    buyers = buyers_of(s, order_id)
    if any(buyer.email == address for buyer in buyers) or _delegate_of(s, [b.id for b in buyers], address):
        return "buyer"
    if address in supplier_addresses(s, supplier.id) or (supplier.domain and address.endswith("@" + supplier.domain)):
        return "supplier"
    return "stranger"


def _delegate_of(s: Session, buyer_ids: list[int], address: str) -> bool:
    query = select(BuyerDelegate).where(col(BuyerDelegate.buyer_id).in_(buyer_ids), BuyerDelegate.email == address)
    return s.exec(query).first() is not None


def supplier_of_address(s: Session, address: str) -> Supplier | None:
    """The supplier an address acts for: its own email, one of its addresses, or its domain."""
    address = address.lower()
    found = s.exec(select(Supplier).where(Supplier.email == address)).first()
    if found is None:
        query = select(Supplier).join(SupplierAddress, col(SupplierAddress.supplier_id) == col(Supplier.id))
        found = s.exec(query.where(SupplierAddress.email == address)).first()
    domain = address.rpartition("@")[2]
    if found is None and domain:
        found = s.exec(select(Supplier).where(Supplier.domain == domain)).first()
    return found


def orders_of_supplier(s: Session, supplier_id: int, statuses: Sequence[OrderStatus]) -> Sequence[PurchaseOrder]:
    query = select(PurchaseOrder).where(PurchaseOrder.supplier_id == supplier_id,
                                        col(PurchaseOrder.status).in_([status.value for status in statuses]))
    return s.exec(query.order_by(col(PurchaseOrder.created_at), col(PurchaseOrder.id))).all()


def delivered_quantities(s: Session, order_id: int) -> dict[str, Decimal]:
    query = select(DeliveryLine.sku, DeliveryLine.quantity).join(
        Delivery, col(Delivery.id) == col(DeliveryLine.delivery_id)).where(Delivery.order_id == order_id)
    return _summed(s.exec(query).all())


def received_quantities(s: Session, order_id: int) -> dict[str, Decimal]:
    query = select(ReceiptLine.sku, ReceiptLine.quantity).join(
        Receipt, col(Receipt.id) == col(ReceiptLine.receipt_id)).where(Receipt.order_id == order_id)
    return _summed(s.exec(query).all())


def _summed(rows: Sequence[tuple[str, Decimal]]) -> dict[str, Decimal]:
    total: dict[str, Decimal] = {}
    for key, quantity in rows:
        total[key] = total.get(key, Decimal(0)) + quantity
    return total


def deliveries_of(s: Session, order_id: int) -> list[Delivery]:
    return list(s.exec(select(Delivery).where(Delivery.order_id == order_id).order_by(col(Delivery.number))))


def claims_of(s: Session, order_id: int) -> list[Claim]:
    return list(s.exec(select(Claim).where(Claim.order_id == order_id).order_by(col(Claim.id))))


def latest_supplier_token(s: Session, order_id: int) -> str | None:
    """The reply token the supplier got last for this order (None: never mailed)."""
    query = select(ReplyToken.token).where(ReplyToken.order_id == order_id, ReplyToken.audience == "supplier")
    return s.exec(query.order_by(col(ReplyToken.created_at).desc())).first()


def supplier_addresses(s: Session, supplier_id: int) -> list[str]:
    query = select(SupplierAddress.email).where(SupplierAddress.supplier_id == supplier_id)
    return sorted(s.exec(query).all())


def delegates_of(s: Session, buyer_id: int) -> list[str]:
    return sorted(s.exec(select(BuyerDelegate.email).where(BuyerDelegate.buyer_id == buyer_id)).all())


def document_of(s: Session, order_id: int, digest: str, kind: str) -> Document | None:
    if _memo(s) is not None:
        return next((d for d in _order_documents(s, order_id) if d.sha256 == digest and d.kind == kind), None)
    query = select(Document).where(Document.order_id == order_id, Document.sha256 == digest, Document.kind == kind)
    return s.exec(query).first()


def _order_documents(s: Session, order_id: int) -> list[Document]:
    """An order's documents (a handful), read once per message: whether a file is kept already,
    whether scans wait for a draft, a revision's files."""
    return _memoised(s, "documents", order_id, lambda: list(
        s.exec(_documents_statement(), params={"key": order_id}).all()))


@cache
def _documents_statement():
    return select(Document).where(Document.order_id == bindparam("key")).order_by(col(Document.id))


def add_document(s: Session, **values: object) -> Document:
    """A file kept for an order: its row by a plain INSERT (see `insert_rows`), what
    it refers to flushed first. The Document handed back is not in the session (no unit of work for
    it): the order's memoised documents gain it, and its revision is set with `bind_document`."""
    s.flush()
    document = Document(id=_new_id(s, _add_document_statement(), values), **values)
    memo = _memo(s)
    known = memo.get(("documents", document.order_id)) if memo is not None else None
    if known is not None:
        known.append(document)
    return document


@cache
def _add_document_statement():
    return insert(Document.__table__)  # type: ignore[attr-defined]


def bind_document(s: Session, document: Document, revision_id: int) -> None:
    """A kept file goes with this revision. A Document read from the database is in the session:
    the change is flushed like any other (and undone with its savepoint). One `add_document`
    just wrote is not: an UPDATE now (it is forgotten with the message if its savepoint is undone)."""
    if document not in s:
        s.execute(update(Document).where(col(Document.id) == document.id).values(revision_id=revision_id)
                  .execution_options(synchronize_session=False))
    document.revision_id = revision_id


def documents_of(s: Session, order_id: int | None = None, revision_id: int | None = None) -> list[Document]:
    if order_id is not None and revision_id is not None and _memo(s) is not None:
        return [d for d in _order_documents(s, order_id) if d.revision_id == revision_id]
    query = select(Document).order_by(col(Document.id))
    if order_id is not None:
        query = query.where(Document.order_id == order_id)
    if revision_id is not None:
        query = query.where(Document.revision_id == revision_id)
    return list(s.exec(query).all())


def bind_waiting_scans(s: Session, order_id: int, revision_id: int) -> None:
    """Scans sent before there was a draft go with the first draft after them."""
    if _memo(s) is not None and not any(d.kind == "scan" and d.revision_id is None
                                        for d in _order_documents(s, order_id)):
        return  # none waits (the order's documents are read once per message anyway)
    s.execute(update(Document).where(col(Document.order_id) == order_id, col(Document.revision_id).is_(None),
                                     col(Document.kind) == "scan").values(revision_id=revision_id))


def add_comment(s: Session, **values: object) -> None:
    """A plain INSERT (what it refers to is flushed): read back only by queries, never as an object."""
    insert_rows(s, Comment, values)


def notes_of(s: Session, revision_id: int) -> list[Comment]:
    query = select(Comment).where(Comment.revision_id == revision_id).order_by(col(Comment.id))
    return list(s.exec(query).all())


def comments_of(s: Session, order_id: int) -> list[Comment]:
    return list(s.exec(select(Comment).where(Comment.order_id == order_id).order_by(col(Comment.id))).all())


def invoice_of(s: Session, order_id: int) -> Invoice | None:
    return s.exec(select(Invoice).where(Invoice.order_id == order_id)).first()


def document_by_hash(s: Session, digest: str) -> Document | None:
    return s.exec(select(Document).where(Document.sha256 == digest.lower())).first()


def last_message_to(s: Session, order_id: int, recipients: str) -> OutboxMessage | None:
    """The bot's latest email on this order to exactly these recipients: what a relay threads under."""
    query = select(OutboxMessage).where(OutboxMessage.order_id == order_id, OutboxMessage.recipients == recipients)
    return s.exec(query.order_by(col(OutboxMessage.id).desc())).first()


def steps_of(s: Session, revision_id: int) -> list[ApprovalStep]:
    return _memoised(s, "steps", revision_id, lambda: list(
        s.exec(_steps_statement(), params={"key": revision_id}).all()))


@cache
def _steps_statement():
    return select(ApprovalStep).where(ApprovalStep.revision_id == bindparam("key")).order_by(col(ApprovalStep.number))


def current_step(s: Session, revision_id: int) -> ApprovalStep | None:
    """The step whose approvers were asked and have not decided yet."""
    return next((step for step in steps_of(s, revision_id) if step.status is StepStatus.REQUESTED), None)


def decide_step(s: Session, step_id: int, status: StepStatus, values: dict[str, object]) -> bool:
    """Conditional update: a step is decided once, by whoever comes first."""
    return _moved(s, ApprovalStep, step_id, StepStatus.REQUESTED.value, {"status": status.value, **values})


def step_approvers(s: Session, order_id: int, step: ApprovalStep) -> tuple[str, ...]:
    """Who is asked at a step: its own addresses, or the order's buyers for step 1."""
    if step.approvers:
        return tuple(step.approvers.split(","))
    return tuple(buyer.email for buyer in buyers_of(s, order_id))


def with_delegates(s: Session, addresses: Sequence[str]) -> frozenset[str]:
    """Those addresses and everyone who may decide for them."""
    query = select(BuyerDelegate.email).join(Buyer, col(Buyer.id) == col(BuyerDelegate.buyer_id)).where(
        col(Buyer.email).in_(list(addresses)))
    return frozenset([*addresses, *s.exec(query).all()])


def is_step_approver(s: Session, order_id: int, address: str) -> bool:
    """A later step's approver (finance, the CFO) of one of this order's revisions."""
    query = select(ApprovalStep.approvers).join(Revision, col(Revision.id) == col(ApprovalStep.revision_id)).where(
        Revision.order_id == order_id, ApprovalStep.approvers != "")
    addresses = {a for row in s.exec(query).all() for a in row.split(",")}
    return address.lower() in with_delegates(s, sorted(addresses))


def order_by_buyer_ref(s: Session, supplier_email: str, buyer_ref: str) -> str | None:
    """The reference of an order with this buyer's reference for this supplier (an import done before)."""
    query = select(PurchaseOrder.ref).join(Supplier, col(Supplier.id) == col(PurchaseOrder.supplier_id)).where(
        Supplier.email == supplier_email.lower(), PurchaseOrder.buyer_ref == buyer_ref)
    return s.exec(query).first()


def send_draft_order(s: Session, order_id: int) -> bool:
    """Conditional update: a buyer's draft order goes to the supplier once, whoever's SEND comes first."""
    return _moved(s, PurchaseOrder, order_id, OrderStatus.DRAFT.value, {"status": OrderStatus.NEW.value})
