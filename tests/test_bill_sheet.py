"""parsers.bill_sheet: the sheet the bot writes reads back; every bad sheet says where it is bad."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from decimal import Decimal as D

import pypdfium2 as pdfium
import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from python_calamine import CalamineWorkbook

from bot.bills import line_net, totals
from bot.devmail.clients import LineEdit, edit_sheet
from parsers.bill_sheet import (
    FIRST_LINE_ROW,
    HEADER_ROW,
    SPARE_ROWS,
    Limits,
    NotASpreadsheet,
    SheetHeader,
    SheetInvalid,
    parse_decimal,
    read_bill_sheet,
    write_bill_sheet,
)
from parsers.records import Line
from tests.odsgen import ods, ods_from_xlsx

HEADER = SheetHeader("PO-2026-0042", "ACME GmbH", "sales@supplier.test", "EUR")
LINES = (Line("A-1", "Bolt", D("100"), "pcs", D("0.35"), D("19")),
         Line("B-2", "Nut", D("2.5"), "kg", D("12.5"), D("7")))


def workbook_bytes(rows: list[list[object]], title: str = "Sheet1") -> bytes:
    workbook = Workbook()
    workbook.active.title = title
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def problems_of(data: bytes, limits: Limits = Limits()) -> list[str]:
    with pytest.raises(SheetInvalid) as caught:
        read_bill_sheet(data, "bill.xlsx", limits)
    return [str(p) for p in caught.value.problems]


def test_the_written_sheet_reads_back_with_its_hidden_reference() -> None:
    sheet = read_bill_sheet(write_bill_sheet(HEADER, LINES))
    assert sheet.order_ref == "PO-2026-0042" and sheet.lines == LINES and sheet.sheet_name == "Bill"


def test_text_from_people_is_never_written_as_a_formula() -> None:
    hostile = Line("=HYPERLINK(\"http://evil\")", "@SUM(1)", D(1), "-cmd", D(1), D(0))
    data = write_bill_sheet(HEADER, [hostile])
    cell = load_workbook(io.BytesIO(data))["Bill"]["A8"]
    assert cell.data_type == "s" and cell.quotePrefix
    assert read_bill_sheet(data).lines == (hostile,)


def test_a_plain_table_with_german_headers_and_comma_decimals_is_read() -> None:
    data = workbook_bytes([["Artikel", "Bezeichnung", "Menge", "Einheit", "Einzelpreis", "MwSt"],
                           ["X1", "Schraube", "1.000", "Stk", "0,12", "19 %"],
                           ["Summe", None, None, None, None, None],
                           ["ignored", "after", "the", "trailer", 1, 1]])
    sheet = read_bill_sheet(data)
    assert sheet.order_ref is None
    assert sheet.lines == (Line("X1", "Schraube", D("1000"), "Stk", D("0.12"), D("19")),)


def test_a_tax_rate_typed_as_a_percent_is_read_as_that_percent() -> None:
    """Typing `19%` into a cell makes it the number 0.19 shown as a percent: that is 19 %, never 0.19 %."""
    data = workbook_bytes([["SKU", "Description", "Quantity", "Unit", "Unit price", "Tax rate"],
                           ["X1", "Bolt", 10, "pcs", 0.12, 0.19], ["X2", "Nut", 10, "pcs", 0.04, 7],
                           ["X3", "Washer", 10, "pcs", 0.02, "7 %"], ["X4", "Freight", 1, "lot", 25, 0]])
    assert [line.tax_rate for line in read_bill_sheet(data).lines] == [D("19"), D("7"), D("7"), D("0")]


def test_a_tax_rate_above_100_is_named() -> None:
    data = workbook_bytes([["SKU", "Description", "Quantity", "Unit", "Unit price", "Tax rate"],
                           ["X1", "Bolt", 10, "pcs", 0.12, 119]])
    assert problems_of(data) == [
        "sheet 'Sheet1', row 2, column F (Tax rate): Tax rate must be a percent from 0 to 100, found '119'"]


def test_every_bad_cell_is_reported_with_sheet_row_and_column() -> None:
    data = workbook_bytes([["SKU", "Description", "Quantity", "Unit", "Unit price"],
                           ["A", "ok", 1, "pcs", 1],
                           ["B", "text qty", "lots", "pcs", 1],
                           ["C", "negative", 1, "pcs", -3],
                           [None, None, 2, "pcs", 1],
                           ["D", "empty price", 1, "pcs", None]], title="Bill")
    assert problems_of(data) == [
        "sheet 'Bill', row 3, column C (Quantity): Quantity must be a number, found 'lots'",
        "sheet 'Bill', row 4, column E (Unit price): Unit price cannot be negative, found '-3'",
        "sheet 'Bill', row 5, column A: the line has neither a SKU nor a description",
        "sheet 'Bill', row 6, column E (Unit price): Unit price is empty",
    ]


def test_missing_columns_are_named() -> None:
    assert problems_of(workbook_bytes([["SKU", "Description", "Amount"], ["A", "x", 1]])) == [
        "sheet 'Sheet1': no header row with the columns SKU (or Description), Quantity and Unit price "
        "was found in the first 30 rows"]


def test_an_empty_sheet_and_a_table_without_lines_are_refused() -> None:
    assert problems_of(workbook_bytes([])) == ["sheet 'Sheet1': the sheet is empty"]
    assert problems_of(workbook_bytes([["SKU", "Quantity", "Price"]])) == [
        "sheet 'Sheet1', row 1: the table has no lines under its header row"]


def test_old_excel_files_and_macros_are_asked_for_as_xlsx() -> None:
    assert "old Excel (.xls)" in problems_of(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)[0]
    macro = io.BytesIO(write_bill_sheet(HEADER, LINES))
    with zipfile.ZipFile(macro, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"macro")
    assert "contains macros" in problems_of(macro.getvalue())[0]


def test_a_zip_bomb_is_refused_before_any_xml_is_parsed() -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"<a/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 1024 * 1024))
    with pytest.raises(NotASpreadsheet, match="expands to more than a bill sheet can hold"):
        read_bill_sheet(bomb.getvalue())


def test_sheets_with_too_many_rows_are_refused() -> None:
    rows = [["SKU", "Quantity", "Unit price"]] + [[f"S{i}", 1, 1] for i in range(40)]
    assert problems_of(workbook_bytes(rows), Limits(max_rows=20)) == ["the sheet has more than 20 rows"]


def test_anything_that_is_not_a_workbook_is_refused() -> None:
    assert "is not an .xlsx or .ods workbook" in problems_of(b"%PDF-1.7 not a sheet")[0]
    fake = io.BytesIO()
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("word/document.xml", b"<a/>")
    assert "is not an .xlsx or .ods workbook" in problems_of(fake.getvalue())[0]


@pytest.mark.parametrize("value, expected", [
    (3, D(3)), (0.1 + 0.2, D("0.3")), (10.0, D(10)), ("1,5", D("1.5")), ("1.234,50", D("1234.50")),
    ("1,234.50", D("1234.50")), ("€ 12", D(12)), ("19%", D(19)), ("", None), (None, None),
])
def test_cells_become_exact_decimals(value: object, expected: D | None) -> None:
    assert parse_decimal(value) == expected


def test_a_price_of_fourteen_thousandths_is_never_read_as_fourteen() -> None:
    assert parse_decimal("0.014") == D("0.014")
    assert parse_decimal("0,014") == D("0.014")


def test_an_order_csv_decides_its_decimal_mark_per_column() -> None:
    from parsers.order_lines import read_order_lines

    dotted = b"sku;description;quantity;unit;unit price;tax rate\nWSH-M8;Washer;1.000;pcs;0,014;19\nBLT;Bolt;500;pcs;1.234,50;19\n"
    english = b"sku,description,quantity,unit,unit price,tax rate\nWSH-M8,Washer,1000,pcs,0.014,19\nBLT,Bolt,500,pcs,1234.50,19\n"
    for data in (dotted, english):
        lines = read_order_lines(data, "lines.csv")
        assert [(l.quantity, l.unit_price) for l in lines] == [(D(1000), D("0.014")), (D(500), D("1234.5"))]


@pytest.mark.parametrize("value", ["12 apples", True, float("nan"), "1e400", "--1"])
def test_cells_that_are_not_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        parse_decimal(value)


def test_an_xml_entity_bomb_is_refused_quickly() -> None:
    from bench.hostile import _xml_bomb

    assert "XML is malformed or uses features" in problems_of(_xml_bomb())[0]


def test_openpyxl_parses_through_defusedxml() -> None:
    from bot.app import check_xml_defences

    check_xml_defences()  # raises if openpyxl would parse XML unprotected
    import openpyxl
    assert openpyxl.DEFUSEDXML is True


def test_our_sheet_saved_as_ods_reads_back_the_same() -> None:
    xlsx = write_bill_sheet(HEADER, LINES)
    assert read_bill_sheet(ods_from_xlsx(xlsx), "bill.ods") == read_bill_sheet(xlsx)


def test_an_ods_with_macros_is_refused_unopened() -> None:
    data = ods([("Bill", [["SKU", "Quantity", "Unit price"], ["A", 1, 2]])],
               extra={"Basic/Standard/Module1.xml": b"<script/>"})
    assert problems_of(data) == ["bill.xlsx contains macros; please save it as a plain .xlsx and send it again"]


def test_an_ods_with_an_entity_expansion_is_refused() -> None:
    laugh = '<!DOCTYPE office:document-content [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    data = ods([("Bill", [["SKU", "Quantity", "Unit price"], ["RAW", 1, 2]])], doctype=laugh, raw_cell="&b;")
    assert "could not be read" in problems_of(data)[0]


def test_another_opendocument_file_is_not_a_workbook() -> None:
    text = io.BytesIO()
    with zipfile.ZipFile(text, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", b"<a/>")
    assert "is not an .xlsx or .ods workbook" in problems_of(text.getvalue())[0]


# --- the sheet a supplier opens, edits and prints ---------------------------------------------

PRINTED = (Line("BLT-M8", "Hex bolt M8x40", D("500"), "pcs", D("0.12"), D("19")),
           Line("NUT-M8", "Hex nut M8", D("2.5"), "kg", D("12.5"), D("7")),  # tax 2.1875 rounds up
           Line("WSH-M8", "Washer M8", D("3"), "pcs", D("0.335"), D("19")),  # 1.005 rounds half up
           Line("GLV-L", "Work gloves, size L", D("12"), "pair", D("4.125"), D("19")))


def bill_rows(data: bytes) -> tuple[Worksheet, int, int]:
    """The Bill sheet (openpyxl), its first line row and the row of its "Net total"."""
    sheet = load_workbook(io.BytesIO(data))["Bill"]
    net_row = next(row for row in range(FIRST_LINE_ROW, sheet.max_row + 1) if sheet.cell(row, 1).value == "Net total")
    return sheet, FIRST_LINE_ROW, net_row


def saved_results(data: bytes) -> Worksheet:
    """What a viewer that never calculates shows: the results saved beside the formulas."""
    return load_workbook(io.BytesIO(data), data_only=True)["Bill"]


def test_every_formula_is_saved_with_the_bots_result() -> None:
    data = write_bill_sheet(HEADER, PRINTED)
    sheet, first, net_row = bill_rows(data)
    shown = saved_results(data)
    formulas = [c for row in sheet.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    assert len(formulas) == (net_row - first) + 3
    assert [shown.cell(first + i, 7).value for i in range(len(PRINTED))] == [float(line_net(l)) for l in PRINTED]
    assert all(shown.cell(row, 7).value is None for row in range(first + len(PRINTED), net_row))  # shown blank
    expected = totals(PRINTED)
    assert [shown.cell(net_row + i, 7).value for i in range(3)] == [float(expected.net), float(expected.tax),
                                                                      float(expected.gross)]


def test_totals_sit_under_the_line_totals_below_room_for_added_lines() -> None:
    sheet, first, net_row = bill_rows(write_bill_sheet(HEADER, PRINTED))
    assert [sheet.cell(net_row + i, 1).value for i in range(3)] == ["Net total", "Tax", "Total"]
    assert net_row - first - len(PRINTED) == SPARE_ROWS
    spare = first + len(PRINTED)
    assert sheet.cell(spare, 7).value == f'=IF(OR(C{spare}="",E{spare}=""),"",ROUND(C{spare}*E{spare},2))'
    assert sheet.cell(net_row, 7).value == f"=SUM(G{first}:G{net_row - 1})"
    assert all(sheet.cell(row, column).value is None for row in range(1, HEADER_ROW) for column in (5, 6, 7))


def test_only_the_line_cells_are_editable_marked_and_the_rest_is_protected_without_a_password() -> None:
    sheet, first, net_row = bill_rows(write_bill_sheet(HEADER, PRINTED))
    assert sheet.protection.sheet and not sheet.protection.password
    assert not sheet.protection.insertRows and not sheet.protection.deleteRows  # False: allowed
    editable = [sheet.cell(row, column) for row in range(first, net_row) for column in range(1, 7)]
    assert all(not c.protection.locked and c.fill.fgColor.rgb.endswith("FFF2CC") for c in editable)
    fixed = [sheet.cell(row, column) for row in (*range(1, first), net_row, net_row + 2) for column in range(1, 8)]
    assert all(c.protection.locked and not c.fill.fgColor.rgb.endswith("FFF2CC") for c in fixed)


def test_one_font_and_number_formats_that_never_hide_a_decimal() -> None:
    sheet, first, net_row = bill_rows(write_bill_sheet(HEADER, PRINTED))
    assert {c.font.name for row in sheet.iter_rows() for c in row if c.value is not None} == {"Calibri"}
    assert sheet.cell(first, 3).number_format == sheet.cell(first, 5).number_format == "#,##0.00##"
    assert sheet.cell(first, 7).number_format == sheet.cell(net_row + 2, 7).number_format == "#,##0.00"


def test_the_sheet_is_set_up_to_print_one_page_wide_with_its_header_row_on_every_page() -> None:
    sheet, _, net_row = bill_rows(write_bill_sheet(HEADER, PRINTED))
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToHeight == 0
    assert sheet.page_setup.fitToWidth in (None, 1)  # 1 is the default, left out of the file
    assert sheet.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"
    assert sheet.print_area == f"'Bill'!$A$1:$G${net_row + 2}"
    assert sheet.page_setup.orientation == "portrait"
    wide = Line("X-1", "A description long enough to need the width of a landscape page " * 2, D(1), "pcs", D(1), D(0))
    assert bill_rows(write_bill_sheet(HEADER, [wide]))[0].page_setup.orientation == "landscape"


# --- as LibreOffice opens, prints and computes it ----------------------------------------------

needs_soffice = pytest.mark.skipif(shutil.which("soffice") is None,
                                   reason="LibreOffice is not installed (Debian: libreoffice-calc-nogui)")


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Callable[[bytes, str], bytes]:
    """Convert a workbook with headless LibreOffice: "pdf" prints it, "xlsx" recalculates and saves it."""
    root = tmp_path_factory.mktemp("office")

    def convert(data: bytes, to: str) -> bytes:
        source = root / "bill.xlsx"
        source.write_bytes(data)
        subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{root}/profile",
                        "--convert-to", to, "--outdir", str(root / "out"), str(source)],
                       check=True, capture_output=True, timeout=180)
        return (root / "out" / f"bill.{to}").read_bytes()

    return convert


def pages_of(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    return [document[i].get_textpage().get_text_range() for i in range(len(document))]


def without_results(data: bytes) -> bytes:
    """The sheet with every saved formula result removed, so that LibreOffice must compute them."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            body = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                body, count = re.subn(rb"(</f>)<v>[^<]*</v>", rb"\1", body)
                assert count or item.filename != "xl/worksheets/sheet1.xml"
            archive.writestr(item, body)
    return out.getvalue()


