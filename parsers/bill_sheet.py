"""The bill spreadsheet: written pre-filled for the supplier, read back into lines or problems.

Writing makes a sheet to edit, print and preview: editable cells marked and the rest
protected, one page wide, totals under the line totals, and every formula saved with its
result. Reading never trusts the sheet: totals are recomputed from quantity × price,
formulas are read as their cached values and never evaluated, and the archive
is inspected before any XML is parsed.
"""
from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import xlsxwriter
from openpyxl.utils import get_column_letter
from python_calamine import CalamineError, CalamineWorkbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from parsers.numbers import Convention, decide, percent_cell, to_decimal
from parsers.records import BillSheet, Line, Problem

BILL_SHEET = "Bill"
REF_SHEET = "_supplierbot"
HEADER_ROW = 7
FIRST_LINE_ROW = HEADER_ROW + 1
HEADERS = ("SKU", "Description", "Quantity", "Unit", "Unit price", "Tax rate (%)", "Line total")

#: What a header cell may say, normalised (lower case, letters and digits only).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "sku": ("sku", "item", "itemno", "article", "artikel", "artnr", "code", "partno"),
    "description": ("description", "desc", "beschreibung", "bezeichnung", "designation"),
    "quantity": ("quantity", "qty", "menge", "anzahl", "quantite"),
    "unit": ("unit", "uom", "einheit", "unite"),
    "unit_price": ("unitprice", "price", "preis", "einzelpreis", "prixunitaire"),
    "tax_rate": ("taxrate", "tax", "vat", "vatrate", "mwst", "ust", "tva"),
}
REQUIRED_COLUMNS = ("quantity", "unit_price")
TRAILER_WORDS = ("total", "net total", "subtotal", "summe", "gesamt")


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a hostile workbook from costing unbounded memory or time."""

    max_bytes: int = 10 * 1024 * 1024
    max_uncompressed: int = 50 * 1024 * 1024
    max_entries: int = 500
    max_ratio: int = 200
    max_rows: int = 5000
    max_columns: int = 50


class SheetInvalid(Exception):
    """The spreadsheet cannot become a bill; `problems` says where and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = tuple(problems)


class NotASpreadsheet(SheetInvalid):
    """The file is not an .xlsx or .ods workbook (an .xls, .xlsm, .csv, or anything else)."""


@dataclass(frozen=True)
class SheetHeader:
    ref: str
    customer: str
    supplier: str
    currency: str


# --- writing -----------------------------------------------------------------------------
#
# Written with XlsxWriter rather than openpyxl because it stores a formula's result beside the
# formula: phone and webmail previews never calculate, they show what the file holds.

FONT = {"font_name": "Calibri", "font_size": 11}  # one font for every cell; LibreOffice maps it to Carlito
EDITABLE_FILL = "#FFF2CC"  # the cells a supplier may edit; everything else is protected
GRID = "#BFBFBF"
QUANTITY_FORMAT = PRICE_FORMAT = "#,##0.00##"  # at least cents, up to four decimals: 0.125 never shows as 0.13
MONEY_FORMAT = "#,##0.00"
SPARE_ROWS = 15  # empty editable rows with their line-total formula, for lines the supplier adds
PORTRAIT_MAX_WIDTH = 110  # column widths (in characters) that still print legibly on portrait A4/Letter
HOW_TO = ("Edit the yellow cells: change quantities and unit prices, delete lines you cannot deliver "
          "(or clear them), add lines in the empty yellow rows. Reply to the email with this file "
          "attached, and SEND to submit.")
TOTAL_LABELS = ("Net total", "Tax", "Total")


@dataclass(frozen=True)
class SheetWords:
    """Every word the sheet shows, in one language. The reader finds its columns by these headers
    (COLUMN_ALIASES) and stops at the first total label (TRAILER_WORDS), in either language."""

    headers: tuple[str, ...] = HEADERS
    labels: tuple[str, ...] = ("Bill for order", "Customer", "Supplier", "Currency", "How to")
    how_to: str = HOW_TO
    totals: tuple[str, ...] = TOTAL_LABELS
    page: str = "Page &P of &N"


