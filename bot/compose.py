"""An outgoing email as bytes: headers for threading and robots, text + HTML, attachments."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from parsers.records import Attachment

#: 998 keeps long In-Reply-To/References on one line: folded and RFC 2047-encoded,
#: Outlook drops them and the thread breaks.
WIRE_POLICY = policy.SMTP.clone(max_line_length=998)


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
    attachments: tuple[Attachment, ...] = ()
    automatic: str = "auto-generated"  # or auto-replied when answering a message


def new_message_id(domain: str) -> str:
    return f"<{uuid.uuid4().hex}@{domain}>"


def compose(mail: Outgoing, sender: str, sender_name: str, message_id: str, now: datetime) -> bytes:
    message = EmailMessage(policy=WIRE_POLICY)
    message["From"] = formataddr((sender_name, sender))
    message["To"] = ", ".join(mail.to)
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    if mail.in_reply_to:
        message["In-Reply-To"] = mail.in_reply_to
    if mail.references:
        message["References"] = " ".join(mail.references[-20:])
    message["Auto-Submitted"] = mail.automatic
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    for attachment in mail.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(attachment.data, maintype=maintype, subtype=subtype or "octet-stream",
                               filename=attachment.filename)
    return message.as_bytes(policy=WIRE_POLICY)
