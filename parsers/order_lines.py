"""An operator's file of order lines (CSV or XLSX) → lines, or SheetInvalid with the place."""
from __future__ import annotations

from parsers.bill_sheet import read_bill_sheet, read_lines_table
from parsers.intake.sheets import csv_table
from parsers.records import Line


def read_order_lines(data: bytes, filename: str) -> tuple[Line, ...]:
    if filename.lower().endswith((".csv", ".txt")):
        return _read_csv(data, filename)
    return read_bill_sheet(data, filename).lines


def _read_csv(data: bytes, filename: str) -> tuple[Line, ...]:
    """Decoded and split as a supplier's CSV is (UTF-8 or cp1252, the delimiter found from the text)."""
    table = csv_table(data, filename)
    return read_lines_table([[cell.value for cell in row.cells] for row in table.rows], filename)
