"""An operator's file of order lines (CSV or XLSX) → lines, or SheetInvalid with the place."""
from __future__ import annotations

import csv
import io

from parsers.bill_sheet import SheetInvalid, read_bill_sheet, read_lines_table
from parsers.records import Line, Problem

MAX_CSV_BYTES = 5 * 1024 * 1024


def read_order_lines(data: bytes, filename: str) -> tuple[Line, ...]:
    if filename.lower().endswith((".csv", ".txt")):
        return _read_csv(data, filename)
    return read_bill_sheet(data, filename).lines


def _read_csv(data: bytes, filename: str) -> tuple[Line, ...]:
    if len(data) > MAX_CSV_BYTES:
        raise SheetInvalid([Problem(f"{filename} is larger than 5 MB")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", "replace")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [[cell if cell.strip() else None for cell in row] for row in csv.reader(io.StringIO(text), dialect)]
    return read_lines_table(rows, filename)
