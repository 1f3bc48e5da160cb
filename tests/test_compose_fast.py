"""bot.compose writes the MIME frame itself: the same email as the compat32 classes made, apart from
the random boundaries, and read back by the stdlib parser the same way."""
from __future__ import annotations

import random
import re
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.header import Header

import pytest

from bot.compose import Outgoing, _header, _legacy_chunks, compose
from parsers.records import Attachment

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)
REFS = tuple(f"<{n:04d}.{'x' * 20}@mail.example.test>" for n in range(30))  # 20 fit in 998
SHEET = bytes(random.Random(1).randrange(256) for _ in range(20_000))


def _old(mail: Outgoing, name: str = "ACME GmbH purchasing") -> bytes:
    return b"".join(_legacy_chunks(mail, "bot@example.test", name, "<m1@example.test>", NOW))


def _new(mail: Outgoing, name: str = "ACME GmbH purchasing") -> bytes:
    return compose(mail, "bot@example.test", name, "<m1@example.test>", NOW)


def _without_boundaries(raw: bytes) -> bytes:
    return re.sub(rb"={15}\d{19}==", b"BOUNDARY", raw)


MAILS = {
    "text only": Outgoing("error", ("sales@supplier.test",), "Your sheet", "Line one\nLine two\n"),
    "text, ascii, no trailing newline": Outgoing("error", ("a@x.test",), "s", "x" * 200),
    "empty text": Outgoing("error", ("a@x.test",), "s", ""),
    "html": Outgoing("draft_received", ("sales@supplier.test", "b@x.test"), "Bill rev 1 — EUR 1.234,50 für Sie",
                     "Grüße\n" * 50, "<p>Grüße</p>\n" * 80, reply_to="reply+tok@example.test",
                     in_reply_to=REFS[-1], references=REFS, automatic="auto-replied"),
    "attachments": Outgoing("approval_request", ("buyer@example.test",), "Approve [PO-1] " + "long " * 40,
                            "Reply APPROVE", "<p>Reply APPROVE</p>",
                            attachments=(Attachment("bill ü.xlsx", "application/vnd.openxmlformats-officedocument."
                                                    "spreadsheetml.sheet", SHEET),
                                         Attachment("note.txt", "text", b"a" * 57),
                                         Attachment('we"ird; name.pdf', "application/pdf", b""))),
    "text and attachment": Outgoing("new_order", ("s@x.test",), "[PO-7] New order", "Please confirm.",
                                    attachments=(Attachment("po.pdf", "application/pdf", SHEET[:999]),)),
    "many recipients": Outgoing("comment", tuple(f"person{n}@example.test" for n in range(60)), "x", "y"),
}


@pytest.mark.parametrize("name", MAILS)
def test_the_same_bytes_as_the_mime_classes_apart_from_boundaries(name: str) -> None:
    mail = MAILS[name]
    assert _without_boundaries(_new(mail)) == _without_boundaries(_old(mail))
    assert _without_boundaries(_new(mail, "Müller & Söhne, Einkauf")) == _without_boundaries(
        _old(mail, "Müller & Söhne, Einkauf"))


def _shape(raw: bytes) -> list[tuple]:
    parsed = message_from_bytes(raw, policy=policy.default)
    shape = []
    for part in parsed.walk():
        headers = [(k, str(v)) for k, v in part.items() if k != "Content-Type"]
        content = None if part.is_multipart() else part.get_payload(decode=True)
        shape.append((part.get_content_type(), part.get_params(), headers, content))
    return [(t, [(k, "B" if k == "boundary" else v) for k, v in p or []], h, c) for t, p, h, c in shape]


@pytest.mark.parametrize("name", MAILS)
def test_parsed_back_the_same_headers_parts_and_payloads(name: str) -> None:
    assert _shape(_new(MAILS[name])) == _shape(_old(MAILS[name]))


def test_wire_rules_kept() -> None:
    raw = _new(MAILS["html"])
    lines = raw.split(b"\r\n")
    assert all(len(line) <= 998 for line in lines) and b"\n" not in raw.replace(b"\r\n", b"")
    (references,) = [line for line in lines if line.startswith(b"References: ")]
    assert len(references) < 998 and references.count(b"<") == 20  # one line: Outlook keeps the thread
    assert any(line.startswith(b"In-Reply-To: " + REFS[-1].encode()) for line in lines)
    assert any(line.startswith(b"Subject: =?utf-8?") for line in lines)
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Bill rev 1 — EUR 1.234,50 für Sie"
    attached = _new(MAILS["attachments"])
    body = attached.split(b"Content-Disposition: attachment; filename*=utf-8''bill%20%C3%BC.xlsx\r\n\r\n")[1]
    b64 = body.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert all(len(line) == 76 for line in b64[:-1]) and 0 < len(b64[-1]) <= 76
    assert [p.get_content() for p in message_from_bytes(attached, policy=policy.default).iter_attachments()][0] == SHEET


def test_a_header_is_written_as_compat32_folds_it() -> None:
    chance = random.Random(7)
    alphabet = "abc xyz<>@.,;\t\"=?-_ü—"
    values = ["", " lead", "trail ", "two  spaces", "a" * 1200, "a, " * 400, "x\n y", "line\r\n folded",
              *("".join(chance.choice(alphabet) for _ in range(chance.randrange(1, 1100))) for _ in range(300))]
    for value in values:
        try:
            expected = "Subject: " + Header(value, header_name="Subject").encode(linesep="\r\n", maxlinelen=998)
        except Exception as exc:  # an embedded header: the old way raised too
            with pytest.raises(type(exc)):
                _header("Subject", value)
            continue
        assert _header("Subject", value) == (expected + "\r\n").encode("ascii", "surrogateescape"), value
