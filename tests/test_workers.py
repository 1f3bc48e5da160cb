"""The ledger as a work queue: fetching only queues, workers claim with leases, one order's
messages in arrival order, one fetcher at a time (SQLite and PostgreSQL)."""
from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import App, build_app
from bot.config import load_config
from bot.orders import NewOrder, create_order
from bot.pipeline import Source, enqueue
from bot.tokens import reply_address
from bot.workers import CLAIM_LEASE, RENEW_CLAIMS, Worker, hold_fetcher_lease, holds_fetcher_lease, release_fetcher_lease
from parsers.bill_sheet import SheetHeader, write_bill_sheet
from parsers.records import Line
from storage import queries
from storage.db import session
from storage.models import InboundMessage, InboundStatus, MailboxCursor, OutboxMessage, ReplyToken, Revision
from tests.conftest import write_config
from tests.test_postgres import scratch_database

BOT = "bot@example.test"
LINES = (Line("BLT-M8", "Hex bolt", Decimal(500), "pcs", Decimal("0.12"), Decimal(19)),
         Line("NUT-M8", "Hex nut", Decimal(500), "pcs", Decimal("0.04"), Decimal(19)))


class _NoServer:
    imap_port = smtp_port = 9  # never contacted: queueing and applying do no network I/O


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


def _app(tmp_path: Path, url: str, clock: Clock) -> App:
    return build_app(load_config(write_config(tmp_path, BOT, _NoServer(), url)), clock)


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    monkeypatch.setenv("TEST_IMAP_PASSWORD", "x")
    if request.param == "sqlite":
        yield _app(tmp_path, "sqlite:///bot.db", Clock())
        return
    with scratch_database() as url:
        built = _app(tmp_path, url, Clock())
        yield built
        built.engine.dispose()


def _order(app: App, supplier: str = "sales@supplier.test") -> tuple[int, str]:
    """(order id, the supplier's reply token)."""
    ref = create_order(app, NewOrder(supplier, ("buyer@example.test",), LINES))
    with session(app.engine) as s:
        order = queries.order_by_ref(s, ref)
        assert order is not None
        token = s.exec(select(ReplyToken).where(ReplyToken.order_id == order.id,
                                                ReplyToken.audience == "supplier")).one()
        return int(order.id), token.token


def _reply(token: str | None, text: str, sheet: bool = False, sender: str = "sales@supplier.test",
           pdf: bytes | None = None) -> bytes:
    message = EmailMessage()
    message["From"], message["To"] = sender, reply_address(BOT, token) if token else BOT
    message["Subject"], message["Message-ID"] = "Re: your order", make_msgid(domain="supplier.test")
    message.set_content(text)
    if sheet:
        priced = [Line(l.sku, l.description, l.quantity, l.unit, l.unit_price + Decimal("0.01"), l.tax_rate)
                  for l in LINES]
        message.add_attachment(write_bill_sheet(SheetHeader("", "ACME GmbH", sender, "EUR"), priced),
                               maintype="application", filename="bill.xlsx",
                               subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    if pdf is not None:
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename="quote.pdf")
    return message.as_bytes()


def _queue(app: App, *raws: bytes, first_uid: int = 1) -> list[int]:
    ids = enqueue(app, [(Source("acct", "INBOX", 1, first_uid + n), raw) for n, raw in enumerate(raws)])
    assert None not in ids
    return [i for i in ids if i is not None]


def _rows(app: App) -> dict[int, InboundMessage]:
    with session(app.engine) as s:
        return {int(r.id): r for r in s.exec(select(InboundMessage)).all() if r.id is not None}


