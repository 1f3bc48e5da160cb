"""A buyer's ORDER mail → what they asked for: the supplier, the lines written in the body, and
the optional `Delivery:`, `Ref:`, `Currency:` and `Deliver to:` lines. Pure: text in, values out.

A body line is an order line when it starts with a quantity:
`500 pcs BLT-M8 Hex bolt M8x40 at 0.12` (unit, article number and VAT rate optional:
`40 pair Work gloves L @ 3,90 7%`). A line that starts with a number but cannot be read is named,
never guessed; other text (a greeting) is left alone.
"""
from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from parsers import numbers
from parsers.intake.facts import parse_date
from parsers.intake.records import DocumentReading
from parsers.records import Line

EXAMPLE = "500 pcs BLT-M8 Hex bolt M8x40 at 0.12"
UNITS = frozenset(("pcs", "pc", "pce", "piece", "pieces", "ea", "each", "stk", "stück", "stueck", "st", "pair", "pairs",
                   "paar", "pr", "kg", "g", "t", "m", "mm", "cm", "m2", "m3", "l", "ml", "box", "boxes", "karton",
                   "carton", "pack", "packs", "pkg", "set", "sets", "roll", "rolls", "rolle", "lot", "h", "hrs",
                   "hour", "hours", "std", "day", "days", "unit", "units", "pal", "pallet", "pallets"))
_FIELDS = (("deliver_to", r"deliver to|ship to|delivery address|lieferadresse|lieferanschrift|adresse de livraison"),
           ("delivery", r"delivery|delivery date|deliver by|needed by|lieferung|liefertermin|lieferdatum|livraison"),
           ("ref", r"ref|reference|our ref|your ref|po|referenz|unsere referenz|zeichen|référence"),
           ("currency", r"currency|währung|waehrung|devise"))
_FIELD = re.compile(r"^\s*(?P<label>[^:]{1,30}?)\s*:\s*(?P<value>.*)$")
_LINE = re.compile(
    r"^(?P<qty>\d[\d.,']*)\s*(?:x|×)?\s+(?P<rest>.+?)\s+(?:at|@|à|a|je|zu|for|per)\s*"
    r"(?P<price>\d[\d.,']*)\s*(?P<currency>€|\$|£|[a-z]{3})?\s*(?:each|ea|/\s*\w+)?"
    r"(?:\s*[,;+]?\s*(?P<tax>\d{1,2}(?:[.,]\d{1,2})?)\s*%\s*(?:vat|mwst|ust|tax|tva)?)?\s*$",
    re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•·]\s*)")
#: an article number: with a digit (BLT-M8, 4711), or in capitals joined by - . _ / (GLV-L)
_CODE = re.compile(r"^(?:(?=.*\d)[A-Za-z0-9][A-Za-z0-9./_-]+|[A-Z0-9]+(?:[-./_][A-Z0-9]+)+)$")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
#: what may follow a price as its currency; any other word there (`at 0.12 net`) is not dropped unread
CURRENCIES = {"€": "EUR", "$": "USD", "£": "GBP"} | {code.casefold(): code for code in (
    "EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "BGN", "TRY", "INR", "JPY", "CNY",
    "AUD", "CAD")}


@dataclass(frozen=True)
class OrderRequest:
    """What an ORDER mail asks for; `problems` non-empty means nothing may be created from it."""

    supplier: str  # as written after ORDER: an address or a short name ("" when missing)
    send: bool  # `ORDER <supplier> SEND`: to the supplier without waiting for SEND
    lines: tuple[Line, ...] = ()
    delivery: date | None = None
    ref: str = ""
    currency: str | None = None
    deliver_to: str = ""
    problems: tuple[str, ...] = ()


def read_order_request(argument: str, text: str, send_words: Sequence[str], default_tax: Decimal) -> OrderRequest:
    """`argument`: the rest of the ORDER line; `text`: the whole new text of the mail."""
    words = argument.split()
    supplier = words[0].strip(",;:<>") if words else ""
    send = _send_alone(words[1:], send_words)
    fields, candidates = _fields_and_lines(text.split("\n")[1:])
    problems: list[str] = []
    delivery, currency = _delivery(fields, problems), _currency(fields, problems)
    lines, line_problems, currency = read_body_lines(candidates, default_tax, currency)
    return OrderRequest(supplier, send, lines, delivery, fields.get("ref", "")[:80], currency,
                        fields.get("deliver_to", "")[:2000], tuple(problems + line_problems))


def _send_alone(after_supplier: Sequence[str], send_words: Sequence[str]) -> bool:
    """`ORDER bolts SEND` sends at once; `ORDER bolts nicht senden` or `(do not send yet)` must not,
    so SEND counts only as the one word after the supplier."""
    if len(after_supplier) != 1:
        return False
    return after_supplier[0].strip(".,!").casefold() in {w.casefold() for w in send_words}


def _fields_and_lines(body: Sequence[str]) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """The labelled fields, and the numbered lines that start with a quantity (the order lines)."""
    fields: dict[str, str] = {}
    candidates: list[tuple[int, str]] = []
    for number, raw in enumerate(body, start=2):
        line = _BULLET.sub("", raw).strip()
        field = _field(line)
        if field is not None:
            fields.setdefault(*field)
        elif line[:1].isdigit():
            candidates.append((number, line))
    return fields, candidates


def _field(line: str) -> tuple[str, str] | None:
    found = _FIELD.match(line)
    if found is None:
        return None
    label = " ".join(found.group("label").casefold().split())
    for name, pattern in _FIELDS:
        if re.fullmatch(pattern, label):
            return name, found.group("value").strip()
    return None


