"""Bills from whatever the supplier sends: their own workbook, a CSV, a text PDF, a scan or a photo.

One path for every document: extract a table of cells with their places (sheets.py, pdf.py,
ocr.py → words.py), find the header and its column roles (roles.py), read lines and totals with
numbers read per column (lines.py, numbers.py), then set them against the order (match.py).
Everything here is pure but for OCR, which runs tesseract in a process of its own.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from parsers.bill_sheet import SheetInvalid
from parsers.intake.lines import TableReading, read_table
from parsers.intake.match import BillFromDocuments, LineSource, build_bill
from parsers.intake.ocr import ImageUnreadable, OcrLimits, image_pages, ocr_words
from parsers.intake.pdf import PdfLimits, PdfUnreadable, pdf_page_images, pdf_words
from parsers.intake.records import DocumentReading, Table
from parsers.intake.roles import Header
from parsers.intake.sheets import csv_table, workbook_tables
from parsers.intake.words import rows_from_words

__all__ = ["BillFromDocuments", "DocumentReading", "DocumentUnreadable", "LineSource", "build_bill",
           "document_family", "read_bill_document"]

ORDER_REF = re.compile(r"\bPO-\d{4}-\d{3,6}\b")
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class DocumentUnreadable(Exception):
    """The document cannot be read at all; the message says why in words for the supplier."""


def document_family(data: bytes, filename: str) -> str | None:
    """sheet, csv, pdf or image, by content (the name only tells a CSV from other text)."""
    if data.startswith((_ZIP, _OLE)):  # an old .xls is answered by the workbook checks: "save it as .xlsx"
        return "sheet"
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*")):
        return "image"
    if filename.lower().endswith((".csv", ".tsv")) and b"\x00" not in data[:4096]:
        return "csv"
    return None


def read_bill_document(data: bytes, filename: str, carried: Header | None = None,
                       ocr: OcrLimits = OcrLimits(), pdf: PdfLimits = PdfLimits(),
                       priced: bool = True) -> DocumentReading:
    """What the document says as a bill (no lines when it is not one); DocumentUnreadable when
    it cannot be opened. `carried`: the header of the photo before (a bill over two photos);
    `priced=False`: a delivery note, whose lines have quantities and no prices."""
    family = document_family(data, filename)
    try:
        tables, pages = _tables(family, data, filename, ocr, pdf)
    except (SheetInvalid, PdfUnreadable, ImageUnreadable) as exc:
        raise DocumentUnreadable(_why(exc)) from None
    return _reading(tables, filename, pages, carried, priced)


def _tables(family: str | None, data: bytes, filename: str, ocr: OcrLimits,
            pdf: PdfLimits) -> tuple[list[Table], int]:
    if family == "sheet":
        return workbook_tables(data, filename), 0
    if family == "csv":
        return [csv_table(data, filename)], 0
    if family == "pdf":
        words, pages = pdf_words(data, pdf)
        if words:
            return [Table(filename, tuple(rows_from_words(words, filename)), "pdf")], pages
        return [_ocr_table(pdf_page_images(data, pdf), filename, ocr)], pages
    if family == "image":
        images = image_pages(data, ocr)
        return [_ocr_table(images, filename, ocr)], len(images)
    raise DocumentUnreadable(f"{filename} is not a spreadsheet, CSV, PDF or image")


def _ocr_table(images: Sequence[bytes], filename: str, limits: OcrLimits) -> Table:
    words = [word for page, png in enumerate(images, start=1) for word in ocr_words(png, page, limits)]
    return Table(filename, tuple(rows_from_words(words, filename)), "ocr")


def _reading(tables: Sequence[Table], filename: str, pages: int, carried: Header | None,
             priced: bool = True) -> DocumentReading:
    """The table with the most lines is the bill (a cover sheet or a letter has none)."""
    best: tuple[Table, TableReading] | None = None
    for table in tables:
        found = read_table(table, carried if table.method == "ocr" else None, priced)
        if found is not None and (best is None or len(found.lines) > len(best[1].lines)):
            best = (table, found)
    method = tables[0].method if tables else "none"
    ref = _order_ref(tables)
    if best is None:
        return DocumentReading(filename, method, (), pages=pages, order_ref=ref)
    table, found = best
    return DocumentReading(filename, table.method, tuple(found.lines), found.totals, pages, ref, found.header)


def _order_ref(tables: Sequence[Table]) -> str | None:
    for table in tables:
        for row in table.rows[:80]:
            for text in row.texts():
                match = ORDER_REF.search(text)
                if match:
                    return match.group(0)
    return None


def _why(exc: Exception) -> str:
    if isinstance(exc, SheetInvalid):
        return "; ".join(str(p) for p in exc.problems)
    return str(exc)