def test_fetching_only_queues_and_a_worker_applies(app: App) -> None:
    _, token = _order(app)
    (inbound_id,) = _queue(app, _reply(token, "When do you deliver?"))
    row = _rows(app)[inbound_id]
    assert row.status is InboundStatus.QUEUED and row.sender == "sales@supplier.test"
    assert Path(row.raw_path).exists()
    with session(app.engine) as s:
        assert s.get(MailboxCursor, ("acct", "INBOX")).last_uid == 1
        assert queries.queue_state(s)[0] == 1
        assert len(s.exec(select(OutboxMessage).where(OutboxMessage.purpose != "new_order")).all()) == 0
    outcomes = Worker(app).drain()
    assert outcomes[inbound_id] is not None and outcomes[inbound_id].status is InboundStatus.APPLIED
    row = _rows(app)[inbound_id]
    assert row.status is InboundStatus.APPLIED and row.claimed_by == "" and row.claimed_until is None
    assert _queue_length(app) == 0
    assert enqueue(app, [(Source("acct", "INBOX", 1, 1), b"fetched again")]) == [None]  # the ledger keeps it once


def _queue_length(app: App) -> int:
    with session(app.engine) as s:
        return queries.queue_state(s)[0]


def _claim(app: App, owner: str, limit: int = 10) -> list[int]:
    now = app.clock()
    with session(app.engine) as s:
        ids = queries.claim_inbound(s, owner, now, now + CLAIM_LEASE, limit)
        s.commit()
    return ids


def test_a_send_never_overtakes_the_sheet_it_submits_while_other_orders_go_on(app: App) -> None:
    _, first = _order(app)
    _, second = _order(app)
    sheet, send, other = _queue(app, _reply(first, "Our bill", sheet=True), _reply(first, "SEND"),
                                _reply(second, "A question"))
    assert _claim(app, "a:1:x") == [sheet, other]  # the SEND waits for the sheet; the other order does not
    assert _claim(app, "b:2:y") == []
    Worker(app, owner="a:1:x")._apply([])  # nothing applied yet: still waiting
    assert _claim(app, "b:2:y") == []
    worker = Worker(app)
    outcomes = worker.drain()
    assert outcomes == {}  # a's claims are live: nobody else applies them
    a = Worker(app, owner="a:1:x")
    with session(app.engine) as s:
        queries.release_inbound_claims(s, "a:1:x")
        s.commit()
    assert set(a.drain()) == {sheet, other, send}
    rows = _rows(app)
    assert rows[sheet].disposition.startswith("draft") and rows[send].disposition.startswith("submitted"), \
        (rows[sheet].disposition, rows[send].disposition)


def test_without_an_order_in_the_headers_a_senders_messages_keep_their_order(app: App) -> None:
    _, token = _order(app)
    to_bot, by_token, stranger = _queue(app, _reply(None, "ORDERS"), _reply(token, "SEND"),
                                        _reply(None, "ORDERS", sender="someone@else.test"))
    assert _rows(app)[by_token].queue_key.startswith("order:") and _rows(app)[to_bot].queue_key == ""
    assert _claim(app, "a:1:x") == [to_bot, stranger]


def test_a_crashed_workers_claim_expires_and_another_worker_applies_it_once(app: App) -> None:
    _, token = _order(app)
    (inbound_id,) = _queue(app, _reply(token, "Anyone there?"))
    assert _claim(app, "elsewhere.example:4242:dead") == [inbound_id]  # a worker on another host, then silence
    assert Worker(app).drain() == {}
    app.clock.now += CLAIM_LEASE + timedelta(seconds=1)  # type: ignore[attr-defined]
    outcomes = Worker(app).drain()
    assert outcomes[inbound_id] is not None and outcomes[inbound_id].status is InboundStatus.APPLIED
    late = Worker(app, owner="elsewhere.example:4242:dead")
    from bot.pipeline import apply_claimed, prepare  # the first worker wakes up: its claim is gone

    with session(app.engine) as s:
        raw = app.files.raw(_rows(app)[inbound_id].sha256)
        assert apply_claimed(app, s, late.owner, prepare(app, inbound_id, raw)) is None
    with session(app.engine) as s:
        questions = s.exec(select(OutboxMessage).where(OutboxMessage.purpose != "new_order")).all()
    assert len(questions) == 1


