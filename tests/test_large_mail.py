"""Large mail against the real Dovecot and SMTP relay: fetched in pieces to disk, read from
there, and the supplier's scan sent on to the buyer from a file (bot/mailbox.py, bot/smtpfile.py)."""
from __future__ import annotations

import asyncio
import hashlib
import os
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlmodel import select

from bench import hostile
from bot import mailbox
from bot.app import build_app
from bot.config import parse_config
from bot.devmail import PASSWORD
from bot.mailbox import ImapMailbox
from bot.orders import NewOrder, create_order
from bot.outbox import send_outbox
from bot.pipeline import Source, process
from bot.runner import PollReport, fetch_and_process
from bot.workers import Worker
from parsers.records import Line
from storage.db import session
from storage.files import SPILLED, FileStore
from storage.models import Document, InboundMessage, OutboxMessage, OutboxStatus
from tests.conftest import World
from tests.test_round_trip import sheet_of


def _message(world: World, size: int) -> bytes:
    """A message with bare LF and CRLF lines mixed, and a body with no line breaks at all."""
    return (f"From: {world.supplier.address}\r\nTo: {world.bot}\r\nSubject: pieces\r\n"
            "MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + os.urandom(size // 2).hex().encode() + b"\n"


def test_a_streamed_fetch_writes_exactly_the_bytes_the_server_holds(world: World,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailbox, "FETCH_PIECE", 64 * 1024)  # many pieces, one of them short
    with IMAPClient("127.0.0.1", port=world.app.config.imap.port, ssl=False) as client:
        client.login(world.bot, PASSWORD)
        for size in (1000, 200_000, 3 * 64 * 1024 - 300, 1_000_003):
            client.append("INBOX", _message(world, size))
        client.select_folder("INBOX", readonly=True)
        held = {uid: bytes(data[b"BODY[]"]) for uid, data in client.fetch(client.search(), ["BODY.PEEK[]"]).items()}
    with ImapMailbox(world.app.config.imap) as box:
        fetched = [item for batch in box.fetch_batches(box.uids_after(0), world.app.files) for item in batch]
    assert [uid for uid, _ in fetched] == sorted(held)
    for uid, raw in fetched:
        assert raw.path.read_bytes() == held[uid]
        assert (raw.sha256, raw.size) == (hashlib.sha256(held[uid]).hexdigest(), len(held[uid]))


def test_a_25_mb_scan_with_its_sheet_is_accepted_and_sent_on_to_the_buyer(world: World) -> None:
    ref = world.order()
    world.poll()
    new_order = world.supplier.wait_for(f"[{ref}] New order")
    scan = b"%PDF-1.4\n" + os.urandom(25 * 1024 * 1024 - 9)
    world.supplier.reply(new_order, "SEND", attachments=((f"{ref}-bill.xlsx", sheet_of(new_order)),
                                                          ("scan.pdf", scan)))
    world.poll()
    request = world.buyer.wait_for("Bill rev 1 for approval", timeout=60)
    assert request.attachment("scan.pdf") == ("scan.pdf", scan)
    with session(world.app.engine) as s:
        row = s.exec(select(InboundMessage).where(InboundMessage.size > 1 << 20)).one()
        assert row.disposition.endswith("submitted")
        assert row.size > 34 * 1024 * 1024
        assert hashlib.sha256(open(row.raw_path, "rb").read()).hexdigest() == row.sha256
        stored = s.exec(select(Document).where(Document.kind == "scan")).one()
        assert (stored.sha256, stored.size) == (hashlib.sha256(scan).hexdigest(), len(scan))
        sent = s.exec(select(OutboxMessage).where(OutboxMessage.purpose == "approval_request")).one()
        assert sent.raw.startswith(SPILLED)  # written to a file, sent from it; the row holds its name


def test_an_email_whose_file_is_gone_fails_for_the_operator_to_see(world: World) -> None:
    ref = world.order()
    world.poll()
    new_order = world.supplier.wait_for(f"[{ref}] New order")
    world.supplier.reply(new_order, "SEND", attachments=((f"{ref}-bill.xlsx", sheet_of(new_order)),
                                                          ("scan.pdf", b"%PDF-1.4\n" + os.urandom(2 << 20))))
    worker = Worker(world.app)
    fetch_and_process(world.app, PollReport(), worker.owner, worker)  # fetched and applied, not sent
    with session(world.app.engine) as s:
        request = s.exec(select(OutboxMessage).where(OutboxMessage.purpose == "approval_request")).one()
        path = world.app.files.spilled(request.raw)
    assert path is not None
    path.unlink()
    report = asyncio.run(send_outbox(world.app))
    assert (report.sent, report.failed) == (1, 1)  # the supplier's answer went; the request cannot
    with session(world.app.engine) as s:
        request = s.get(OutboxMessage, request.id)
        assert request.status is OutboxStatus.FAILED and "is missing" in request.last_error


def test_processing_a_34_mb_message_never_holds_it(tmp_path: Path) -> None:
    """Python's own allocations while the 25 MB scan + sheet is parsed, stored and answered (the
    answer to the buyer carries the scan): a few megabytes, where holding the message once would
    take 34 (before streaming: about 200)."""
    config = parse_config({"bot": {"address": "bot@example.test", "customer_name": "ACME"},
                           "imap": {"host": "127.0.0.1"}, "smtp": {"host": "127.0.0.1"}}, tmp_path)
    app = build_app(config)
    line = Line("S1", "part", Decimal(1), "pcs", Decimal(1), Decimal(19))
    create_order(app, NewOrder("sales@supplier.test", ("buyer@example.test",), (line,), ref="PO-2026-0001"))
    raw = app.files.save_raw(hostile.message("scan_25mb"))
    tracemalloc.start()
    try:
        outcome = process(app, Source("test", "INBOX", 1, 1), raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome is not None and outcome.disposition == "draft + submitted"
    assert peak < 24 << 20


class _FakeServer:
    """An IMAP client holding messages by UID. Message 2 may be expunged by someone else after
    `expunge_after` piece answers; each reading of it (a piece at offset 0 starts one) may end
    early at the next of `cut_at`; its RFC822.SIZE may be overstated by `overstate` bytes."""

    def __init__(self, held: dict[int, bytes], expunge_after: int | None = None, cut_at: tuple[int, ...] = (),
                 overstate: int = 0) -> None:
        self.held, self.expunge_after, self.cut_at, self.overstate = dict(held), expunge_after, list(cut_at), overstate
        self.ends = len(held.get(2, b""))

    def fetch(self, uids: list[int], items: list[str]) -> dict[int, dict[bytes, object]]:
        item = items[0]
        if item == "RFC822.SIZE":
            return {uid: {b"RFC822.SIZE": len(self.held[uid]) + (self.overstate if uid == 2 else 0)}
                    for uid in uids if uid in self.held}
        if item == "BODY.PEEK[]":
            return {uid: {b"BODY[]": self.held[uid]} for uid in uids if uid in self.held}
        offset, length = (int(n) for n in item[len("BODY.PEEK[]<"):-1].split("."))
        assert uids == [2]
        if self.expunge_after is not None:
            if self.expunge_after == 0:
                self.held.pop(2, None)
            self.expunge_after -= 1
        if 2 not in self.held:
            return {}
        if offset == 0:
            self.ends = self.cut_at.pop(0) if self.cut_at else len(self.held[2])
        return {2: {f"BODY[]<{offset}>".encode(): self.held[2][offset:min(offset + length, self.ends)]}}


HELD = {1: b"x" * 500, 2: b"Subject: big\r\n\r\n" + b"y" * 3500, 3: b"z" * 600}


def _fetched(server: _FakeServer, files: FileStore) -> list[tuple[int, bytes]]:
    box = ImapMailbox(parse_config({"bot": {"address": "bot@example.test", "customer_name": "ACME"},
                                    "imap": {"host": "127.0.0.1"}, "smtp": {"host": "127.0.0.1"}},
                                   Path("/nonexistent")).imap)
    box.client = server  # type: ignore[assignment]
    return [(uid, raw.read()) for batch in box.fetch_batches([1, 2, 3], files) for uid, raw in batch]


def _stored(files: FileStore) -> list[str]:
    """Every file under raw/, temporary ones too."""
    return sorted(p.name for p in (files.root / "raw").rglob("*") if p.is_file())


def test_a_large_message_expunged_mid_fetch_is_not_fetched_cut_short(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailbox, "FETCH_PIECE", 1000)
    files = FileStore(tmp_path / "files")
    fetched = _fetched(_FakeServer(HELD, expunge_after=2), files)
    assert fetched == [(1, HELD[1]), (3, HELD[3])]
    assert _stored(files) == sorted(hashlib.sha256(raw).hexdigest() for _, raw in fetched)


def test_a_large_message_the_server_answers_short_once_is_read_again_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailbox, "FETCH_PIECE", 1000)
    files = FileStore(tmp_path / "files")
    assert _fetched(_FakeServer(HELD, cut_at=(2000,)), files) == sorted(HELD.items())
    assert _stored(files) == sorted(hashlib.sha256(raw).hexdigest() for raw in HELD.values())


def test_a_large_message_the_server_answers_short_twice_is_fetched_again_next_poll(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailbox, "FETCH_PIECE", 1000)
    files = FileStore(tmp_path / "files")
    with pytest.raises(mailbox.MailboxError, match="came short: 1500 of 3516 bytes"):
        _fetched(_FakeServer(HELD, cut_at=(2000, 1500)), files)  # the poll stops: the cursor never passes it
    assert _stored(files) == [hashlib.sha256(HELD[1]).hexdigest()]


def test_a_server_that_overstates_a_large_messages_size_is_read_as_it_holds_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 3501: RFC822.SIZE SHOULD match BODY[]; where it does not, the same bytes twice are the message."""
    monkeypatch.setattr(mailbox, "FETCH_PIECE", 1000)
    files = FileStore(tmp_path / "files")
    assert _fetched(_FakeServer(HELD, overstate=145), files) == sorted(HELD.items())


def test_a_large_message_expunged_mid_fetch_on_the_real_server_is_left_out(world: World,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailbox, "FETCH_PIECE", 64 * 1024)
    port = world.app.config.imap.port
    with IMAPClient("127.0.0.1", port=port, ssl=False) as client:
        client.login(world.bot, PASSWORD)
        for size in (1000, 1_000_003, 2000):
            client.append("INBOX", _message(world, size))
    with ImapMailbox(world.app.config.imap) as box, IMAPClient("127.0.0.1", port=port, ssl=False) as other:
        other.login(world.bot, PASSWORD)
        other.select_folder("INBOX")
        fetch, answers = box.client.fetch, []

        def expunge_after_the_first_piece(uids: list[int], items: list[str]) -> dict:
            answers.append(items[0])
            if items[0].startswith("BODY.PEEK[]<65536."):
                other.delete_messages([2])
                other.expunge()
            return fetch(uids, items)

        monkeypatch.setattr(box.client, "fetch", expunge_after_the_first_piece)
        fetched = [uid for batch in box.fetch_batches(box.uids_after(0), world.app.files) for uid, _ in batch]
    assert fetched == [1, 3] and "BODY.PEEK[]<65536.65536>" in answers
    assert not [p for p in (world.app.files.root / "raw").rglob("*") if p.stat().st_size > 100_000]
