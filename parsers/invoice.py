"""What an invoice says: number, date and total, read from a text PDF (pypdf) or by OCR if available."""
from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from parsers.bill_sheet import parse_decimal

log = logging.getLogger("supplierbot.invoice")
MAX_PAGES = 5
MAX_TEXT = 200_000

_NUMBER = re.compile(r"(?:invoice|rechnung)\s*(?:no\.?|number|nr\.?|nummer|#)\s*[:#]?\s*([A-Z0-9][A-Z0-9\-/.]{1,39})", re.I)
_DATE = re.compile(r"(?:invoice\s*date|rechnungsdatum|date|datum)\s*:?\s*(\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{4})", re.I)
_TOTAL = re.compile(r"(?:grand\s+total|total\s+due|amount\s+due|gesamtbetrag|total)\b[^\d\n]{0,25}(-?[\d.,\s]*\d)", re.I)


@dataclass(frozen=True)
class InvoiceFacts:
    """What could be read; None where nothing was found. `method` says how (text, ocr, none)."""

    number: str | None
    invoice_date: date | None
    total: Decimal | None
    method: str


NOTHING = InvoiceFacts(None, None, None, "none")


def read_invoice(data: bytes, kind: str) -> InvoiceFacts:
    text, method = (_pdf_text(data), "text") if kind == "pdf" else (_ocr_text(data), "ocr")
    if not text:
        return NOTHING
    return facts_from_text(text, method)


def facts_from_text(text: str, method: str = "text") -> InvoiceFacts:
    number = _NUMBER.search(text)
    found_date = _DATE.search(text)
    totals = [_amount(m.group(1)) for m in _TOTAL.finditer(text)]
    totals = [t for t in totals if t is not None]
    return InvoiceFacts(
        number=number.group(1).rstrip(".") if number else None,
        invoice_date=_date(found_date.group(1)) if found_date else None,
        total=totals[-1] if totals else None,  # the last "total" is the grand total on most layouts
        method=method,
    )


def _amount(text: str) -> Decimal | None:
    try:
        return parse_decimal(text.replace(" ", ""))
    except ValueError:
        return None


def _date(text: str) -> date | None:
    try:
        if "-" in text:
            return date.fromisoformat(text)
        day, month, year = (int(p) for p in re.split(r"[./]", text))
        return date(year, month, day)
    except ValueError:
        return None


def _pdf_text(data: bytes) -> str:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        parts = []
        for page in reader.pages[:MAX_PAGES]:
            parts.append(page.extract_text() or "")
            if sum(map(len, parts)) > MAX_TEXT:
                break
        return "\n".join(parts)[:MAX_TEXT]
    except (PyPdfError, ValueError, KeyError, TypeError, RecursionError) as exc:  # hostile or broken PDFs
        log.info("pdf text unreadable", extra={"error": type(exc).__name__})
        return ""


def _ocr_text(data: bytes) -> str:
    """Tesseract where it is installed; without it, scanned invoices are simply not read."""
    if shutil.which("tesseract") is None:
        return ""
    try:
        done = subprocess.run(["tesseract", "stdin", "stdout"], input=data, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.decode("utf-8", "replace")[:MAX_TEXT] if done.returncode == 0 else ""
