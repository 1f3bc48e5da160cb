"""An invoice's header facts (number, date, net, VAT, total) from its rows, in the languages
suppliers write: a label with its value after it on the line ("Rechnungsnr. 30064443"), or
under it in a header table ("Factuur" over "VF1005193039"). Amounts are read in the document's
own decimal convention; dates in day-first order unless the document shows month-first."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from parsers import numbers
from parsers.intake.records import Cell, Row
from parsers.intake.roles import clusters

_NUMBER_LABEL = re.compile(
    r"\b(?:invoice|rechnungs?|facture|factuur|fattura|factura|faktura|receipt|bill|booking)\s*"
    r"(?:no\.?|nr\.?|number|nummer|n[°º]\.?|num[ée]ro|numero|#|id|nummer:)?\s*[:.]?\s*#?\s*"
    r"(?P<value>[A-Z0-9][A-Z0-9/_\-.]*\d[A-Z0-9/_\-.]*)", re.I)
_NUMBER_WORDS = ("invoice", "invoiceno", "invoicenumber", "rechnungsnr", "rechnungsnummer", "factuur",
                 "factuurnummer", "facture", "numerofacture", "bookingid", "receiptno", "invoiceid")
_DATE_LABELS = tuple(re.compile(rf"\b(?:{labels})\b\s*[:.]?\s*", re.I) for labels in (
    r"invoice\s*date|date\s*of\s*invoice|rechnungsdatum|factuur\s*datum|factuurdatum|date\s*de\s*(?:la\s*)?facture|"
    r"fecha\s*de\s*factura|data\s*fattura",  # the invoice's own date first, then any date label
    r"datum|date|fecha|data|du"))
_DATE_WORDS = ("invoicedate", "date", "datum", "rechnungsdatum", "factuurdatum", "dateoffacture", "datefacture")
_MONTHS = {name: number for number, names in enumerate((
    "january jan januar janvier januari janv gennaio enero",
    "february feb februar fevrier février februari fevr febbraio febrero",
    "march mar maerz märz mars maart marzo",
    "april apr avril aprile abril",
    "may mai mei maggio mayo",
    "june jun juni juin giugno junio",
    "july jul juli juillet juil luglio julio",
    "august aug august aout août augustus agosto",
    "september sep sept septembre settembre septiembre",
    "october oct okt oktober octobre ottobre octubre",
    "november nov novembre noviembre",
    "december dec dez dezember decembre décembre diciembre dicembre"), start=1) for name in names.split()}
_NUMERIC_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b|\b(\d{1,2})[./-](\d{1,2})[./-](\d{2,4})\b")
_WORDY_DATE = re.compile(r"\b(?:(\d{1,2})\.?\s+([A-Za-zéûä]{3,10})\.?,?\s+(\d{4})|([A-Za-z]{3,10})\.?\s+(\d{1,2})"
                         r"\s*,?\s+(\d{4}))\b")
_TOTAL_LABELS = (  # strongest first: the amount to pay, then the grand total, then any total
    r"total\s*amount\s*due|amount\s*due|balance\s*due|total\s*due|net\s*a\s*payer|zu\s*zahlen|zahlbetrag|"
    r"te\s*betalen|rechnungsbetrag|gesamtbetrag|endbetrag|total\s*ttc|montant\s*ttc|grand\s*total|invoice\s*total|"
    r"total\s*facture|factuur\s*totaal|total\s*for\s*this\s*invoice",
    r"totaal|total|gesamt|summe|montant\s*total",
)
_NET_LABEL = re.compile(r"\b(sub\s*-?total|subtotaal|total\s*ht|montant\s*ht|net\s*total|total\s*net|nettobetrag|"
                        r"summe\s*netto|netto|exclusief\s*btw|total\s*excl\w*|warenwert)\b", re.I)
_QUALIFIED = re.compile(r"(excl|incl|exclusief|inclusief|ohne|hors|sans|not\s*a|zzgl|inkl)\.?\s*$", re.I)
_TAX_LABEL = re.compile(r"\b(vat|mwst|ust|tva|btw|gst|tax|umsatzsteuer|mehrwertsteuer|iva)\b", re.I)
#: a number; its digit groups were joined when the page was read ("1 234,56" is one word by now)
_AMOUNT = re.compile(r"[-(]?\d[\d.,']*\d(?:-)?|\d")
_MONEY = re.compile(r"\d(?:[\d.,']*\d)?[.,]\d{2}(?!\d)")  # 1.234,56 · 4.11 · 29,99: two decimals


@dataclass(frozen=True)
class HeaderFacts:
    number: str | None = None
    invoice_date: date | None = None
    net: Decimal | None = None
    tax: Decimal | None = None
    total: Decimal | None = None


def invoice_facts(rows: Sequence[Row]) -> HeaderFacts:
    lines = [_text(row) for row in rows]
    convention = numbers.decide(t for line in lines for t in _MONEY.findall(line))
    return HeaderFacts(
        number=_number(rows, lines), invoice_date=_invoice_date(rows, lines),
        net=_labelled_amount(lines, _NET_LABEL, convention, last=False),
        tax=_labelled_amount(lines, _TAX_LABEL, convention, last=True),
        total=_total(lines, convention),
    )


def _text(row: Row) -> str:
    """A row's words as a line; a letter split off its word by kerning ("F actuur") is joined back."""
    out = ""
    for previous, cell in zip((None, *row.cells), row.cells):
        glued = previous is not None and len(str(previous.value)) == 1 and str(previous.value).isupper() \
            and cell.x0 - previous.x1 < 0.25 * (cell.height or 10)
        out += ("" if glued or not out else " ") + str(cell.value)
    return out


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[^a-z0-9]", "", "".join(ch for ch in text if not unicodedata.combining(ch)))


