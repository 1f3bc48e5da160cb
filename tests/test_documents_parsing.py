"""parsers.documents and parsers.invoice: type by content, safe names, limits, invoice facts."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from parsers.documents import DocumentLimits, safe_filename, sniff, sort_attachments
from parsers.invoice import facts_from_text, read_invoice
from parsers.records import Attachment
from tests.pdfgen import text_pdf

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 20


def test_the_type_is_decided_by_content_not_by_name() -> None:
    assert sniff(b"%PDF-1.7 ...") == ("pdf", "application/pdf")
    assert sniff(b"\xff\xd8\xff\xe0") == ("jpeg", "image/jpeg")
    assert sniff(b"II*\x00rest") == ("tiff", "image/tiff")
    assert sniff(b"MZ\x90\x00 this is an exe") is None
    documents, refused = sort_attachments([Attachment("invoice.pdf", "application/pdf", b"MZ\x90\x00"),
                                           Attachment("scan", "application/octet-stream", PNG)])
    assert [(d.filename, d.kind) for d in documents] == [("scan", "png")]
    assert refused[0].filename == "invoice.pdf" and "judged by its content" in refused[0].reason


def test_names_are_never_paths() -> None:
    assert safe_filename("../../etc/\x01passwd.pdf") == "passwd.pdf"
    assert safe_filename("C:\\Users\\x\\scan 1.pdf") == "scan 1.pdf"
    assert safe_filename("..") == "attachment"


def test_limits_per_file_per_message_and_count() -> None:
    limits = DocumentLimits(max_attachment_bytes=100, max_message_bytes=150, max_count=2)
    big = Attachment("big.png", "image/png", PNG + b"\0" * 100)
    assert "larger than" in sort_attachments([big], limits)[1][0].reason
    three = [Attachment(f"{n}.png", "image/png", PNG) for n in range(3)]
    assert "at most 2 per message" in sort_attachments(three, limits)[1][0].reason
    two = [Attachment(f"{n}.png", "image/png", PNG + b"\0" * 60) for n in range(2)]
    assert "in total" in sort_attachments(two, limits)[1][0].reason


def test_invoice_facts_are_read_from_text() -> None:
    facts = facts_from_text("ACME Supplies\nInvoice No: INV-2026/117\nInvoice date: 12.11.2026\n"
                            "Net 125.00\nVAT 23.75\nTotal due: EUR 1.148,75\n")
    assert (facts.number, facts.invoice_date, facts.total) == ("INV-2026/117", date(2026, 11, 12), D("1148.75"))
    assert facts_from_text("nothing useful here").total is None


def test_a_text_pdf_is_read_and_an_image_without_ocr_is_skipped_cleanly() -> None:
    pdf = text_pdf(["Invoice number: 4711", "Date: 2026-11-20", "Total: 148.75"])
    facts = read_invoice(pdf, "pdf")
    assert (facts.number, facts.invoice_date, facts.total, facts.method) == ("4711", date(2026, 11, 20), D("148.75"), "text")
    assert read_invoice(b"%PDF-1.4 broken beyond repair", "pdf").method == "none"
    assert read_invoice(PNG, "png").total is None  # OCR runs only where tesseract is installed


def test_the_default_limits_accept_the_25_mb_scan_gmail_and_microsoft_365_let_a_supplier_send() -> None:
    from email.message import EmailMessage

    from bot.config import LimitSettings

    limits = LimitSettings()
    scan = b"%PDF-1.4\n" + bytes(25 * 1024 * 1024 - 9)
    mail = EmailMessage()
    mail.set_content("SEND")
    mail.add_attachment(scan, maintype="application", subtype="pdf", filename="scan.pdf")
    assert len(mail.as_bytes()) < limits.max_message_mb << 20  # ~34 MB as sent: not refused unread
    documents = DocumentLimits(limits.max_attachment_mb << 20, limits.max_attachments_mb << 20, limits.max_attachments)
    accepted, refused = sort_attachments([Attachment("scan.pdf", "application/pdf", scan)], documents)
    assert [d.kind for d in accepted] == ["pdf"] and refused == []
    _, refused = sort_attachments([Attachment("big.pdf", "application/pdf", scan + b"x")], documents)
    assert [r.reason for r in refused] == ["larger than 25 MB"]
