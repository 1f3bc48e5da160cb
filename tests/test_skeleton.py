"""parsers.skeleton and parsers.parts: a large message read from its file reads as the same
message, with its files left on disk and decoded only when read."""
from __future__ import annotations

import base64
import hashlib
import os
import quopri
import tracemalloc
from email.message import EmailMessage
from pathlib import Path

import pytest

from parsers import message as message_module
from parsers import skeleton as skeleton_module
from parsers.message import parse_file, parse_message
from parsers.parts import FileAttachment, FilePart
from tests.conftest import FIXTURES

PDF = b"%PDF-1.4\n" + os.urandom(300_000)


def _forwarded_with_scan() -> bytes:
    inner = EmailMessage()
    inner["From"], inner["Subject"] = "ann@supplier.test", "the scan"
    inner.set_content("see attached")
    inner.add_attachment(PDF, maintype="application", subtype="pdf", filename="inner.pdf")
    outer = EmailMessage()
    outer["From"], outer["To"], outer["Subject"] = "sales@supplier.test", "bot@example.test", "Fwd: scan"
    outer.set_content("SEND\nforwarded below")
    outer.add_alternative("<p>SEND</p><p>forwarded below</p>", subtype="html")
    outer.add_attachment(inner)
    outer.add_attachment(PDF[::-1], maintype="application", subtype="octet-stream", filename="reversed.bin")
    outer.add_attachment(b"a;b\n1;2\n" * 40_000, maintype="text", subtype="csv", filename="big.csv")
    return outer.as_bytes()


def _quoted_printable_and_lf_only() -> bytes:
    body = quopri.encodestring(os.urandom(400_000))
    return (b"From: sales@supplier.test\nTo: bot@example.test\nSubject: qp\nMIME-Version: 1.0\n"
            b"Content-Type: multipart/mixed; boundary=\"XX\"\n\npreamble\n--XX\nContent-Type: text/plain\n\nSEND\n"
            b"--XX\nContent-Type: application/pdf; name=\"q.pdf\"\nContent-Disposition: attachment; filename=\"q.pdf\"\n"
            b"Content-Transfer-Encoding: quoted-printable\n\n" + body + b"\n--XX--\nepilogue\n")


def _unclosed_and_one_line_base64() -> bytes:
    """No closing delimiter, and a body written as one 550 kB line."""
    return (b"From: sales@supplier.test\r\nTo: bot@example.test\r\nSubject: odd\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSEND\r\n"
            b"--b1\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"p.png\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n"
            + base64.b64encode(b"\x89PNG\r\n\x1a\n" + os.urandom(400_000)) + b"\r\n")


MESSAGES = {"forwarded": _forwarded_with_scan, "quoted_printable": _quoted_printable_and_lf_only,
            "unclosed": _unclosed_and_one_line_base64}


def _files(attachments) -> list[tuple]:
    """A forwarded message (message/rfc822) is compared by type only: mail-parser names it at random,
    and in a skeleton it holds markers where its own files were (they are attachments of their own)."""
    return [(a.content_type,) if a.content_type.startswith("message/") else
            (a.filename, a.content_type, a.size, a.sha256) for a in attachments]


