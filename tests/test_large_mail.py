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
    fetch_and_process(world.app, PollReport())
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


class _VanishingServer:
    """An IMAP client whose message is expunged by someone else after `pieces` answers, or that
    stops answering a message's bytes short of its RFC822.SIZE while it is still there."""

    def __init__(self, held: dict[int, bytes], pieces: int, expunged: bool = True) -> None:
        self.held, self.pieces, self.expunged = dict(held), pieces, expunged

    def fetch(self, uids: list[int], items: list[str]) -> dict[int, dict[bytes, object]]:
        item = items[0]
        if item == "RFC822.SIZE":
            return {uid: {b"RFC822.SIZE": len(self.held[uid])} for uid in uids if uid in self.held}
        if item == "BODY.PEEK[]":
            return {uid: {b"BODY[]": self.held[uid]} for uid in uids if uid in self.held}
        offset, length = (int(n) for n in item[len("BODY.PEEK[]<"):-1].split("."))
        answers = {}
        for uid in uids:
            if uid not in self.held:
                continue
            if self.pieces == 0:
                if self.expunged:
                    del self.held[uid]
                    continue
                length = 0  # the server ends the message early, and still holds it
            self.pieces -= 1
            answers[uid] = {f"BODY[]<{offset}>".encode(): self.held[uid][offset:offset + length]}
        return answers


def _box(server: _VanishingServer) -> ImapMailbox:
    box = ImapMailbox(parse_config({"bot": {"address": "bot@example.test", "customer_name": "ACME"},
                                    "imap": {"host": "127.0.0.1"}, "smtp": {"host": "127.0.0.1"}},
                                   Path("/nonexistent")).imap)
    box.client = server  # type: ignore[assignment]
    return box


def test_a_large_message_expunged_mid_fetch_is_not_fetched_cut_short(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailbox, "FETCH_PIECE", 1000)
    held = {1: b"x" * 500, 2: b"Subject: big\r\n\r\n" + b"y" * 3500, 3: b"z" * 600}
    files = FileStore(tmp_path / "files")
    fetched = [item for batch in _box(_VanishingServer(held, pieces=2)).fetch_batches([1, 2, 3], files)
               for item in batch]
    assert [(uid, raw.read()) for uid, raw in fetched] == [(1, held[1]), (3, held[3])]
    assert sorted(p.name for p in (tmp_path / "files" / "raw").rglob("*") if p.is_file()) == sorted(
        raw.sha256 for _, raw in fetched)  # no file of the partial bytes, no temporary file


def test_a_large_message_the_server_answers_short_is_fetched_again_next_poll(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailbox, "FETCH_PIECE", 1000)
    held = {1: b"x" * 500, 2: b"Subject: big\r\n\r\n" + b"y" * 3500, 3: b"z" * 600}
    files = FileStore(tmp_path / "files")
    batches = _box(_VanishingServer(held, pieces=2, expunged=False)).fetch_batches([1, 2, 3], files)
    assert [uid for uid, _ in next(batches)] == [1]
    with pytest.raises(mailbox.MailboxError, match="2000 of 3516 bytes"):
        next(batches)  # the poll stops here: the cursor never passes message 2, and 3 waits with it
    assert [p.name for p in (tmp_path / "files" / "raw").rglob("*") if p.is_file()] == [
        hashlib.sha256(held[1]).hexdigest()]


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
