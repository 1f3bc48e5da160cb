"""Workbooks (.xlsx, .ods) and CSV files → tables of cells, one per sheet, with their rows' places.

The workbook is checked from its zip directory (size, ratio, macros) before any XML is read,
exactly as the bill sheet is; CSV is decoded as UTF-8 (with or without BOM) or cp1252 and its
delimiter is found from the text.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from python_calamine import CalamineError, CalamineWorkbook

from parsers.bill_sheet import REF_SHEET, Limits, NotASpreadsheet, SheetInvalid, check_archive
from parsers.intake.records import Cell, Row, Table, Where
from parsers.records import Problem

MAX_CSV_BYTES = 5 * 1024 * 1024


def workbook_tables(data: bytes, filename: str, limits: Limits = Limits()) -> list[Table]:
    """Every visible sheet of the workbook as a table (a cover sheet is just a table without lines)."""
    check_archive(data, filename, limits)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        return [_sheet_table(workbook, name, filename, limits) for name in workbook.sheet_names if name != REF_SHEET]
    except CalamineError as exc:
        raise NotASpreadsheet([Problem(f"{filename} could not be read: its XML is malformed or uses features "
                                       f"a bill does not need ({type(exc).__name__})")]) from None


def _sheet_table(workbook: CalamineWorkbook, name: str, filename: str, limits: Limits) -> Table:
    rows = []
    for index, values in enumerate(workbook.get_sheet_by_name(name).iter_rows()):
        if index >= limits.max_rows:
            raise SheetInvalid([Problem(f"the sheet has more than {limits.max_rows} rows", name)])
        rows.append(Row(tuple(Cell(_plain(v)) for v in values[: limits.max_columns]),
                        Where(filename, row=index + 1, sheet=name)))
    return Table(name, tuple(rows), "sheet")


def _plain(value: object) -> object:
    """Dates and times are text to a bill reader; numbers stay numbers."""
    if value is None or isinstance(value, str | int | float) and not isinstance(value, bool):
        return value if value != "" else None
    return str(value)


def decode_text(data: bytes) -> str:
    """UTF-8 (a BOM is dropped), else cp1252, the two encodings spreadsheets save CSV in."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def csv_table(data: bytes, filename: str) -> Table:
    if len(data) > MAX_CSV_BYTES:
        raise SheetInvalid([Problem(f"{filename} is larger than {MAX_CSV_BYTES >> 20} MB")])
    text = decode_text(data)
    if "\x00" in text:
        raise NotASpreadsheet([Problem(f"{filename} is not a text (CSV) file")])
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = [Row(tuple(Cell(value.strip() or None) for value in values), Where(filename, row=index + 1))
            for index, values in enumerate(_bounded(reader))]
    return Table(filename, tuple(rows), "csv")


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the most lines into the same number (> 1) of fields."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    best, best_score = ",", -1
    for delimiter in (";", "\t", ",", "|"):
        counts = [len(next(csv.reader([line], delimiter=delimiter))) for line in lines]
        widths = [c for c in counts if c > 1]
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        score = widths.count(common) * common
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _bounded(reader: Iterable[list[str]], max_rows: int = 20000, max_columns: int = 60) -> Iterable[list[str]]:
    for index, row in enumerate(reader):
        if index >= max_rows:
            raise SheetInvalid([Problem(f"the file has more than {max_rows} rows")])
        yield row[:max_columns]