def test_claims_held_while_documents_are_read_are_renewed_past_their_lease(app: App) -> None:
    # a message whose scans take longer to read than a claim's lease: a worker on another host
    # must not take it meanwhile (it would be applied twice over, the second finding nothing)
    _, token = _order(app)
    (inbound_id,) = _queue(app, _reply(token, "Our bill"))
    reading = Worker(app, owner="elsewhere.example:4242:alive")  # another host: its pid says nothing here
    reading.claimed += reading._claim(10)  # held, as a big message waiting to be parsed or read
    assert [c[0] for c in reading.claimed] == [inbound_id]
    reading.renew()  # just claimed: nothing to do yet
    for _ in range(4):  # 4 × RENEW_CLAIMS = 40 minutes, well past the first lease
        app.clock.now += RENEW_CLAIMS  # type: ignore[attr-defined]
        reading.renew()
        assert Worker(app)._claim(10) == []  # still held by the reading worker
    until = _rows(app)[inbound_id].claimed_until
    assert until is not None and until.replace(tzinfo=timezone.utc) == app.clock() + CLAIM_LEASE
    app.clock.now += CLAIM_LEASE + timedelta(seconds=1)  # type: ignore[attr-defined]  # it died: no renewals
    assert [c[0] for c in Worker(app)._claim(10)] == [inbound_id]


