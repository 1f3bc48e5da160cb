"""parsers.bill_sheet: the sheet the bot writes reads back; every bad sheet says where it is bad."""
from __future__ import annotations

import io
import zipfile
from decimal import Decimal as D

import pytest
from openpyxl import Workbook, load_workbook

from parsers.bill_sheet import (
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