def _same(path: Path) -> None:
    raw = path.read_bytes()
    whole, from_file = parse_message(raw), parse_file(str(path), len(raw))
    assert from_file.new_text == whole.new_text and from_file.subject == whole.subject
    assert from_file.sender == whole.sender and from_file.message_id == whole.message_id
    assert _files(from_file.attachments) == _files(whole.attachments)


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_a_large_message_read_from_its_file_is_the_same_message(name: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(message_module, "WHOLE_BYTES", 0)
    path = tmp_path / "m.eml"
    path.write_bytes(MESSAGES[name]())
    _same(path)
    files = [a for a in parse_file(str(path), path.stat().st_size).attachments if isinstance(a, FileAttachment)]
    assert files, "the large files stay on disk"
    assert all(a.content_type != "text/csv" for a in files)  # text is the parser's to decode


@pytest.mark.parametrize("name", sorted(p.name for p in (FIXTURES / "emails").glob("*.eml")))
def test_every_fixture_reads_the_same_through_its_skeleton(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(message_module, "WHOLE_BYTES", 0)
    monkeypatch.setattr(skeleton_module, "CUT_BYTES", 0)
    path = FIXTURES / "emails" / name
    try:
        parse_message(path.read_bytes())
    except message_module.MessageUnreadable:
        pytest.skip("unreadable either way")
    _same(path)


def test_a_file_part_decodes_base64_a_chunk_at_a_time_as_it_stood(tmp_path: Path) -> None:
    data = os.urandom(3_000_001)
    path = tmp_path / "f"
    path.write_bytes(b"junk" + base64.encodebytes(data) + b"more")
    part = FilePart(str(path), 4, 4 + len(base64.encodebytes(data)), "base64")
    assert len(list(part.chunks())) > 1
    assert hashlib.sha256(part.read()).digest() == hashlib.sha256(data).digest()


def test_parsing_a_large_message_does_not_hold_its_files(tmp_path: Path) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "sales@supplier.test", "bot@example.test", "scan"
    mail.set_content("SEND")
    mail.add_attachment(b"%PDF-1.4\n" + os.urandom(8 << 20), maintype="application", subtype="pdf", filename="s.pdf")
    path = tmp_path / "m.eml"
    path.write_bytes(mail.as_bytes())
    tracemalloc.start()
    try:
        parsed = parse_file(str(path), path.stat().st_size)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert parsed.attachments[0].size == (8 << 20) + 9
    assert peak < 8 << 20  # a megabyte at a time (held whole: 11 MB as sent plus 8 decoded, and copies)


def test_a_reader_sent_the_place_of_a_file_reads_it_as_if_sent_the_bytes(tmp_path: Path) -> None:
    from bot.config import ReadingSettings
    from bot.reading import Readers
    from parsers.records import Attachment
    from tests.pdfgen import text_pdf

    invoice = text_pdf(["Invoice No: INV-77", "Invoice date: 2026-11-20", "Total: 123.45"])
    bill = text_pdf(["SKU Description Qty Unit price Amount", "BLT-M8 Hex bolt M8x40 500 0.12 60.00",
                     "NUT-M8 Hex nut M8 500 0.04 20.00", "Total 80.00"])
    encoded = tmp_path / "parts"
    encoded.write_bytes(b"head\r\n" + base64.encodebytes(invoice) + b"\r\n--" + base64.encodebytes(bill))
    split = 6 + len(base64.encodebytes(invoice))
    on_disk = [FileAttachment("inv.pdf", "application/pdf", FilePart(str(encoded), 6, split, "base64")),
               FileAttachment("bill.pdf", "application/pdf", FilePart(str(encoded), split + 4,
                                                                      encoded.stat().st_size, "base64"))]
    readers = Readers(ReadingSettings(processes=1))
    try:
        assert readers.invoice(on_disk[0]) == readers.invoice(Attachment("inv.pdf", "application/pdf", invoice))
        assert readers.invoice(on_disk[0]).number == "INV-77"
        read = readers.read(on_disk[1])
        assert read.lines and read.lines == readers.read(Attachment("bill.pdf", "application/pdf", bill)).lines
    finally:
        readers.close()


SCAN = base64.encodebytes(b"%PDF-1.4\n" + os.urandom(300_000))
PDF_HEADERS = (b"Content-Type: application/pdf\nContent-Disposition: attachment; filename=\"a.pdf\"\n"
               b"Content-Transfer-Encoding: base64\n")


def _with_part(part: bytes, delimiter: bytes = b"--B") -> bytes:
    return (b"From: sales@supplier.test\nTo: bot@example.test\nSubject: bill\nMIME-Version: 1.0\n"
            b"Content-Type: multipart/mixed; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\nSEND\n"
            + delimiter + b"\n" + part)


DAMAGED = {  # what a sloppy mailer or a hostile sender writes, each read the same by either path
    "not_a_header_then_blank": _with_part(PDF_HEADERS + b"this is not a header\n\n" + SCAN + b"--B--\n"),
    "not_a_header_no_blank": _with_part(PDF_HEADERS + b"this is not a header\n" + SCAN + b"--B--\n"),
    "not_a_header_first": _with_part(b"not a header\n" + PDF_HEADERS + b"\n" + SCAN + b"--B--\n"),
    "eight_bit_header_name": _with_part(PDF_HEADERS + b"X-\xe9t\xe9: 1\n\n" + SCAN + b"--B--\n"),
    "delimiter_with_text": _with_part(PDF_HEADERS + b"\n" + SCAN + b"--B--\n", b"--BX"),
    "text_after_a_delimiter_line": _with_part(PDF_HEADERS + b"\n" + SCAN + b"--BX\nmore\n--B--\n"),
    "closed_by_a_longer_delimiter": _with_part(PDF_HEADERS + b"\n" + SCAN + b"--BX\n"),
    "closing_delimiter_with_text": _with_part(PDF_HEADERS + b"\n" + SCAN + b"--B-- X\n"),
    "lone_cr_line_breaks": _with_part(PDF_HEADERS + b"\n" + SCAN + b"--B\r" + PDF_HEADERS.replace(b"\n", b"\r")
                                      + b"\r" + SCAN + b"--B--\n"),
}


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_a_large_message_built_oddly_reads_as_it_does_whole(name: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(message_module, "WHOLE_BYTES", 0)
    path = tmp_path / "m.eml"
    path.write_bytes(DAMAGED[name])
    _same(path)


def test_a_line_that_is_not_a_header_starts_the_body_and_the_file_stays_on_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(message_module, "WHOLE_BYTES", 0)
    path = tmp_path / "m.eml"
    path.write_bytes(DAMAGED["not_a_header_then_blank"])
    read = parse_file(str(path), path.stat().st_size)
    assert [type(a) for a in read.attachments] == [FileAttachment]  # cut where the parser starts its body


def test_a_marker_the_parser_does_not_read_back_makes_the_message_read_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the skeleton gets wrong, never a marker's few bytes taken for the file."""
    def misplaced(path: str) -> skeleton_module.Skeleton:
        cut = skeleton_module.skeleton(path)
        marker = next(iter(cut.parts))
        return skeleton_module.Skeleton(cut.text.replace(base64.b64encode(marker), b"AAAA" + base64.b64encode(marker)),
                                        cut.parts)

    monkeypatch.setattr(message_module, "WHOLE_BYTES", 0)
    monkeypatch.setattr(message_module, "skeleton", misplaced)
    path = tmp_path / "m.eml"
    path.write_bytes(MESSAGES["unclosed"]())
    _same(path)
    assert [a.size for a in parse_file(str(path), path.stat().st_size).attachments] == [400_008]
