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
from storage.files import SPILLED
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