SHEET_WORDS: dict[str, SheetWords] = {
    "en": SheetWords(),
    "de": SheetWords(
        headers=("Artikel", "Bezeichnung", "Menge", "Einheit", "Einzelpreis", "MwSt (%)", "Gesamt"),
        labels=("Rechnung zur Bestellung", "Kunde", "Lieferant", "Währung", "So geht es"),
        how_to=("Ändern Sie die gelben Zellen: Mengen und Einzelpreise ändern, Positionen löschen, die Sie "
                "nicht liefern können (oder leeren), neue Positionen in den leeren gelben Zeilen ergänzen. "
                "Antworten Sie auf die E-Mail mit dieser Datei im Anhang, und SENDEN zum Einreichen."),
        totals=("Summe netto", "MwSt.", "Gesamt"),
        page="Seite &P von &N"),
}


def write_bill_sheet(header: SheetHeader, lines: Iterable[Line], language: str = "en") -> bytes:
    """The order's lines as the sheet a supplier edits, prints and previews on a phone, in their
    language (numbers are numbers: Excel and LibreOffice show them in the reader's own locale)."""
    words = SHEET_WORDS.get(language, SHEET_WORDS["en"])
    lines = list(lines)
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    styles = _Styles(workbook)
    sheet = workbook.add_worksheet(BILL_SHEET)
    widths = _column_widths(lines)
    _write_header_block(sheet, styles, header, words)
    _write_lines(sheet, styles, lines, words)
    last = _write_totals(sheet, styles, lines, words)
    _set_up_page(sheet, header, widths, last, words)
    sheet.protect("", {"insert_rows": True, "delete_rows": True, "format_columns": True})
    hidden = workbook.add_worksheet(REF_SHEET)
    hidden.write_string(0, 0, "order_ref")
    hidden.write_string(0, 1, header.ref)
    hidden.hide()
    workbook.close()
    return out.getvalue()


class _Styles:
    """The few cell formats of the sheet, made once per workbook."""

    def __init__(self, workbook: xlsxwriter.Workbook) -> None:
        self._workbook = workbook
        self._made: dict[tuple[tuple[str, object], ...], Format] = {}

    def __call__(self, **properties: object) -> Format:
        key = tuple(sorted(properties.items()))
        if key not in self._made:
            self._made[key] = self._workbook.add_format({**FONT, **properties})
        return self._made[key]

    def quoted(self, style: Format) -> Format:
        """The same format, with text shown as typed even when it starts like a formula."""
        properties = next(dict(key) for key, made in self._made.items() if made is style)
        return self(**{**properties, "quote_prefix": True})

    def editable(self, **properties: object) -> Format:
        return self(locked=False, bg_color=EDITABLE_FILL, border=1, border_color=GRID, **properties)


def _write_header_block(sheet: Worksheet, styles: _Styles, header: SheetHeader, words: SheetWords) -> None:
    values = (header.ref, header.customer, header.supplier, header.currency)
    for row, (label, value) in enumerate(zip(words.labels, values)):
        sheet.write_string(row, 0, label, styles(bold=True))
        _text(sheet, styles, row, 1, value, styles(bold=True, font_size=13) if row == 0 else styles())
    sheet.write_string(4, 0, words.labels[4], styles(bold=True, valign="top"))
    sheet.merge_range(4, 1, 4, len(HEADERS) - 1, words.how_to, styles(text_wrap=True, valign="top"))
    sheet.set_row(4, 45)


def _write_lines(sheet: Worksheet, styles: _Styles, lines: list[Line], words: SheetWords) -> None:
    heading = styles(bold=True, bg_color="#DDEBF7", align="center", border=1, border_color=GRID)
    for column, title in enumerate(words.headers):
        sheet.write_string(HEADER_ROW - 1, column, title, heading)
    for row in range(FIRST_LINE_ROW - 1, FIRST_LINE_ROW - 1 + len(lines) + SPARE_ROWS):
        line = lines[row - FIRST_LINE_ROW + 1] if row - FIRST_LINE_ROW + 1 < len(lines) else None
        _write_line_row(sheet, styles, row, line)
    sheet.freeze_panes(HEADER_ROW, 0)