def test_a_message_that_failed_leaves_no_object_of_its_rows_for_the_next(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    # its outbox row, written by a plain INSERT, is undone with its savepoint, but an object
    # loaded from it stayed in the session: on SQLite the next message's row takes its id, and
    # the next reader of "the last email to the supplier" got the failed message's Message-ID
    import bot.pipeline
    from bot.pipeline import apply_claimed, prepare
    from storage.models import OutboxMessage

    (one, token_one), (two, token_two) = _order(app), _order(app)  # two orders: applied side by side
    first, second = _queue(app, _reply(token_one, "One"), _reply(token_two, "Two"))
    orders = {first: one, second: two}
    held: list[OutboxMessage] = []
    seen: list[str] = []

    def handle(app_, s, row, raw, **_):
        values = {"message_id": f"<{row.id}@bot.test>", "order_id": orders[row.id], "purpose": "comment",
                  "recipients": "sales@supplier.test", "subject": "s", "created_at": app.clock(), "raw": b"r"}
        queries.add_outbox(s, values)
        last = queries.last_message_to(s, orders[row.id], "sales@supplier.test")
        seen.append(last.message_id)
        if row.id == first:
            held.append(last)  # kept alive past the failure
            raise RuntimeError("a bug after the answer was queued")
        from bot.apply import Outcome
        return Outcome(InboundStatus.APPLIED, "test")

    monkeypatch.setattr(bot.pipeline, "handle", handle)
    worker = Worker(app)
    assert sorted(c[0] for c in worker._claim(10)) == [first, second]
    prepared = [prepare(app, i, app.files.raw(_rows(app)[i].sha256)) for i in (first, second)]
    with session(app.engine) as s:  # one transaction, a savepoint each, as Worker._apply does
        for message in prepared:
            apply_claimed(app, s, worker.owner, message)
        s.commit()
    assert seen == [f"<{first}@bot.test>", f"<{second}@bot.test>"]
    with session(app.engine) as s:
        assert [r.message_id for r in s.exec(select(OutboxMessage).where(OutboxMessage.purpose == "comment"))] == [
            f"<{second}@bot.test>"]


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_claim_of_a_dead_process_on_this_host_is_taken_at_once(app: App) -> None:
    _, token = _order(app)
    (inbound_id,) = _queue(app, _reply(token, "Anyone there?"))
    assert _claim(app, f"{socket.gethostname()}:{_dead_pid()}:killed") == [inbound_id]
    assert list(Worker(app).drain()) == [inbound_id]


def test_one_fetcher_at_a_time_and_another_takes_over_when_its_lease_runs_out(app: App) -> None:
    assert hold_fetcher_lease(app, "first.example:1:a")
    assert not hold_fetcher_lease(app, "second.example:2:b")
    assert hold_fetcher_lease(app, "first.example:1:a")  # renewed
    app.clock.now += timedelta(seconds=2 * app.config.bot.poll_interval_seconds + 31)  # type: ignore[attr-defined]
    assert not holds_fetcher_lease(app, "first.example:1:a")
    assert hold_fetcher_lease(app, "second.example:2:b")
    assert not hold_fetcher_lease(app, "first.example:1:a")
    release_fetcher_lease(app, "second.example:2:b")
    assert hold_fetcher_lease(app, "first.example:1:a")


def test_a_dead_fetcher_on_this_host_is_replaced_at_once(app: App) -> None:
    assert hold_fetcher_lease(app, f"{socket.gethostname()}:{_dead_pid()}:killed")
    assert hold_fetcher_lease(app, "second.example:2:b")


def test_two_workers_at_once_apply_every_message_exactly_once_in_order(app: App) -> None:
    suppliers = [f"sales{n % 3}@supplier.test" for n in range(12)]
    tokens = [_order(app, supplier)[1] for supplier in suppliers]
    raws = [raw for token, supplier in zip(tokens, suppliers)
            for raw in (_reply(token, "Our bill", sheet=True, sender=supplier), _reply(token, "SEND", sender=supplier))]
    _queue(app, *raws)
    results: list[dict] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(Worker(app, chunk=2).drain())
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    applied = [i for result in results for i, outcome in result.items() if outcome is not None]
    assert sorted(applied) == sorted(_rows(app)) and len(set(applied)) == len(applied)
    assert all(r.status is InboundStatus.APPLIED for r in _rows(app).values()), \
        [(r.id, r.status, r.disposition) for r in _rows(app).values()]
    with session(app.engine) as s:
        revisions = s.exec(select(Revision)).all()
    assert len(revisions) == 12 and all(r.status.value == "submitted" for r in revisions)


class _HeldReaders:
    """The real reader pool, but a reading counts as done only when the test says so."""

    def __init__(self, real) -> None:
        self.real, self.released = real, threading.Event()

    def __getattr__(self, name: str):
        return getattr(self.real, name)

    def done(self, reading) -> bool:
        return self.released.is_set() and self.real.done(reading)


def test_quick_messages_pass_one_whose_pdf_is_being_read(app: App) -> None:
    from tests.pdfgen import text_pdf

    _, slow = _order(app)
    _, quick = _order(app)
    pdf = text_pdf(["Quote", "BLT-M8 Hex bolt 500 pcs 0.12 60.00", "Total 60.00"])
    scan, question = _queue(app, _reply(slow, "Our quote", pdf=pdf), _reply(quick, "When?"))
    held = _HeldReaders(app.readers)
    app.readers = held  # type: ignore[assignment]
    try:
        worker = Worker(app)
        assert list(worker.step()) == [question]
        assert [p.inbound_id for p in worker.reading] == [scan]
        held.released.set()
        assert list(worker.drain()) == [scan]
    finally:
        held.real.close()


def test_status_shows_the_queue_and_its_oldest_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from tests.test_cli import cli

    monkeypatch.setenv("TEST_IMAP_PASSWORD", "x")
    config = write_config(tmp_path, BOT, _NoServer())
    app = build_app(load_config(config))
    _, token = _order(app)
    _queue(app, _reply(token, "One"), _reply(token, "Two"))
    code, output = cli(config, "status", "--json")
    queue = json.loads(output)["queue"]
    assert code == 0 and queue["waiting"] == 2 and queue["oldest"] is not None
    assert "inbound queue: 2 waiting; the oldest fetched" in cli(config, "status")[1]
    Worker(app).drain()
    assert "inbound queue: empty" in cli(config, "status")[1]


def test_several_workers_need_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_cli import cli

    monkeypatch.setenv("TEST_IMAP_PASSWORD", "x")
    code, output = cli(write_config(tmp_path, BOT, _NoServer()), "run", "--workers", "2")
    assert code != 0 and "--workers needs a PostgreSQL store" in output


def test_a_big_message_just_fetched_is_claimed_after_the_small_ones(app: App) -> None:
    _, first = _order(app)
    _, second = _order(app)
    big, small = _queue(app, _reply(first, "Our scans", pdf=b"%PDF-1.4\n" + b"0" * (300 << 10)),
                        _reply(second, "When?"))
    assert _claim(app, "a:1:x", limit=1) == [small]
    app.clock.now += timedelta(minutes=2)  # type: ignore[attr-defined]  # it waited long enough: oldest first again
    with session(app.engine) as s:
        queries.release_inbound_claims(s, "a:1:x")
        s.commit()
    assert _claim(app, "a:1:x", limit=1) == [big]


def test_with_big_messages_in_hand_a_worker_still_claims_the_small_ones(app: App) -> None:
    orders = [_order(app)[1] for _ in range(3)]
    scan = b"%PDF-1.4\n" + b"0" * (300 << 10)
    big = _queue(app, *(_reply(token, "Our scans", pdf=scan) for token in orders[:2]))
    worker = Worker(app, chunk=2)
    worker.claimed = [(i, "", 300 << 10) for i in _claim(app, worker.owner, limit=2)]
    assert [c[0] for c in worker.claimed] == big
    (small,) = _queue(app, _reply(orders[2], "When?"), first_uid=10)
    assert worker._claim(2, small_only=True) == [(small, _rows(app)[small].sha256, _rows(app)[small].size)]


def test_readers_run_below_the_bots_priority() -> None:
    """OCR takes whatever CPU the bot leaves: at equal priority two tesseracts on two cores
    made a quick reply's apply 3-5 times slower (bench.latency --scans)."""
    import os

    from bot.reading import READER_NICENESS, Readers

    readers = Readers()
    try:
        # os.nice(0) returns the process's niceness without changing it
        assert readers._executor().submit(os.nice, 0).result(timeout=60) == min(os.nice(0) + READER_NICENESS, 19)
    finally:
        readers.close()


def test_while_quick_messages_wait_big_ones_are_parsed_one_every_half_second(app: App) -> None:
    from tests.pdfgen import text_pdf

    from bot.workers import BIG_BYTES

    scan = text_pdf(["Quote", "BLT-M8 Hex bolt 500 pcs 0.12 60.00", "Total 60.00"]) + b"%" + b"0" * (300 << 10)
    orders = [_order(app)[1] for _ in range(6)]
    _queue(app, *(_reply(token, "Our scans", pdf=scan) for token in orders[:3]), _reply(orders[3], "When?"))
    held = _HeldReaders(app.readers)
    app.readers = held  # type: ignore[assignment]
    try:
        worker = Worker(app)
        bigs = lambda: sum(size > BIG_BYTES for _, _, size in worker.claimed)  # noqa: E731
        assert len(worker.step()) == 1 and bigs() == 2 and len(worker.reading) == 1  # the quick one, one big
        _queue(app, _reply(orders[4], "And the price?"), first_uid=10)
        assert len(worker.step()) == 1 and bigs() == 2  # a quick one again: no big parsed this soon
        worker._last_big -= 1.0  # half a second later
        _queue(app, _reply(orders[5], "Thanks"), first_uid=11)
        assert len(worker.step()) == 1 and bigs() == 1 and len(worker.reading) == 2
        held.released.set()
        assert len(worker.drain()) == 3  # nothing quick left: the rest are parsed, read and applied
    finally:
        held.real.close()


def test_a_running_bot_starts_its_readers_ahead() -> None:
    from bot.reading import Readers

    readers = Readers()
    try:
        readers.warm()
        assert len(readers._pool._processes) == readers.settings.processes  # type: ignore[union-attr]
    finally:
        readers.close()
