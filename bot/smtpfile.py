"""Sending an email from a file, a megabyte at a time; or from bytes, without aiosmtplib's copies.

aiosmtplib's `sendmail` takes the message as bytes and copies it several times (line
endings, dot-stuffing, the terminator, the transport's buffer): for a 35 MB email that is
well over 100 MB. This sends the same envelope and DATA with its public commands, writing
the file in pieces and waiting while the socket's buffer is full.
"""
from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosmtplib
from aiosmtplib.protocol import SMTPProtocol, normalize_message_line_endings

CHUNK = 1 << 20
BUFFERED = 4 << 20  # bytes the transport may hold before we wait for the socket
_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")


class NothingSent(aiosmtplib.SMTPServerDisconnected):
    """The connection failed before the DATA command went out: the server cannot have the email.
    (After that, a broken connection leaves its fate unknown.)"""


async def sendmail_bytes(smtp: aiosmtplib.SMTP, sender: str, recipients: list[str],
                         raw: bytes) -> dict[str, aiosmtplib.SMTPResponse]:
    """Like `smtp.sendmail` (the refused recipients; SMTPRecipientsRefused when all are), for an
    email whose lines end in CRLF (bot.compose writes them so): it is neither normalised nor
    dot-stuffed again when it need not be (aiosmtplib does both on every send, and parses every
    address). NothingSent when the connection fails before DATA."""
    if raw.count(b"\n") != raw.count(b"\r\n") or raw.count(b"\r") != raw.count(b"\r\n"):
        raw = normalize_message_line_endings(raw)
    size = len(raw) if raw.endswith(b"\r\n") else len(raw) + 2
    options = [f"size={size}"] if smtp.supports_extension("size") else []
    data = _DOT_AT_LINE_START.sub(b"..", raw) if raw.startswith(b".") or b"\n." in raw else raw

    async def write() -> None:
        protocol = smtp.protocol
        if protocol is None or protocol.transport is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        protocol.write(data if data.endswith(b"\r\n") else data + b"\r\n")

    return await _transaction(smtp, sender, recipients, options, write)


async def sendmail_file(smtp: aiosmtplib.SMTP, sender: str, recipients: list[str],
                        path: Path) -> dict[str, aiosmtplib.SMTPResponse]:
    """Like `smtp.sendmail` (the refused recipients; SMTPRecipientsRefused when all are), from a file
    whose lines already end in CRLF (as bot.compose writes them)."""
    options = [f"size={path.stat().st_size}"] if smtp.supports_extension("size") else []
    return await _transaction(smtp, sender, recipients, options, lambda: _write_data(smtp, path))


async def _transaction(smtp: aiosmtplib.SMTP, sender: str, recipients: list[str], options: list[str],
                       write: Callable[[], Awaitable[None]]) -> dict[str, aiosmtplib.SMTPResponse]:
    """MAIL, RCPT, DATA with `write` putting the (dot-stuffed, CRLF-ended) email on the wire, and the
    terminator; RSET after a refusal, so the connection can take the next email."""
    try:
        refused = await _envelope(smtp, sender, recipients, options)
        started = await smtp.execute_command(b"DATA")
        if started.code != 354:
            raise aiosmtplib.SMTPDataError(started.code, started.message)
        await write()
        done = await smtp.execute_command(b".")  # the terminator; the server answers for the message
        if done.code != 250:
            raise aiosmtplib.SMTPDataError(done.code, done.message)
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
        try:
            await smtp.rset()
        except (aiosmtplib.SMTPException, ConnectionError):
            pass
        raise
    return refused


async def _envelope(smtp: aiosmtplib.SMTP, sender: str, recipients: list[str],
                    options: list[str]) -> dict[str, aiosmtplib.SMTPResponse]:
    """MAIL and RCPT; NothingSent if the connection fails meanwhile."""
    try:
        await smtp.mail(sender, options=options)
        return await _recipients(smtp, recipients)
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
        raise
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise NothingSent(f"the connection failed before DATA: {exc}") from exc


async def _recipients(smtp: aiosmtplib.SMTP, recipients: list[str]) -> dict[str, aiosmtplib.SMTPResponse]:
    refused: dict[str, aiosmtplib.SMTPResponse] = {}
    errors: list[aiosmtplib.SMTPRecipientRefused] = []
    for address in recipients:
        try:
            await smtp.rcpt(address)
        except aiosmtplib.SMTPRecipientRefused as exc:
            refused[address] = aiosmtplib.SMTPResponse(exc.code, exc.message)
            errors.append(exc)
    if len(errors) == len(recipients):
        raise aiosmtplib.SMTPRecipientsRefused(errors)
    return refused


async def _write_data(smtp: aiosmtplib.SMTP, path: Path) -> None:
    """The message, dot-stuffed, whole lines at a time; it ends with CRLF before the terminator."""
    protocol = smtp.protocol
    if protocol is None or protocol.transport is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    pending, last = b"", b"\n"
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            pending += chunk
            cut = pending.rfind(b"\n") + 1
            if cut:
                protocol.write(_DOT_AT_LINE_START.sub(b"..", pending[:cut]))
                last, pending = pending[cut - 1:cut], pending[cut:]
                await _drain(protocol)
    if pending or last != b"\n":
        protocol.write(_DOT_AT_LINE_START.sub(b"..", pending) + b"\r\n")


async def _drain(protocol: SMTPProtocol) -> None:
    transport = protocol.transport
    while transport is not None and not transport.is_closing() and transport.get_write_buffer_size() > BUFFERED:
        await asyncio.sleep(0.005)
    if transport is None or transport.is_closing():
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
