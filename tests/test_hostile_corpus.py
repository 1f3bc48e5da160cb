"""The hostile corpus through the whole bot and the real servers: recorded or answered, never fatal."""
from __future__ import annotations

import re
import smtplib
from pathlib import Path

from imapclient import IMAPClient

from sqlmodel import select

from bench.hostile import message as hostile_message
from bot.devmail import PASSWORD
from storage.db import session
from storage.models import InboundMessage, InboundStatus, OutboxMessage
from tests.conftest import FIXTURES, World


def deliver(world: World, raw: bytes) -> None:
    """Over SMTP; what SMTP itself refuses (a 200 KB header line) is appended over IMAP instead,
    as a lenient MTA might still deliver it."""
    try:
        with smtplib.SMTP("127.0.0.1", world.supplier.smtp_port) as smtp:
            smtp.sendmail("sales@supplier.test", [world.bot], raw)
    except smtplib.SMTPDataError:
        with IMAPClient("127.0.0.1", port=world.supplier.imap_port, ssl=False) as client:
            client.login(world.bot, PASSWORD)
            client.append("INBOX", raw)


def test_every_hostile_message_is_kept_and_none_crashes_the_bot(world: World) -> None:
    corpus = sorted((FIXTURES / "emails").glob("*.eml"))
    for path in corpus:
        deliver(world, path.read_bytes())
    for case in ("zip_bomb", "xml_bomb", "big_50mb"):
        deliver(world, hostile_message(case))
    report = world.poll()
    assert not report.fetch_error and report.outcomes["failed"] == 0
    data_dir = world.app.config.storage.data_dir.resolve()
    with session(world.app.engine) as s:
        rows = s.exec(select(InboundMessage)).all()
        answers = s.exec(select(OutboxMessage)).all()
    assert len(rows) == len(corpus) + 3
    assert all(row.status in (InboundStatus.IGNORED, InboundStatus.REFUSED) for row in rows)
    assert all(Path(row.raw_path).resolve().is_relative_to(data_dir) and Path(row.raw_path).exists() for row in rows)
    assert len(answers) == sum(row.status is InboundStatus.REFUSED for row in rows)
    assert any(row.disposition == "refused: message_too_large" for row in rows)
    stored = [p for p in data_dir.rglob("*") if p.is_file() and p.suffix != ".db" and "outbox-sendlog" not in p.name]
    assert stored and all(re.fullmatch(r"[0-9a-f]{64}", p.name) for p in stored)  # no sender-chosen names
