"""An outgoing email as bytes: headers for threading and robots, text + HTML, attachments.

The bytes come as a stream: each attachment is base64-encoded a megabyte at a time from
wherever it lies (memory, or a file for a large one), so a large email can be written to
disk without ever being whole in memory."""
from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr

from parsers.records import AnyAttachment

#: 998 keeps long In-Reply-To/References on one line: folded and RFC 2047-encoded,
#: Outlook drops them and the thread breaks.
WIRE_POLICY = policy.compat32.clone(max_line_length=998, linesep="\r\n")


@dataclass(frozen=True)
class Outgoing:
    purpose: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[AnyAttachment, ...] = ()
    automatic: str = "auto-generated"  # or auto-replied when answering a message


def new_message_id(domain: str) -> str:
    return f"<{uuid.uuid4().hex}@{domain}>"


def compose(mail: Outgoing, sender: str, sender_name: str, message_id: str, now: datetime) -> bytes:
    return b"".join(compose_chunks(mail, sender, sender_name, message_id, now))


def compose_chunks(mail: Outgoing, sender: str, sender_name: str, message_id: str, now: datetime) -> Iterator[bytes]:
    """The email a piece at a time: its MIME frame built with the compat32 classes (several times
    faster than EmailMessage's header registry) around a marker per attachment, each marker then
    replaced by that file's base64 lines, exactly as `encoders.encode_base64` writes them."""
    nonce = os.urandom(8).hex()
    markers = [f"supplierbot-attachment-{i}-{nonce}".encode() for i in range(len(mail.attachments))]
    frame = _frame(mail, sender, sender_name, message_id, now, markers)
    for marker, attachment in zip(markers, mail.attachments):
        before, found, frame = frame.partition(marker + b"\r\n")
        assert found, "an attachment's place is missing from the frame"
        yield before
        yield from _base64_lines(attachment)
    yield frame


def _frame(mail: Outgoing, sender: str, sender_name: str, message_id: str, now: datetime,
           markers: list[bytes]) -> bytes:
    body = _body(mail)
    message = body
    if mail.attachments:
        message = MIMEMultipart("mixed")
        message.attach(body)
        for attachment, marker in zip(mail.attachments, markers):
            message.attach(_attachment(attachment, marker))
    headers = {
        "From": formataddr((sender_name, sender)), "To": ", ".join(mail.to), "Subject": _encoded(mail.subject),
        "Date": format_datetime(now), "Message-ID": message_id, "Reply-To": mail.reply_to,
        "In-Reply-To": mail.in_reply_to, "References": " ".join(mail.references[-20:]) or None,
        "Auto-Submitted": mail.automatic, "X-Auto-Response-Suppress": "All",
    }
    for name, value in headers.items():
        if value:
            message[name] = value
    return message.as_bytes(policy=WIRE_POLICY)


def _body(mail: Outgoing) -> Message:
    text = MIMEText(mail.text, "plain", "utf-8")
    if not mail.html:
        return text
    alternative = MIMEMultipart("alternative")
    alternative.attach(text)
    alternative.attach(MIMEText(mail.html, "html", "utf-8"))
    return alternative


def _attachment(attachment: AnyAttachment, marker: bytes) -> Message:
    maintype, _, subtype = attachment.content_type.partition("/")
    part = MIMEBase(maintype, subtype or "octet-stream")
    part.set_payload(marker.decode() + "\n")
    part["Content-Transfer-Encoding"] = "base64"
    part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
    return part


def _base64_lines(attachment: AnyAttachment) -> Iterator[bytes]:
    """76-character lines ending in CRLF, a megabyte or so at a time (57 bytes make a line)."""
    pending = b""
    for chunk in attachment.chunks():
        pending += chunk
        whole = len(pending) // 57 * 57
        if whole:
            yield base64.encodebytes(pending[:whole]).replace(b"\n", b"\r\n")
            pending = pending[whole:]
    if pending:
        yield base64.encodebytes(pending).replace(b"\n", b"\r\n")


def _encoded(text: str) -> str:
    return text if text.isascii() else Header(text, "utf-8").encode()