def computed_totals(xlsx: bytes) -> tuple[list[object], list[object]]:
    """LibreOffice's line totals and its net, tax and total, from the file it saved."""
    rows = CalamineWorkbook.from_filelike(io.BytesIO(xlsx)).get_sheet_by_name("Bill").to_python()
    net = next(i for i, row in enumerate(rows) if row[0] == "Net total")
    return [row[6] for row in rows[HEADER_ROW:net] if row[6] != ""], [row[6] for row in rows[net:net + 3]]


@needs_soffice
def test_libreoffice_prints_a_four_line_bill_on_one_page_in_one_font(office) -> None:
    pdf = office(write_bill_sheet(HEADER, PRINTED), "pdf")
    pages = pages_of(pdf)
    assert len(pages) == 1
    fonts = set(re.findall(rb"/BaseFont\s*/(?:[A-Z]{6}\+)?([A-Za-z]+)", pdf))
    assert len(fonts) == 1, fonts  # headers too: no serif fallback beside the body's font
    assert all(word in pages[0] for word in ("SKU", "Line total", "Work gloves", "49.50", "Net total", "Total"))


@needs_soffice
def test_a_long_bill_prints_one_page_wide_with_the_header_row_on_every_page(office) -> None:
    lines = [Line(f"PART-{n:04}", f"Spare part number {n} with a rather long description, grade A", D(n), "pcs",
                  D("1.25"), D("19")) for n in range(1, 121)]
    pages = pages_of(office(write_bill_sheet(HEADER, lines), "pdf"))
    assert len(pages) > 1
    assert all("SKU" in page and "Line total" in page for page in pages)  # no column spilled to a page of its own
    assert "Total" in pages[-1] and "PART-0120" in "".join(pages)