def read_body_lines(candidates: Sequence[tuple[int, str]], default_tax: Decimal, currency: str | None = None
                    ) -> tuple[tuple[Line, ...], list[str], str | None]:
    """(the order lines, a problem per line that could not be read, the order's currency).

    A currency written on a line must be the order's (`Currency:`, else the first one a line names)."""
    matches = [(number, text, _LINE.match(text)) for number, text in candidates]
    convention = numbers.decide([m.group(g) for _, _, m in matches if m for g in ("qty", "price")])
    lines, problems = [], []
    for number, text, found in matches:
        where = f"line {number} “{text[:80]}”"
        line, written, why = _read_line(found, convention, default_tax)
        currency = currency or written
        if why:
            problems.append(f"{where}: {why}")
        elif written and written != currency:
            problems.append(f"{where}: priced in {written}, but the order is in {currency}")
        else:
            lines.append(line)
    return tuple(lines), problems, currency


def _read_line(found: re.Match[str] | None, convention: numbers.Convention, default_tax: Decimal
               ) -> tuple[Line | None, str | None, str]:
    """(the line, the currency written on it, why it cannot be used: "" when it can)."""
    unread = f"not read as an order line (expected e.g. “{EXAMPLE}”)"
    if found is None:
        return None, None, unread
    if why := _ambiguous(found.group("price"), "price"):
        return None, None, why
    if convention is numbers.Convention.UNKNOWN and (why := _ambiguous(found.group("qty"), "quantity")):
        return None, None, why  # "1.500 kg" with no other number in the mail to say which mark is which
    written = found.group("currency")
    if written and written.casefold() not in CURRENCIES:
        return None, None, unread
    line = _line(found, convention, default_tax)
    return line, CURRENCIES[written.casefold()] if written else None, "" if line else unread


def _ambiguous(number: str, what: str) -> str:
    """`1,234` or `1.250`: one mark, three digits after it, is a thousands group to one reader and
    decimals to another. A thousandfold price is never guessed from the other lines; a quantity
    is read in the mail's convention when its other numbers show one."""
    marks = [mark for mark in ".," if mark in number]
    if len(marks) != 1 or numbers.evidence(number) is not numbers.Convention.UNKNOWN:
        return ""
    whole, fraction = number.split(marks[0])
    return (f"the {what} “{number}” could be read as {whole}{fraction} or as {whole}.{fraction}: write it so it "
            f"reads one way only (e.g. {whole}{fraction}.00 or {whole}.{fraction}0)")


def _line(found: re.Match[str], convention: numbers.Convention, default_tax: Decimal) -> Line | None:
    try:
        quantity = numbers.to_decimal(found.group("qty"), convention)
        price = numbers.to_decimal(found.group("price"), convention)
        tax = numbers.to_decimal(found.group("tax"), numbers.Convention.UNKNOWN) if found.group("tax") else default_tax
    except ValueError:
        return None
    if quantity is None or price is None or quantity <= 0 or price < 0:
        return None
    words = found.group("rest").split()
    unit = words.pop(0) if len(words) > 1 and words[0].casefold().rstrip(".") in UNITS else ""
    sku = words.pop(0) if len(words) > 1 and _CODE.match(words[0]) else ""
    return Line(sku[:100], " ".join(words)[:500], quantity, unit.rstrip(".")[:20], price, tax)


def _delivery(fields: dict[str, str], problems: list[str]) -> date | None:
    text = fields.get("delivery", "")
    if not text:
        return None
    found = _iso_date(text) or parse_date(text)
    if found is None:
        problems.append(f"Delivery: expected a date like 2026-12-15, got “{text[:40]}”")
    return found


def _iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def _currency(fields: dict[str, str], problems: list[str]) -> str | None:
    text = fields.get("currency", "")
    if not text:
        return None
    if not _CURRENCY.match(text):
        problems.append(f"Currency: expected a 3-letter code like EUR, got “{text[:20]}”")
        return None
    return text.upper()


def lines_from_readings(readings: Sequence[DocumentReading], default_tax: Decimal) -> tuple[tuple[Line, ...], list[str]]:
    """The lines of the buyer's own sheet, CSV or PDF as the intake read them; a line without a
    quantity or a unit price is named with its place, never completed."""
    lines, problems = [], []
    for reading in readings:
        for read in reading.lines:
            if not read.readable or read.quantity is None or read.unit_price is None or read.quantity <= 0:
                why = "; ".join(read.remarks) or "no quantity or unit price could be read"
                problems.append(f"{read.where}: {why}")
                continue
            tax = read.tax_rate if read.tax_rate is not None else reading.totals.tax_rate
            sku = read.their_sku if read.their_sku != read.description else ""
            lines.append(Line(sku[:100], (read.description or sku)[:500], read.quantity, read.unit[:20],
                              read.unit_price, default_tax if tax is None else tax))
    return tuple(lines), problems


TEMPLATE_COLUMNS = ("SKU", "Description", "Quantity", "Unit", "Unit price", "VAT %")


def blank_order_sheet(customer: str, example: bool = True) -> bytes:
    """The sheet TEMPLATE returns: a header row the intake reads, one example line to overwrite."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Order"
    sheet.append([f"Order for {customer}: send this with ORDER <supplier> as the first line of your email"])
    sheet.append(["Delivery:, Ref:, Currency: and Deliver to: go in the email, one per line"])
    sheet.append([])
    sheet.append(list(TEMPLATE_COLUMNS))
    for cell in sheet[4]:
        cell.font = Font(bold=True)
    if example:
        sheet.append(["BLT-M8", "Hex bolt M8x40 (example: overwrite)", 500, "pcs", 0.12, 19])
    for column, width in zip("ABCDEF", (14, 44, 10, 8, 11, 7)):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
