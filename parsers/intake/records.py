"""Values of the document intake: a table of cells with their source, and what was read from it."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Where:
    """Where a value was read: file, page (PDF/scan; 0 for sheets and CSV) and row (1-based)."""

    file: str
    page: int = 0
    row: int = 0
    sheet: str = ""

    def __str__(self) -> str:
        parts = [self.file]
        if self.sheet:
            parts.append(f"sheet '{self.sheet}'")
        if self.page:
            parts.append(f"page {self.page}")
        if self.row:
            parts.append(f"row {self.row}" if not self.page else f"line {self.row}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Cell:
    """One cell as found: its text (or number for sheets), and, for OCR, how sure the reader was."""

    value: object  # str, int, float or None
    x0: float = 0.0  # position on the page (PDF points or pixels); 0 for sheets and CSV
    x1: float = 0.0
    confidence: float = 100.0  # OCR word confidence 0..100; 100 for sheets, CSV and text PDFs
    height: float = 0.0  # the text's height on the page: what "a wide gap" between words means


@dataclass(frozen=True)
class Row:
    cells: tuple[Cell, ...]
    where: Where

    def texts(self) -> list[str]:
        return [_text(cell.value) for cell in self.cells]


@dataclass(frozen=True)
class Table:
    """Rows of one sheet, CSV or document (all pages of a PDF, in order)."""

    name: str
    rows: tuple[Row, ...]
    method: str  # sheet, csv, pdf, ocr


@dataclass(frozen=True)
class ReadLine:
    """One line as the document states it; numbers are None where they could not be read."""

    where: Where
    their_sku: str  # an article number found on the line (ours or the supplier's)
    description: str
    quantity: Decimal | None
    unit: str
    unit_price: Decimal | None
    amount: Decimal | None  # the line's own total as printed
    tax_rate: Decimal | None
    skus: tuple[str, ...] = ()  # every code-like value on the line (ours and theirs)
    remarks: tuple[str, ...] = ()  # why this line is doubtful ("" when it reconciles)
    uncertain: bool = False  # OCR was unsure or a number could not be read

    @property
    def readable(self) -> bool:
        return self.quantity is not None and self.unit_price is not None


@dataclass(frozen=True)
class DocumentTotals:
    """What the document itself says its totals are (None where it does not say)."""

    net: Decimal | None = None
    tax: Decimal | None = None
    gross: Decimal | None = None
    tax_rate: Decimal | None = None  # a single VAT rate stated for the whole document
    subtotals: tuple[Decimal, ...] = ()  # every net-like row in order: sections' subtotals, then the net


@dataclass(frozen=True)
class DocumentReading:
    """A bill read from any document: its lines, its own totals, and what could not be read."""

    file: str
    method: str  # sheet, csv, pdf, ocr
    lines: tuple[ReadLine, ...]
    totals: DocumentTotals = DocumentTotals()
    pages: int = 0
    order_ref: str | None = None  # a PO reference printed in the document
    header: object = None  # the table's header (roles.Header), carried to the next photo of a bill

    @property
    def is_bill(self) -> bool:
        return bool(self.lines)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())
