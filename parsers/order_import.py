"""Many orders in one spreadsheet or CSV (`supplierbot order import`): one order per reference, one
line per row; what cannot be used is named by row, per order. Pure: bytes in, values out.

Columns, by their header (any order, English or German): reference, supplier, buyer (several
separated by commas or semicolons), SKU, description, quantity, unit, unit price, VAT %, and optional
currency, delivery, deliver to. A reference like PO-2026-0042 becomes the order's own; any other is
kept as the buyer's reference and the order gets the next number.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from parsers import numbers
from parsers.bill_sheet import SheetInvalid
from parsers.intake.records import Row, Table
from parsers.intake.roles import normalise
from parsers.intake.sheets import csv_table, workbook_tables
from parsers.records import Line, Problem

COLUMNS: dict[str, tuple[str, ...]] = {
    "reference": ("reference", "ref", "order", "orderref", "orderreference", "po", "ponumber", "requisition",
                  "referenz", "bestellung", "bestellnummer", "banf"),
    "supplier": ("supplier", "supplieremail", "vendor", "lieferant", "lieferantemail"),
    "buyer": ("buyer", "buyers", "buyeremail", "approver", "besteller", "einkaufer", "einkaeufer"),
    "sku": ("sku", "artnr", "articleno", "itemno", "partno", "artikelnummer", "code"),
    "description": ("description", "bezeichnung", "beschreibung", "item", "text"),
    "quantity": ("quantity", "qty", "menge", "anzahl"),
    "unit": ("unit", "uom", "einheit", "me"),
    "unit_price": ("unitprice", "price", "preis", "einzelpreis"),
    "tax_rate": ("vat", "vatrate", "tax", "taxrate", "mwst", "ust", "steuersatz"),
    "currency": ("currency", "wahrung", "waehrung"),
    "delivery": ("delivery", "deliverydate", "requesteddelivery", "liefertermin", "lieferdatum"),
    "deliver_to": ("deliverto", "shipto", "deliveryaddress", "lieferadresse", "lieferanschrift"),
}
REQUIRED = ("reference", "supplier", "buyer", "quantity", "unit_price")
ORDER_FIELDS = ("supplier", "buyer", "currency", "delivery", "deliver_to")  # the same on every row of an order
PO_REF = re.compile(r"^PO-[A-Za-z0-9-]{1,37}$", re.IGNORECASE)


@dataclass(frozen=True)
class ImportedOrder:
    """One order of the file, or why it cannot be created (`problems`)."""

    key: str  # the reference as written
    rows: tuple[int, ...]
    supplier: str
    buyers: tuple[str, ...]
    lines: tuple[Line, ...]
    currency: str | None = None
    delivery: date | None = None
    deliver_to: str = ""
    problems: tuple[str, ...] = ()

    @property
    def ref(self) -> str | None:
        """The order's own reference when the file gives one (PO-…)."""
        return self.key.upper() if PO_REF.match(self.key) else None

    @property
    def buyer_ref(self) -> str:
        return "" if self.ref else self.key[:80]


def read_order_import(data: bytes, filename: str) -> list[ImportedOrder]:
    """The orders in the file's first sheet with a header naming the required columns; SheetInvalid without one."""
    tables = [csv_table(data, filename)] if filename.lower().endswith((".csv", ".txt")) else workbook_tables(data, filename)
    for table in tables:
        found = _header(table)
        if found is not None:
            return _orders(table.rows[found[0] + 1:], found[1])
    raise SheetInvalid([Problem("no header row names the columns " + ", ".join(REQUIRED).replace("_", " "))])


def _header(table: Table) -> tuple[int, dict[str, int]] | None:
    for index, row in enumerate(table.rows[:30]):
        columns: dict[str, int] = {}
        for position, text in enumerate(row.texts()):
            name = _column(text)
            if name is not None:
                columns.setdefault(name, position)
        if all(name in columns for name in REQUIRED):
            return index, columns
    return None


def _column(text: str) -> str | None:
    norm = normalise(text)
    return next((name for name, words in COLUMNS.items() if norm in words), None)


def _orders(rows: Sequence[Row], columns: dict[str, int]) -> list[ImportedOrder]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        key = _text(row, columns, "reference")
        if any(_text(row, columns, name) for name in columns):
            groups.setdefault(key, []).append(row)
    conventions = {name: numbers.decide(_text(r, columns, name) for r in rows) for name in ("quantity", "unit_price")}
    return [_order(key, group, columns, conventions) for key, group in groups.items()]


def _order(key: str, rows: list[Row], columns: dict[str, int], conventions: dict) -> ImportedOrder:
    problems = [] if key else [f"row {rows[0].where.row}: no reference"]
    fields = {}
    for name in ORDER_FIELDS:
        values = {_text(row, columns, name) for row in rows} - {""}
        if len(values) > 1:
            problems.append(f"rows {_numbers(rows)}: different {name.replace('_', ' ')} values ({', '.join(sorted(values))})")
        fields[name] = min(values) if values else ""
    lines = []
    for row in rows:
        line, problem = _line(row, columns, conventions)
        lines += [line] if line else []
        problems += [problem] if problem else []
    delivery = _date(fields["delivery"], rows, problems)
    buyers = tuple(b.strip().lower() for b in re.split(r"[,;\s]+", fields["buyer"]) if b.strip())
    return ImportedOrder(key, tuple(r.where.row for r in rows), fields["supplier"].lower(), buyers, tuple(lines),
                         fields["currency"].upper() or None, delivery, fields["deliver_to"], tuple(problems))


def _line(row: Row, columns: dict[str, int], conventions: dict) -> tuple[Line | None, str]:
    try:
        quantity = numbers.to_decimal(_value(row, columns, "quantity"), conventions["quantity"])
        price = numbers.to_decimal(_value(row, columns, "unit_price"), conventions["unit_price"])
        tax = _tax_rate(_value(row, columns, "tax_rate"))
    except ValueError as exc:
        return None, f"row {row.where.row}: a number could not be read ({exc})"
    if tax is not None and not 0 <= tax <= 100:
        return None, f"row {row.where.row}: VAT rate {tax} % is not between 0 and 100"
    sku, description = _text(row, columns, "sku"), _text(row, columns, "description")
    if quantity is None or quantity <= 0 or price is None or price < 0:
        return None, f"row {row.where.row}: needs a quantity above 0 and a unit price"
    if not sku and not description:
        return None, f"row {row.where.row}: needs an SKU or a description"
    return Line(sku[:100], description[:500], quantity, _text(row, columns, "unit")[:20], price,
                Decimal(19) if tax is None else tax), ""


def _tax_rate(value: object) -> Decimal | None:
    """The VAT rate in percent (see numbers.percent_cell)."""
    if isinstance(value, str):
        value = value.strip() or None
    return numbers.percent_cell(value, numbers.to_decimal(value, numbers.Convention.UNKNOWN))


def _date(text: str, rows: list[Row], problems: list[str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        problems.append(f"rows {_numbers(rows)}: delivery must be a date like 2026-12-15, got {text!r}")
        return None


def _value(row: Row, columns: dict[str, int], name: str) -> object:
    position = columns.get(name)
    if position is None or position >= len(row.cells):
        return None
    return row.cells[position].value


def _text(row: Row, columns: dict[str, int], name: str) -> str:
    value = _value(row, columns, name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def _numbers(rows: list[Row]) -> str:
    return ", ".join(str(r.where.row) for r in rows)
