"""Raw email bytes → ParsedMessage. Pure: bytes in, a value or MessageUnreadable out."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from email import message_from_bytes, policy
from email.message import Message
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr

import mailparser

from parsers.parts import FileAttachment, FilePart, decode_base64
from parsers.records import Attachment, ParsedMessage
from parsers.reply import new_text
from parsers.skeleton import Unsure, skeleton

_MSGID_RE = re.compile(r"<[^<>\s]+>")
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "To", "Cc")
HEADER_BYTES = 256 * 1024  # the header block of a message read without its body
WHOLE_BYTES = 2 << 20  # a message up to this size is parsed in memory, as it is


class MessageUnreadable(Exception):
    """The bytes are not an email we can read at all (no sender, or MIME beyond repair)."""


def parse_file(path: str, size: int) -> ParsedMessage:
    """A stored message. A large one is read from its skeleton (parsers/skeleton.py): its files
    stay on disk as FileAttachments, so memory does not grow with the message. Where the
    skeleton and the parser might not agree on a body (a marker the parser did not read back
    as one file), the message is read whole: never a marker taken for a file."""
    if size > WHOLE_BYTES:
        try:
            cut = skeleton(path)
        except Unsure:
            cut = None
        except (OSError, ValueError, LookupError) as exc:
            raise MessageUnreadable("it arrived damaged, or not in a standard email format") from exc
        if cut is not None:
            parsed, found = _parse(cut.text, cut.parts)
            if found == set(cut.parts):
                return parsed
    with open(path, "rb") as source:
        return parse_message(source.read())


def parse_message(raw: bytes, parts: Mapping[bytes, FilePart] | None = None) -> ParsedMessage:
    """`parts`: the markers a skeleton put in place of bodies left in the file."""
    return _parse(raw, parts or {})[0]


def _parse(raw: bytes, parts: Mapping[bytes, FilePart]) -> tuple[ParsedMessage, set[bytes]]:
    """The message, and which of the markers were read back as a part's whole body."""
    try:
        mail = mailparser.parse_from_bytes(raw)
    except Exception as exc:  # mail-parser raises many kinds on broken MIME; all mean the same here
        # the exception's name is for the operator (the ledger's disposition), not for the sender
        raise MessageUnreadable("it arrived damaged, or not in a standard email format") from exc
    headers = mail.message
    sender_name, sender = parseaddr(_header(headers, "From"))
    if "@" not in sender:
        raise MessageUnreadable("it has no sender address we could answer")
    found: set[bytes] = set()
    return ParsedMessage(
        message_id=_first_id(_header(headers, "Message-ID")),
        sender=sender.strip().lower(),
        sender_name=sender_name.strip(),
        recipients=_recipients(headers),
        subject=_clean(mail.subject or ""),
        in_reply_to=tuple(_MSGID_RE.findall(_header(headers, "In-Reply-To"))),
        references=tuple(_MSGID_RE.findall(_header(headers, "References"))),
        date=mail.date,
        new_text=new_text("\n".join(mail.text_plain), "\n".join(mail.text_html)),
        attachments=tuple(_attachments(mail.attachments, parts, found)),
        automatic=automatic_reason(headers, sender.lower()),
        auth_results=tuple(" ".join(str(v).split()) for v in headers.get_all("Authentication-Results") or []),
    ), found


def read_headers(raw: bytes) -> ParsedMessage:
    """What can be read of a message without its body (one we will not or cannot parse):
    sender, recipients, subject and thread headers; no text, no attachments."""
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:HEADER_BYTES])
    sender_name, sender = parseaddr(_header(headers, "From"))
    return ParsedMessage(
        message_id=_first_id(_header(headers, "Message-ID")),
        sender=sender.strip().lower() if "@" in sender else "",
        sender_name=sender_name.strip(),
        recipients=_recipients(headers),
        subject=_clean(_decoded(_header(headers, "Subject")))[:500],
        in_reply_to=tuple(_MSGID_RE.findall(_header(headers, "In-Reply-To"))),
        references=tuple(_MSGID_RE.findall(_header(headers, "References"))),
        date=None,
        new_text="",
        attachments=(),
        automatic=automatic_reason(headers, sender.lower()),
    )


