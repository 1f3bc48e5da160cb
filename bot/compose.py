"""An outgoing email as bytes: headers for threading and robots, text + HTML, attachments.

The bytes come as a stream: each attachment is base64-encoded a megabyte at a time from
wherever it lies (memory, or a file for a large one), so a large email can be written to
disk without ever being whole in memory."""
from __future__ import annotations

import base64
import os
import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.charset import BASE64, Charset
from email.header import Header
from email.message import Message, _formatparam
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
    """The email a piece at a time: its MIME frame written directly, byte for byte as the compat32
    classes (MIMEMultipart, MIMEText('utf-8'), MIMEBase) and `as_bytes(policy=WIRE_POLICY)` write
    it, without building Message objects; each attachment's base64 lines are streamed in place,
    exactly as `encoders.encode_base64` writes them."""
    if Charset("utf-8").body_encoding != BASE64:  # someone changed email.charset's registry: its way
        yield from _legacy_chunks(mail, sender, sender_name, message_id, now)
        return
    top = _top_headers(mail, sender, sender_name, message_id, now)
    body = _body_part(mail)
    if not mail.attachments:
        yield _with_headers(body, top)
        return
    boundary = _boundary()
    yield b"".join((_header("Content-Type", f'multipart/mixed; boundary="{boundary}"'),
                    b"MIME-Version: 1.0\r\n", top, b"\r\n--", boundary.encode(), b"\r\n", body))
    for attachment in mail.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        yield b"".join((b"\r\n--", boundary.encode(), b"\r\n",
                        _header("Content-Type", f"{maintype}/{subtype or 'octet-stream'}"),
                        b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n",
                        _header("Content-Disposition", "attachment; " + _formatparam("filename", attachment.filename)),
                        b"\r\n"))
        yield from _base64_lines(attachment)
    yield b"\r\n--" + boundary.encode() + b"--\r\n"


def _top_headers(mail: Outgoing, sender: str, sender_name: str, message_id: str, now: datetime) -> bytes:
    headers = (
        ("From", formataddr((sender_name, sender))), ("To", ", ".join(mail.to)), ("Subject", _encoded(mail.subject)),
        ("Date", format_datetime(now)), ("Message-ID", message_id), ("Reply-To", mail.reply_to),
        ("In-Reply-To", mail.in_reply_to), ("References", " ".join(mail.references[-20:]) or None),
        ("Auto-Submitted", mail.automatic), ("X-Auto-Response-Suppress", "All"),
    )
    return b"".join(_header(name, value) for name, value in headers if value)


def _body_part(mail: Outgoing) -> bytes:
    """The text part, or text and HTML in multipart/alternative: headers, blank line, body."""
    text = _text_part("plain", mail.text)
    if not mail.html:
        return text
    boundary = _boundary().encode()
    return b"".join((b'Content-Type: multipart/alternative; boundary="', boundary, b'"\r\nMIME-Version: 1.0\r\n\r\n--',
                     boundary, b"\r\n", text, b"\r\n--", boundary, b"\r\n", _text_part("html", mail.html),
                     b"\r\n--", boundary, b"--\r\n"))


def _text_part(subtype: str, text: str) -> bytes:
    """As MIMEText(text, subtype, "utf-8") writes itself: base64 in 76-character lines."""
    payload = base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n") if text else b""
    return (b"Content-Type: text/" + subtype.encode() + b'; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" + payload)


def _with_headers(part: bytes, headers: bytes) -> bytes:
    """`part`'s own headers, then `headers` (as a Message with headers set after its MIME ones)."""
    own, _, rest = part.partition(b"\r\n\r\n")
    return own + b"\r\n" + headers + b"\r\n" + rest


def _header(name: str, value: str) -> bytes:
    """One header line as compat32 folds it at 998 characters: an ordinary short value as it is,
    anything else (long, non-ASCII, several lines) by the email package itself."""
    line = f"{name}: {value}"
    if len(line) <= 998 and value.isascii() and value.isprintable() and value == value.strip():
        return line.encode() + b"\r\n"
    return (f"{name}: " + Header(value, header_name=name).encode(linesep="\r\n", maxlinelen=998)
            + "\r\n").encode("ascii", "surrogateescape")


def _boundary() -> str:
    """As the email generator makes one; the parts are all base64, so no line can be the boundary."""
    return "=" * 15 + f"{random.randrange(sys.maxsize):019d}" + "=="


def _legacy_chunks(mail: Outgoing, sender: str, sender_name: str, message_id: str,
                   now: datetime) -> Iterator[bytes]:
    """The same email built with the compat32 classes around a marker per attachment."""
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