@needs_soffice
def test_libreoffice_computes_the_bots_totals_from_the_formulas(office) -> None:
    line_totals, sums = computed_totals(office(without_results(write_bill_sheet(HEADER, PRINTED)), "xlsx"))
    expected = totals(PRINTED)
    assert line_totals == [float(line_net(line)) for line in PRINTED]
    assert sums == [float(expected.net), float(expected.tax), float(expected.gross)]


def cleared(data: bytes, sku: str) -> bytes:
    """A line the supplier cannot deliver, its cells cleared. (openpyxl cannot stand in for deleting
    the row: unlike a spreadsheet program it leaves every formula below pointing one row off.)"""
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook["Bill"]
    row = next(r for r in range(FIRST_LINE_ROW, sheet.max_row + 1) if sheet.cell(r, 1).value == sku)
    for column in range(1, 7):
        sheet.cell(row, column).value = None
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@needs_soffice
def test_a_sheet_edited_by_the_supplier_shows_the_totals_the_bot_computes(office) -> None:
    edited = edit_sheet(write_bill_sheet(HEADER, PRINTED), [
        LineEdit("BLT-M8", quantity=480, unit_price=0.135), LineEdit("", add=("FRT", "Freight", 1, "lot", 25.5, 19)),
        LineEdit("", add=("PAL", "Pallet", 2, "pcs", 7.125, 19))])
    saved = office(cleared(edited, "GLV-L"), "xlsx")  # recalculated and saved by LibreOffice, as a supplier's reply would be
    lines = read_bill_sheet(saved).lines
    assert [line.sku for line in lines] == ["BLT-M8", "NUT-M8", "WSH-M8", "FRT", "PAL"]
    line_totals, sums = computed_totals(saved)
    expected = totals(lines)
    assert line_totals == [float(line_net(line)) for line in lines]
    assert sums == [float(expected.net), float(expected.tax), float(expected.gross)]