def _write_line_row(sheet: Worksheet, styles: _Styles, row: int, line: Line | None) -> None:
    """One editable row; the whole row is unlocked so that a protected sheet still lets it be deleted."""
    sheet.set_row(row, None, styles(locked=False))
    text, qty, price = styles.editable(), styles.editable(num_format=QUANTITY_FORMAT), styles.editable(num_format=PRICE_FORMAT)
    rate = styles.editable(num_format="General")
    for column, value, style in ((0, line and line.sku, text), (1, line and line.description, text),
                                 (2, line and line.quantity, qty), (3, line and line.unit, text),
                                 (4, line and line.unit_price, price), (5, line and line.tax_rate, rate)):
        if line is None:
            sheet.write_blank(row, column, None, style)
        elif isinstance(value, Decimal):
            sheet.write_number(row, column, float(value), style)
        else:
            _text(sheet, styles, row, column, str(value), style)
    r = row + 1
    sheet.write_formula(row, 6, f'=IF(OR(C{r}="",E{r}=""),"",ROUND(C{r}*E{r},2))',
                        styles(locked=False, num_format=MONEY_FORMAT, border=1, border_color=GRID),
                        float(_line_amount(line)) if line else "")


def _write_totals(sheet: Worksheet, styles: _Styles, lines: list[Line], words: SheetWords) -> int:
    """Net, tax and total under the line totals; returns the last row written (0-based).
    The first label sits in column A so that a reader stops at it (it starts with "net total")."""
    first, end = FIRST_LINE_ROW, FIRST_LINE_ROW + len(lines) + SPARE_ROWS - 1  # 1-based, as formulas say
    top = end  # the row under the last editable one, 0-based
    net, tax = _sheet_totals(lines)
    q, p, t = (f"{c}{first}:{c}{end}" for c in "CEF")
    formulas = (
        (f"=SUM(G{first}:G{end})", net),
        (f"=SUMPRODUCT(ROUND(ROUND({q}*{p},2)*{t}/100,2))", tax),
        (f"=G{top + 1}+G{top + 2}", net + tax),
    )
    for offset, (label, (formula, value)) in enumerate(zip(words.totals, formulas)):
        bold = offset == len(formulas) - 1
        sheet.merge_range(top + offset, 0, top + offset, len(HEADERS) - 2, label,
                          styles(bold=bold, align="right", top=1 if offset == 0 else 0))
        sheet.write_formula(top + offset, 6, formula,
                            styles(bold=bold, num_format=MONEY_FORMAT, top=1 if offset == 0 else 0), float(value))
    return top + len(TOTAL_LABELS) - 1


def _sheet_totals(lines: Sequence[Line]) -> tuple[Decimal, Decimal]:
    """Net and tax as the sheet's formulas compute them: each line's amount and tax rounded to
    cents (ROUND is half away from zero), then summed; the same rule as the bot's (bot.bills)."""
    return (sum((_line_amount(line) for line in lines), Decimal("0.00")),
            sum((_cents(_line_amount(line) * line.tax_rate / 100) for line in lines), Decimal("0.00")))


def _line_amount(line: Line) -> Decimal:
    return _cents(line.quantity * line.unit_price)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _column_widths(lines: list[Line]) -> tuple[float, ...]:
    longest_sku = max((len(line.sku) for line in lines), default=0)
    longest_description = max((len(line.description) for line in lines), default=0)
    return (min(max(longest_sku + 2, 12), 24), min(max(longest_description + 2, 30), 60), 11, 8, 12, 12, 14)


