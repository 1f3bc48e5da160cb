"""People at their mail clients, for tests and the demo: read mail over IMAP, reply over SMTP.

Replies are shaped like the clients suppliers and buyers really use: Gmail
(top-posted, "On … wrote:" and '>' quotes), Outlook (a From/Sent header block
over unquoted history), Apple Mail on a phone, bottom-posting, and HTML-only.
"""
from __future__ import annotations

import html
import io
import mimetypes
import smtplib
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from datetime import datetime, timezone

from imapclient import IMAPClient
from openpyxl import load_workbook

from bot.devmail import PASSWORD

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STYLES = ("gmail", "outlook", "apple", "bottom", "html_gmail", "html_outlook")


@dataclass(frozen=True)
class Received:
    """A message as the recipient sees it."""

    uid: int
    raw: bytes
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content().replace("\r\n", "\n") if part else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part else ""

    def attachment(self, suffix: str) -> tuple[str, bytes] | None:
        for part in self.message.iter_attachments():
            name = part.get_filename() or ""
            if name.endswith(suffix):
                return name, part.get_content()
        return None


class Party:
    """One mailbox owner: reads over IMAP, writes over SMTP."""

    def __init__(self, address: str, imap_port: int, smtp_port: int, name: str = "") -> None:
        self.address, self.imap_port, self.smtp_port = address, imap_port, smtp_port
        self.name = name or address.split("@")[0].title()

    def inbox(self) -> list[Received]:
        with IMAPClient("127.0.0.1", port=self.imap_port, ssl=False) as client:
            client.login(self.address, PASSWORD)
            client.select_folder("INBOX", readonly=True)
            uids = client.search()
            data = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
        return [Received(uid, bytes(data[uid][b"BODY[]"]),
                         message_from_bytes(bytes(data[uid][b"BODY[]"]), policy=policy.default))
                for uid in sorted(data)]

    def wait_for(self, subject_part: str, timeout: float = 10.0, count: int = 1) -> Received:
        """The newest message whose subject contains `subject_part`, once `count` of them arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.inbox() if subject_part in m.subject]
            if len(found) >= count:
                return found[-1]
            if time.monotonic() > deadline:
                subjects = [m.subject for m in self.inbox()]
                raise AssertionError(f"{self.address}: no mail with {subject_part!r}; inbox has {subjects}")
            time.sleep(0.1)

    def send(self, message: EmailMessage) -> str:
        with smtplib.SMTP("127.0.0.1", self.smtp_port) as smtp:
            smtp.send_message(message, from_addr=self.address)
        return str(message["Message-ID"])

    def reply(self, to: Received, text: str, style: str = "gmail",
              attachments: tuple[tuple[str, bytes], ...] = (), extra_headers: dict[str, str] | None = None) -> str:
        message = self.reply_message(to, text, style, attachments)
        for name, value in (extra_headers or {}).items():
            message[name] = value
        return self.send(message)

    def reply_message(self, to: Received, text: str, style: str = "gmail",
                      attachments: tuple[tuple[str, bytes], ...] = ()) -> EmailMessage:
        original = to.message
        message = EmailMessage()
        message["From"] = f"{self.name} <{self.address}>"
        message["To"] = str(original["Reply-To"] or original["From"])
        message["Subject"] = "Re: " + to.subject
        message["Date"] = format_datetime(datetime.now(timezone.utc))
        message["Message-ID"] = make_msgid(domain=self.address.split("@")[1])
        message["In-Reply-To"] = str(original["Message-ID"])
        message["References"] = f"{original['References'] or ''} {original['Message-ID']}".strip()
        _set_body(message, text, style, to)
        for filename, data in attachments:  # declared as clients do, from the name
            maintype, _, subtype = (mimetypes.guess_type(filename)[0] or "application/octet-stream").partition("/")
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        return message


def _set_body(message: EmailMessage, text: str, style: str, to: Received) -> None:
    sender = parseaddr(str(to.message["From"]))
    when = "Mon, 3 Nov 2026 at 10:00"
    quoted = "\n".join("> " + line for line in to.text.splitlines())
    if style == "gmail":
        message.set_content(f"{text}\n\nOn {when}, {sender[0]} <{sender[1]}> wrote:\n{quoted}\n")
    elif style == "outlook":
        message.set_content(f"{text}\r\n\r\n________________________________\r\nFrom: {sender[0]} <{sender[1]}>\r\n"
                            f"Sent: Monday, November 3, 2026 10:00 AM\r\nTo: {message['From']}\r\n"
                            f"Subject: {to.subject}\r\n\r\n{to.text}\r\n")
    elif style == "apple":
        message.set_content(f"{text}\n\nSent from my iPhone\n\n> On 3 Nov 2026, at 10:00, {sender[0]} "
                            f"<{sender[1]}> wrote:\n> \n{quoted}\n")
    elif style == "bottom":
        message.set_content(f"On {when}, {sender[0]} wrote:\n{quoted}\n\n{text}\n")
    elif style == "html_gmail":
        message.set_content(_html(f'<div dir="ltr">{html.escape(text)}</div><div class="gmail_quote">'
                                  f'<div class="gmail_attr">On {when} {html.escape(sender[0])} wrote:</div>'
                                  f'<blockquote class="gmail_quote">{to.html or html.escape(to.text)}'
                                  f'</blockquote></div>'), subtype="html")
    elif style == "html_outlook":
        message.set_content(_html(f'<div>{html.escape(text)}</div><div id="appendonsend"></div><hr>'
                                  f'<div id="divRplyFwdMsg"><b>From:</b> {html.escape(sender[1])}<br>'
                                  f'<b>Sent:</b> Monday</div><div>{to.html or html.escape(to.text)}</div>'),
                            subtype="html")
    else:
        raise ValueError(f"unknown reply style {style!r}")


def _html(body: str) -> str:
    return f"<html><head><style>p {{margin:0}}</style></head><body>{body}</body></html>"


@dataclass(frozen=True)
class LineEdit:
    """What a supplier does to the sheet: change a line, delete it, or add one."""

    sku: str
    quantity: float | str | None = None
    unit_price: float | str | None = None
    delete: bool = False
    add: tuple[str, str, float, str, float, float] | None = None  # sku, description, qty, unit, price, tax


def edit_sheet(data: bytes, edits: list[LineEdit]) -> bytes:
    """Edit the bill sheet as a person would in a spreadsheet program (via openpyxl)."""
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook["Bill"]
    for edit in edits:
        if edit.add:
            _type_line(sheet, edit.add)
            continue
        row = next(r for r in range(8, sheet.max_row + 1) if sheet.cell(r, 1).value == edit.sku)
        if edit.delete:
            sheet.delete_rows(row)
            continue
        if edit.quantity is not None:
            sheet.cell(row, 3).value = edit.quantity
        if edit.unit_price is not None:
            sheet.cell(row, 5).value = edit.unit_price
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _type_line(sheet, values: tuple[str, str, float, str, float, float]) -> None:
    """A person types an added line into the first empty row of the table, above the totals
    (or, in a sheet without empty rows, below the last line)."""
    row = next((r for r in range(8, sheet.max_row + 1)
                if all(sheet.cell(r, c).value in (None, "") for c in range(1, 7))), sheet.max_row + 1)
    for column, value in enumerate(values, start=1):
        sheet.cell(row, column).value = value