@needs_soffice
def test_our_sheet_saved_by_libreoffice_as_ods_reads_back_the_same(office) -> None:
    assert read_bill_sheet(office(write_bill_sheet(HEADER, PRINTED), "ods"), "bill.ods").lines == PRINTED


def test_an_edited_sheet_saved_by_libreoffice_reads_back_and_its_totals_agree_with_the_bots() -> None:
    """A fixture made once by the test above's steps (edit, then `soffice --convert-to xlsx`), so that
    the reader meets LibreOffice's own file even where LibreOffice is not installed."""
    saved = (Path(__file__).parent / "fixtures" / "sheets" / "edited-saved-by-libreoffice.xlsx").read_bytes()
    sheet = read_bill_sheet(saved)
    assert sheet.order_ref == "PO-2026-0042"
    assert [(line.sku, line.quantity, line.unit_price) for line in sheet.lines] == [
        ("BLT-M8", D(480), D("0.135")), ("NUT-M8", D("2.5"), D("12.5")), ("WSH-M8", D(3), D("0.335")),
        ("FRT", D(1), D("25.5")), ("PAL", D(2), D("7.125"))]
    expected = totals(sheet.lines)
    assert computed_totals(saved)[1] == [float(expected.net), float(expected.tax), float(expected.gross)]


def test_a_german_sheet_speaks_german_and_reads_back_as_the_same_lines() -> None:
    data = write_bill_sheet(HEADER, LINES, "de")
    sheet = load_workbook(io.BytesIO(data))["Bill"]
    assert [sheet.cell(HEADER_ROW, c).value for c in (1, 3, 5)] == ["Artikel", "Menge", "Einzelpreis"]
    assert sheet["A1"].value == "Rechnung zur Bestellung" and "SENDEN" in sheet["B5"].value
    assert read_bill_sheet(data).lines == read_bill_sheet(write_bill_sheet(HEADER, LINES)).lines


@needs_soffice
def test_libreoffice_prints_a_german_bill_on_one_page_with_its_totals(office) -> None:
    pages = pages_of(office(write_bill_sheet(HEADER, PRINTED, "de"), "pdf"))
    assert len(pages) == 1
    assert all(word in pages[0] for word in ("Artikel", "Einzelpreis", "Summe netto", "Gesamt", "Seite 1 von 1"))
