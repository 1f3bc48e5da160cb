"""`supplierbot order import`: many orders from one sheet, one per reference, refusals per order."""
from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlmodel import select

from parsers.order_import import read_order_import
from storage.db import session
from storage.models import PurchaseOrder
from tests.conftest import World
from tests.mailworld import cli

HEADER = ["Reference", "Supplier", "Buyer", "SKU", "Description", "Qty", "Unit", "Unit price", "VAT", "Delivery"]


def sheet(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    workbook.active.append(["Orders to place, week 49"])
    workbook.active.append(HEADER)
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_a_csv_is_read_into_one_order_per_reference() -> None:
    data = ("reference;supplier;buyer;sku;description;quantity;unit;unit price;vat\n"
            "BANF-1;Sales@S.test;a@x.test, b@x.test;BLT-M8;Bolt;500;pcs;0,12;19\n"
            "BANF-1;sales@s.test;a@x.test, b@x.test;NUT-M8;Nut;1.000;pcs;0,04;19\n"
            "PO-2026-0900;sales@s.test;a@x.test;;Gloves;40;pair;3,90;7\n").encode()
    first, second = read_order_import(data, "week49.csv")
    assert (first.key, first.ref, first.buyer_ref, first.rows) == ("BANF-1", None, "BANF-1", (2, 3))
    assert first.buyers == ("a@x.test", "b@x.test") and first.supplier == "sales@s.test"
    assert [(line.sku, line.quantity, str(line.unit_price)) for line in first.lines] == [
        ("BLT-M8", 500, "0.12"), ("NUT-M8", 1000, "0.04")]
    assert second.ref == "PO-2026-0900" and second.lines[0].tax_rate == 7 and second.problems == ()


def test_each_order_is_created_or_refused_whole_and_a_second_import_creates_nothing(world: World,
                                                                                     tmp_path) -> None:
    supplier, buyer = world.supplier.address, world.buyer.address
    path = tmp_path / "week49.xlsx"
    path.write_bytes(sheet([
        ["BANF-1", supplier, buyer, "BLT-M8", "Hex bolt", 500, "pcs", 0.12, 19, "2026-12-15"],
        ["BANF-1", supplier, buyer, "NUT-M8", "Hex nut", 500, "pcs", 0.04, 19, "2026-12-15"],
        ["PO-2026-0900", supplier, buyer, "GLV-L", "Gloves", 40, "pair", 3.9, 19, None],
        ["BANF-2", supplier, buyer, "WSH-M8", "Washer", 1000, "pcs", 0.02, 19, None],
        ["BANF-2", supplier, buyer, "X", "Thing", 5, "pcs", "cheap", 19, None],
        ["BANF-3", supplier, buyer, "A", "One", 1, "pcs", 1, 19, None],
        ["BANF-3", "other@supplier.test", buyer, "B", "Two", 1, "pcs", 1, 19, None],
    ]))
    code, output = cli(world, "order", "import", str(path))
    assert code == 1, output
    assert "2 created, 2 refused; the emails are queued" in output
    assert "row 7: a number could not be read (not a number)" in output and "different supplier values" in output
    with session(world.app.engine) as s:
        orders = {o.ref: o for o in s.exec(select(PurchaseOrder)).all()}
    assert set(orders) == {"PO-2026-0001", "PO-2026-0900"}  # BANF-2's good row was not created alone
    assert orders["PO-2026-0001"].buyer_ref == "BANF-1" and str(orders["PO-2026-0001"].requested_delivery) == "2026-12-15"
    world.poll()
    world.supplier.wait_for("[PO-2026-0900] New order from ACME GmbH")

    code, output = cli(world, "order", "import", "--json", str(path))
    report = json.loads(output[output.index("["):])
    assert [r["refused"] for r in report][:2] == ["already imported as PO-2026-0001", "order PO-2026-0900 already exists"]
    assert all(r["created"] is None for r in report)


def test_a_file_without_the_columns_is_refused_by_name(world: World, tmp_path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("what,when\nbolts,soon\n")
    code, output = cli(world, "order", "import", str(path))
    assert code == 1 and "no header row names the columns reference, supplier, buyer, quantity, unit price" in output


def percent_sheet(rates: list[object]) -> bytes:
    """VAT cells as Excel keeps a `0%`-formatted cell: 7 % is stored as 0.07."""
    workbook = Workbook()
    workbook.active.append(HEADER)
    for index, rate in enumerate(rates):
        workbook.active.append([f"BANF-{index}", "s@s.test", "b@x.test", "A", "Bolt", 10, "pcs", 1.5, rate, None])
        workbook.active.cell(row=index + 2, column=9).number_format = "0%"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.mark.parametrize(("cell", "rate"), [(0.07, 7), (0.19, 19), (0.077, Decimal("7.7")), (0, 0), (19, 19),
                                             (7.7, Decimal("7.7")), (1, 1)])
def test_a_percent_formatted_vat_cell_is_read_as_percent(cell: object, rate: Decimal) -> None:
    (order,) = read_order_import(percent_sheet([cell]), "week49.xlsx")
    assert order.problems == () and order.lines[0].tax_rate == rate


@pytest.mark.parametrize(("cell", "shown"), [(-0.07, "-7"), (-5, "-5"), (119, "119"), ("250 %", "250")])
def test_a_vat_rate_below_0_or_above_100_is_refused_with_its_row(cell: object, shown: str) -> None:
    (order,) = read_order_import(percent_sheet([cell]), "week49.xlsx")
    assert order.lines == () and order.problems == (f"row 2: VAT rate {shown} % is not between 0 and 100",)


def test_a_csv_vat_rate_with_a_percent_sign_is_a_percent() -> None:
    data = b"reference;supplier;buyer;description;quantity;unit price;vat\nB-1;s@s.test;b@x.test;Bolt;5;1,50;7 %\n"
    (order,) = read_order_import(data, "week49.csv")
    assert order.problems == () and order.lines[0].tax_rate == 7
