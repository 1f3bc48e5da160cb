"""What an invoice says: number, date, net, VAT and total, read by the same engine as bills
(pdfplumber's words for a text PDF, Tesseract's for a scan) and parsers.intake.facts."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from parsers.intake.facts import invoice_facts
from parsers.intake.ocr import ImageUnreadable, OcrLimits, available, image_pages, ocr_words
from parsers.intake.pdf import PdfLimits, PdfUnreadable, pdf_page_images, pdf_words
from parsers.intake.records import Cell, Row, Where
from parsers.intake.words import rows_from_words


@dataclass(frozen=True)
class InvoiceFacts:
    """What could be read; None where nothing was found. `method` says how (text, ocr, none)."""

    number: str | None
    invoice_date: date | None
    total: Decimal | None
    method: str
    net: Decimal | None = None
    tax: Decimal | None = None


NOTHING = InvoiceFacts(None, None, None, "none")


def read_invoice(data: bytes, kind: str, ocr: OcrLimits = OcrLimits(), pdf: PdfLimits = PdfLimits()) -> InvoiceFacts:
    """kind: pdf, png, jpeg or tiff. A document that cannot be read gives NOTHING, never an error."""
    try:
        rows, method = _rows(data, kind, ocr, pdf)
    except (PdfUnreadable, ImageUnreadable):
        return NOTHING
    return _facts(rows, method) if rows else NOTHING


def _rows(data: bytes, kind: str, ocr: OcrLimits, pdf: PdfLimits) -> tuple[list[Row], str]:
    if kind == "pdf":
        words, _ = pdf_words(data, pdf)
        if words:
            return rows_from_words(words, "invoice"), "text"
        images = pdf_page_images(data, pdf) if available() else []
    else:
        images = image_pages(data, ocr) if available() else []
    words = [w for page, png in enumerate(images, start=1) for w in ocr_words(png, page, ocr)]
    return rows_from_words(words, "invoice"), "ocr"


def facts_from_text(text: str, method: str = "text") -> InvoiceFacts:
    """Plain text (one line a row, words a space apart) read as an invoice."""
    rows = [Row(tuple(_words(line)), Where("invoice", row=number)) for number, line in enumerate(text.splitlines(), 1)]
    return _facts(rows, method)


def _words(line: str) -> list[Cell]:
    cells, x = [], 0.0
    for word in line.split():
        cells.append(Cell(word, x, x + 6 * len(word), 100.0, 10.0))
        x += 6 * (len(word) + 1)
    return cells


def _facts(rows: list[Row], method: str) -> InvoiceFacts:
    found = invoice_facts(rows)
    return InvoiceFacts(found.number, found.invoice_date, found.total, method, found.net, found.tax)


__all__ = ["NOTHING", "InvoiceFacts", "facts_from_text", "read_invoice"]