def _set_up_page(sheet: Worksheet, header: SheetHeader, widths: tuple[float, ...], last_row: int,
                 words: SheetWords) -> None:
    """One page wide, the header row repeated on every page, nothing printed beyond the totals."""
    for column, width in enumerate(widths):
        sheet.set_column(column, column, width)
    if sum(widths) > PORTRAIT_MAX_WIDTH:
        sheet.set_landscape()
    else:
        sheet.set_portrait()
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(HEADER_ROW - 1)
    sheet.print_area(0, 0, last_row, len(HEADERS) - 1)
    sheet.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    sheet.set_footer(f"&L{header.ref.replace('&', '&&')}&R{words.page}")


def text_cell(sheet, row: int, column: int, text: str) -> None:
    """openpyxl sheets (the payments export): text from people stays text, never a formula."""
    cell = sheet.cell(row, column)
    cell.value = text
    if text[:1] in FORMULA_LEADERS:
        cell.data_type = "s"
        cell.quotePrefix = True


FORMULA_LEADERS = ("=", "+", "-", "@", "\t", "\r")


def _text(sheet: Worksheet, styles: _Styles, row: int, column: int, text: str, style: Format) -> None:
    """Text from people stays text: a leading = + - @ is shown as typed, never run as a formula."""
    if text[:1] in FORMULA_LEADERS:
        style = styles.quoted(style)
    sheet.write_string(row, column, text, style)


# --- reading -----------------------------------------------------------------------------

def read_bill_sheet(data: bytes, filename: str = "", limits: Limits = Limits()) -> BillSheet:
    """Read a workbook into a BillSheet, or raise SheetInvalid listing every problem found."""
    check_archive(data, filename, limits)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = list(workbook.sheet_names)
        order_ref = _hidden_ref(workbook, names)
        return _read_first_bill(workbook, names, order_ref, limits)
    except CalamineError as exc:  # also XML with entity declarations, which calamine refuses
        raise NotASpreadsheet([Problem(f"{filename or 'the workbook'} could not be read: its XML is malformed or "
                                       f"uses features a bill sheet does not need ({type(exc).__name__})")])


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODS_TYPE = "application/vnd.oasis.opendocument.spreadsheet"
ODS_MIMETYPE = ODS_TYPE.encode()