def _decoded(value: str) -> str:
    """An RFC 2047 header as text; as it stands when its encoding is broken."""
    try:
        return str(make_header(decode_header(value)))
    except (HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
        return value


def _header(headers: Message, name: str) -> str:
    values = headers.get_all(name) or []
    return " ".join(str(v) for v in values)


def _clean(text: str) -> str:
    return " ".join(text.split())


def _first_id(value: str) -> str:
    found = _MSGID_RE.findall(value)
    return found[0] if found else ""


def _recipients(headers: Message) -> tuple[str, ...]:
    found: list[str] = []
    for name in _RECIPIENT_HEADERS:
        for _, address in getaddresses([str(v) for v in headers.get_all(name) or []]):
            address = address.strip().lower()
            if "@" in address and address not in found:
                found.append(address)
    return tuple(found)


def _attachments(parts: list[dict], in_file: Mapping[bytes, FilePart],
                 found: set[bytes]) -> list[Attachment | FileAttachment]:
    """`found`: filled with the markers read back, decorations' too (a large inline logo)."""
    result: list[Attachment | FileAttachment] = []
    for part in parts:
        data = _decode(part.get("payload") or "", bool(part.get("binary")))
        if data in in_file:
            found.add(data)
        if _decoration(part):
            continue
        filename = str(part.get("filename") or "")
        content_type = str(part.get("mail_content_type") or "application/octet-stream").lower()
        stays = in_file.get(data)
        result.append(FileAttachment(filename, content_type, stays) if stays else
                      Attachment(filename, content_type, data))
    return result


def _decoration(part: dict) -> bool:
    """Inline parts that are not files someone attached: signature logos, alternative bodies."""
    disposition = str(part.get("content-disposition") or "").lower()
    if disposition.startswith("attachment"):
        return False
    content_type = str(part.get("mail_content_type") or "").lower()
    return bool(part.get("content-id")) or content_type.startswith(("text/", "message/"))


def _decode(payload: str | bytes, binary: bool) -> bytes:
    """Base64 read as a file in the store is (parsers/parts.py), leniently: a body whose
    padding is off, or that runs into a line that is not base64, is still the file."""
    if isinstance(payload, bytes):
        return payload
    if not binary:
        return payload.encode("utf-8", "replace")
    return decode_base64(payload.encode("ascii", "ignore"))


def bounced_message_ids(raw: bytes) -> tuple[str, ...]:
    """Message-IDs of the original mail quoted inside a bounce or delivery report."""
    try:
        root = message_from_bytes(raw, policy=policy.compat32)
    except Exception:  # the stdlib parser is lenient; this is a last line of defence
        return ()
    found: list[str] = []
    for part in root.walk():
        if part is root:
            continue
        for value in _quoted_message_ids(part):
            if value not in found:
                found.append(value)
    return tuple(found)


def _quoted_message_ids(part: Message) -> list[str]:
    kind = part.get_content_type()
    if kind == "message/rfc822" and part.is_multipart():
        inner = part.get_payload(0)
        return _MSGID_RE.findall(str(inner.get("Message-ID", ""))) if isinstance(inner, Message) else []
    if kind in ("text/rfc822-headers", "text/plain"):
        text = part.get_payload(decode=True) or b""
        return _MSGID_RE.findall(" ".join(re.findall(r"(?im)^message-id:\s*(\S+)", text.decode("latin-1"))))
    return []


# --- robots: each rule says why a message is automatic, or "" -------------------------

def _auto_submitted(h: Message, sender: str) -> str:
    value = str(h.get("Auto-Submitted", "")).strip().lower()
    return f"Auto-Submitted: {value}" if value and value != "no" else ""


def _precedence(h: Message, sender: str) -> str:
    value = str(h.get("Precedence", "")).strip().lower()
    return f"Precedence: {value}" if value in {"bulk", "junk", "list", "auto_reply"} else ""


def _autoreply_headers(h: Message, sender: str) -> str:
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if h.get(name) is not None:
            return f"{name} header"
    return ""


def _list_mail(h: Message, sender: str) -> str:
    return "mailing list (List-Id)" if h.get("List-Id") or h.get("List-Unsubscribe") else ""


def _null_return_path(h: Message, sender: str) -> str:
    return "null Return-Path (bounce)" if str(h.get("Return-Path", "")).strip() == "<>" else ""


def _daemon_sender(h: Message, sender: str) -> str:
    local = sender.split("@", 1)[0]
    return f"sender {local}" if local in {"mailer-daemon", "postmaster", "noreply", "no-reply"} else ""


def _delivery_report(h: Message, sender: str) -> str:
    content_type = str(h.get("Content-Type", "")).lower()
    return "delivery report (multipart/report)" if content_type.startswith("multipart/report") else ""


AUTOMATIC_RULES: tuple[Callable[[Message, str], str], ...] = (
    _auto_submitted,
    _precedence,
    _autoreply_headers,
    _list_mail,
    _null_return_path,
    _daemon_sender,
    _delivery_report,
)


def automatic_reason(headers: Message, sender: str) -> str:
    """Why this message was sent by a robot (RFC 3834 and friends), or "" for a person."""
    for rule in AUTOMATIC_RULES:
        reason = rule(headers, sender)
        if reason:
            return reason
    return ""