# --- number --------------------------------------------------------------------------------------

def _number(rows: Sequence[Row], lines: Sequence[str]) -> str | None:
    for line in lines:
        for match in _NUMBER_LABEL.finditer(line):
            value = match.group("value").rstrip(".")
            if len(value) >= 4 and not _NUMERIC_DATE.fullmatch(value):
                return value
    below = _below(rows, _NUMBER_WORDS)
    return below.strip("#").strip() if below and any(ch.isdigit() for ch in below) else None


def _below(rows: Sequence[Row], labels: tuple[str, ...]) -> str | None:
    """A header table: the label in one row, its value in the row under it, overlapping it."""
    for index, row in enumerate(rows[:-1]):
        for label in clusters(row, True):
            if _norm(str(label.value)).rstrip("s") in labels:
                value = _overlapping(rows[index + 1], label)
                if value:
                    return value
    return None


def _overlapping(row: Row, label: Cell) -> str | None:
    for cell in clusters(row, True):
        if cell.x0 <= label.x1 + 5 and cell.x1 >= label.x0 - 5:
            return str(cell.value)
    return None


# --- date ----------------------------------------------------------------------------------------

def _invoice_date(rows: Sequence[Row], lines: Sequence[str]) -> date | None:
    month_first = _month_first(lines)
    for pattern in _DATE_LABELS:
        for line in lines:
            for label in pattern.finditer(line):
                found = parse_date(line[label.end():label.end() + 30], month_first)
                if found:
                    return found
    below = _below(rows, _DATE_WORDS)
    found = parse_date(below, month_first) if below else None
    if found:
        return found
    return next((d for d in (parse_date(line, month_first) for line in lines[:25]) if d), None)


def _month_first(lines: Sequence[str]) -> bool:
    """03/20/2023: a second part above 12 anywhere shows the document writes the month first."""
    for line in lines:
        for match in _NUMERIC_DATE.finditer(line):
            if match.group(4) and int(match.group(5)) > 12 >= int(match.group(4)):
                return True
    return False


def parse_date(text: str, month_first: bool = False) -> date | None:
    numeric = _NUMERIC_DATE.search(text)
    wordy = _WORDY_DATE.search(text)
    if numeric and (not wordy or numeric.start() <= wordy.start()):
        if numeric.group(1):
            return _date(int(numeric.group(1)), int(numeric.group(2)), int(numeric.group(3)))
        first, second, year = int(numeric.group(4)), int(numeric.group(5)), int(numeric.group(6))
        year += 2000 if year < 100 else 0
        return _date(year, first, second) if month_first else _date(year, second, first)
    if wordy:
        day, month, year = (wordy.group(1), wordy.group(2), wordy.group(3)) if wordy.group(1) else (
            wordy.group(5), wordy.group(4), wordy.group(6))
        number = _MONTHS.get(month.casefold().rstrip("."))
        return _date(int(year), number, int(day)) if number else None
    return None


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day) if 1990 <= year <= 2100 else None
    except ValueError:
        return None


# --- amounts -------------------------------------------------------------------------------------

def _total(lines: Sequence[str], convention: numbers.Convention) -> Decimal | None:
    for labels in _TOTAL_LABELS:
        pattern = re.compile(rf"\b({labels})\b", re.I)
        found = [amount for line in lines if pattern.search(line)
                 for amount in [_last_amount(line[pattern.search(line).end():], convention)] if amount is not None]
        if found:
            return found[-1] if labels is _TOTAL_LABELS[1] else found[0]
    return None


def _labelled_amount(lines: Sequence[str], label: re.Pattern[str], convention: numbers.Convention,
                     last: bool) -> Decimal | None:
    """A money amount (with its cents) after the label on its line: the first for a net total
    (a second column may follow), the last for VAT ("Tax 15% on 112.90 16.94")."""
    for line in lines:
        match = label.search(line)
        if match and _QUALIFIED.search(line[max(0, match.start() - 14):match.start()]):
            match = None  # "Exclusief BTW", "incl. MwSt", "hors TVA": a net or gross amount, not the tax
        rest = _NUMERIC_DATE.sub(" ", line[match.end():]) if match else ""
        amounts = [m.group(0) for m in _MONEY.finditer(rest) if not rest[m.end():m.end() + 2].strip().startswith("%")]
        found = _amount(amounts[-1] if last else amounts[0], convention) if amounts else None
        if found is not None:
            return found
    return None


def _last_amount(text: str, convention: numbers.Convention) -> Decimal | None:
    """The rightmost money amount after the label: not a percentage, not a date's year."""
    text = _NUMERIC_DATE.sub(" ", _WORDY_DATE.sub(" ", text))
    for match in reversed(list(_AMOUNT.finditer(text))):
        if text[match.end():match.end() + 2].strip().startswith("%"):
            continue
        found = _amount(match.group(0).strip(), convention)
        if found is not None:
            return found
    return None


def _amount(text: str, convention: numbers.Convention) -> Decimal | None:
    """In the document's convention; a number whose own marks say otherwise ("1.148,75") as it says."""
    for attempt in (convention, numbers.Convention.UNKNOWN):
        try:
            return numbers.to_decimal(text, attempt)
        except ValueError:
            continue
    return None
