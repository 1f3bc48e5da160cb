"""bot.compose and bot.smtpfile: an email with a large file is written and sent a piece at a time,
and is the same email as one built in memory."""
from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from email import message_from_bytes, policy
from pathlib import Path

import aiosmtplib

from bot.compose import Outgoing, compose, compose_chunks
from bot.smtpfile import sendmail_file
from parsers.parts import FileAttachment
from parsers.records import Attachment
from tests.smtpsink import relayed

NOW = datetime(2026, 11, 28, tzinfo=timezone.utc)


def _mail(*attachments) -> Outgoing:
    return Outgoing("approval_request", ("buyer@example.test",), "Bill rev 1 for approval — EUR 1.00",
                    "Reply APPROVE", "<p>Reply APPROVE</p>", attachments=attachments)


def _without_boundaries(raw: bytes) -> bytes:
    return re.sub(rb"={15}\d+==", b"BOUNDARY", raw)


def test_a_file_on_disk_composes_to_the_same_email_as_its_bytes(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    path = tmp_path / "scan.pdf"
    path.write_bytes(data)
    on_disk = FileAttachment.stored("scan.pdf", "application/pdf", path, "0" * 64)
    in_memory = Attachment("scan.pdf", "application/pdf", data)
    streamed = compose(_mail(on_disk), "bot@example.test", "ACME", "<m@example.test>", NOW)
    assert _without_boundaries(streamed) == _without_boundaries(
        compose(_mail(in_memory), "bot@example.test", "ACME", "<m@example.test>", NOW))
    parsed = message_from_bytes(streamed, policy=policy.default)
    assert [part.get_content() for part in parsed.iter_attachments()] == [data]


def test_a_large_file_is_composed_a_piece_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(os.urandom(8 * 1024 * 1024))
    on_disk = FileAttachment.stored("scan.pdf", "application/pdf", path, "0" * 64)
    pieces = list(compose_chunks(_mail(on_disk), "bot@example.test", "ACME", "<m@example.test>", NOW))
    assert sum(map(len, pieces)) > 10 * 1024 * 1024  # 8 MB in base64
    assert max(map(len, pieces)) < 2 * 1024 * 1024


def test_an_email_sent_from_its_file_arrives_as_written_dots_and_all(tmp_path: Path) -> None:
    body = b"".join(b".line %d\r\n" % n if n % 3 == 0 else b"line %d\r\n" % n for n in range(200_000))
    raw = b"From: bot@example.test\r\nTo: buyer@example.test\r\nSubject: dots\r\n\r\n" + body + b"."
    path = tmp_path / "mail.eml"
    path.write_bytes(raw)
    async def send(port: int) -> dict:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
            return await sendmail_file(smtp, "bot@example.test", ["buyer@example.test", "bot@example.test"], path)

    refused, envelopes = relayed(send)
    assert refused == {}
    assert [(e.mail_from, e.rcpt_tos, e.content) for e in envelopes] == [
        ("bot@example.test", ["buyer@example.test", "bot@example.test"], raw + b"\r\n")]