def sheet_content_type(data: bytes) -> str:
    """The media type of a workbook that read_bill_sheet accepted: .ods or .xlsx."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        return ODS_TYPE if _is_ods(archive, set(archive.namelist())) else XLSX_TYPE
    except (zipfile.BadZipFile, ValueError):
        return XLSX_TYPE


def check_archive(data: bytes, filename: str, limits: Limits) -> None:
    """An .xlsx (Excel) or .ods (LibreOffice, OpenOffice) of sane size, without macros;
    checked from the zip directory before any XML is opened."""
    name = filename or "the attachment"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise NotASpreadsheet([Problem(f"{name} is an old Excel (.xls) file; please save it as .xlsx and send it again")])
    if len(data) > limits.max_bytes:
        raise NotASpreadsheet([Problem(f"{name} is larger than {limits.max_bytes // 1048576} MB")])
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise NotASpreadsheet([Problem(f"{name} is not an .xlsx or .ods workbook")]) from None
    _check_entries(entries, name, limits)
    names = {entry.filename for entry in entries}
    if "xl/workbook.xml" not in names and not _is_ods(archive, names):
        raise NotASpreadsheet([Problem(f"{name} is not an .xlsx or .ods workbook")])


def _check_entries(entries: list[zipfile.ZipInfo], name: str, limits: Limits) -> None:
    total = sum(entry.file_size for entry in entries)
    packed = sum(entry.compress_size for entry in entries) or 1
    if len(entries) > limits.max_entries or total > limits.max_uncompressed or total / packed > limits.max_ratio:
        raise NotASpreadsheet([Problem(f"{name} expands to more than a bill sheet can hold; it was not opened")])
    macros = any(entry.filename.lower().endswith("vbaproject.bin")  # Excel
                 or entry.filename.startswith(("Basic/", "Scripts/"))  # OpenDocument
                 for entry in entries)
    if macros:
        raise NotASpreadsheet([Problem(f"{name} contains macros; please save it as a plain .xlsx and send it again")])


def _is_ods(archive: zipfile.ZipFile, names: set[str]) -> bool:
    if "content.xml" not in names or "mimetype" not in names:
        return False
    try:
        with archive.open("mimetype") as mimetype:  # read at most its first bytes, whatever it claims
            return mimetype.read(len(ODS_MIMETYPE) + 1).strip() == ODS_MIMETYPE
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError):
        return False


def _hidden_ref(workbook: CalamineWorkbook, names: list[str]) -> str | None:
    if REF_SHEET not in names:
        return None
    for row in workbook.get_sheet_by_name(REF_SHEET).iter_rows():
        if len(row) >= 2 and str(row[0]).strip() == "order_ref":
            return str(row[1]).strip() or None
    return None


def _read_first_bill(workbook: CalamineWorkbook, names: list[str], order_ref: str | None, limits: Limits) -> BillSheet:
    candidates = [n for n in names if n != REF_SHEET]
    candidates.sort(key=lambda n: n != BILL_SHEET)  # the sheet we wrote first, then the others
    first_problem: list[Problem] = []
    for name in candidates:
        rows = _bounded_rows(workbook.get_sheet_by_name(name).iter_rows(), limits)
        try:
            lines = read_lines_table(rows, name)
        except SheetInvalid as invalid:
            first_problem = first_problem or list(invalid.problems)
            continue
        return BillSheet(order_ref=order_ref or _visible_ref(rows), lines=lines, sheet_name=name)
    raise SheetInvalid(first_problem or [Problem("the workbook has no sheets")])


def _bounded_rows(rows: Iterable[list], limits: Limits) -> list[list]:
    bounded = []
    for index, row in enumerate(rows):
        if index >= limits.max_rows + HEADER_ROW:
            raise SheetInvalid([Problem(f"the sheet has more than {limits.max_rows} rows")])
        bounded.append(list(row[: limits.max_columns]))
    return bounded


def _visible_ref(rows: list[list]) -> str | None:
    for row in rows[:HEADER_ROW]:
        if len(row) >= 2 and _norm(row[0]) == "billfororder":
            return str(row[1]).strip() or None
    return None


def read_lines_table(rows: Sequence[Sequence[object]], sheet: str) -> tuple[Line, ...]:
    """A table of lines (header row, then one line per row) → lines, or SheetInvalid."""
    header_index, columns = _find_header(rows, sheet)
    conventions = column_conventions(rows[header_index + 1:], columns)
    lines: list[Line] = []
    problems: list[Problem] = []
    for index in range(header_index + 1, len(rows)):
        row = rows[index]
        if _is_blank(row):
            continue
        if _is_trailer(row, columns):
            break
        try:
            lines.append(_read_line(row, columns, sheet, index + 1, conventions))
        except SheetInvalid as invalid:
            problems.extend(invalid.problems)
    if problems:
        raise SheetInvalid(problems)
    if not lines:
        raise SheetInvalid([Problem("the table has no lines under its header row", sheet, header_index + 1)])
    return tuple(lines)


def _find_header(rows: Sequence[Sequence[object]], sheet: str) -> tuple[int, dict[str, int]]:
    for index, row in enumerate(rows[:30]):
        columns = _header_columns(row)
        if all(c in columns for c in REQUIRED_COLUMNS) and ("sku" in columns or "description" in columns):
            return index, columns
    if not any(not _is_blank(row) for row in rows):
        raise SheetInvalid([Problem("the sheet is empty", sheet)])
    raise SheetInvalid([Problem(
        "no header row with the columns SKU (or Description), Quantity and Unit price "
        "was found in the first 30 rows", sheet)])


def _header_columns(row: Sequence[object]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for position, cell in enumerate(row):
        text = _norm(cell)
        for field, aliases in COLUMN_ALIASES.items():
            if field not in columns and text in aliases:
                columns[field] = position
    return columns


def _read_line(row: Sequence[object], columns: dict[str, int], sheet: str, number: int,
               conventions: dict[str, Convention]) -> Line:
    problems: list[Problem] = []

    def number_at(field: str, title: str, default: Decimal | None = None) -> Decimal:
        position = columns.get(field)
        value = row[position] if position is not None and position < len(row) else None
        try:
            parsed = parse_decimal(value, conventions.get(field, Convention.UNKNOWN))
        except ValueError:
            problems.append(Problem(f"{title} must be a number, found {_show(value)}", sheet, number,
                                    _column_name(position, title)))
            return Decimal(0)
        if parsed is None:
            if default is None:
                problems.append(Problem(f"{title} is empty", sheet, number, _column_name(position, title)))
            return default if default is not None else Decimal(0)
        if parsed < 0:
            problems.append(Problem(f"{title} cannot be negative, found {_show(parsed)}", sheet, number,
                                    _column_name(position, title)))
        return parsed

    line = Line(
        sku=_text_at(row, columns.get("sku")),
        description=_text_at(row, columns.get("description")),
        quantity=number_at("quantity", "Quantity"),
        unit=_text_at(row, columns.get("unit")),
        unit_price=number_at("unit_price", "Unit price"),
        tax_rate=_tax_percent(row, columns, number_at("tax_rate", "Tax rate", Decimal(0))),
    )
    if line.tax_rate > 100:
        problems.append(Problem(f"Tax rate must be a percent from 0 to 100, found {_show(line.tax_rate)}", sheet,
                                number, _column_name(columns.get("tax_rate"), "Tax rate")))
    if not line.sku and not line.description:
        problems.append(Problem("the line has neither a SKU nor a description", sheet, number, "A"))
    if problems:
        raise SheetInvalid(problems)
    return line


def _column_name(position: int | None, title: str) -> str:
    return f"{get_column_letter(position + 1)} ({title})" if position is not None else title


def _text_at(row: Sequence[object], position: int | None) -> str:
    if position is None or position >= len(row) or row[position] is None:
        return ""
    value = row[position]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())[:500]


def _is_blank(row: Sequence[object]) -> bool:
    return all(cell is None or str(cell).strip() == "" for cell in row)


def _is_trailer(row: Sequence[object], columns: dict[str, int]) -> bool:
    label = _text_at(row, columns.get("sku", columns.get("description"))).casefold()
    quantity = _text_at(row, columns["quantity"])
    return not quantity and label.startswith(TRAILER_WORDS)


def _norm(cell: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(cell or "").casefold())


def _show(value: object) -> str:
    text = str(value)
    return repr(text[:40] + "…" if len(text) > 40 else text)


def _tax_percent(row: Sequence[object], columns: dict[str, int], rate: Decimal) -> Decimal:
    """`19%` typed into the sheet is kept by the spreadsheet as the number 0.19: 19 %."""
    position = columns.get("tax_rate")
    value = row[position] if position is not None and position < len(row) else None
    percent = percent_cell(value, rate)
    return rate if percent is None else percent


def parse_decimal(value: object, convention: Convention = Convention.UNKNOWN) -> Decimal | None:
    """A cell → Decimal; None when empty; ValueError when it is not a number. Text is read in the
    column's convention when it is known (see `column_conventions`), else as it shows itself:
    "0.014" is fourteen thousandths, never fourteen."""
    return to_decimal(value, convention)


def column_conventions(rows: Sequence[Sequence[object]], columns: dict[str, int]) -> dict[str, Convention]:
    """Each numeric column's decimal separator, decided from all its text values at once."""
    texts = {field: [row[index] for row in rows if index < len(row) and isinstance(row[index], str)]
             for field, index in columns.items() if field in ("quantity", "unit_price", "tax_rate")}
    document = decide(str(text) for column in texts.values() for text in column)
    return {field: decide((str(t) for t in column), document) for field, column in texts.items()}
