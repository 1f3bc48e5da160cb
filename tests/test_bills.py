"""bot.bills: totals the bot computes itself, and line differences."""
from __future__ import annotations

from decimal import Decimal as D

from bot.bills import ChangeKind, diff_lines, totals
from parsers.records import Line


def line(sku: str, qty: str, price: str, tax: str = "19", description: str = "") -> Line:
    return Line(sku, description or sku, D(qty), "pcs", D(price), D(tax))


def test_totals_round_each_line_half_up_to_cents() -> None:
    result = totals([line("A", "3", "0.125"), line("B", "1", "10", "7")])
    assert (result.net, result.tax, result.gross) == (D("10.38"), D("0.77"), D("11.15"))


def test_totals_of_nothing_are_zero() -> None:
    assert totals([]).gross == D("0.00")


def test_diff_pairs_by_sku_and_lists_removed_lines_last() -> None:
    base = [line("A", "10", "1.00"), line("B", "5", "2.00"), line("C", "1", "3.00")]
    new = [line("B", "5", "2.50"), line("A", "10", "1.00"), line("D", "2", "4.00")]
    changes = diff_lines(base, new)
    assert [(c.kind, c.line.sku) for c in changes] == [
        (ChangeKind.CHANGED, "B"), (ChangeKind.UNCHANGED, "A"), (ChangeKind.ADDED, "D"), (ChangeKind.REMOVED, "C")]
    assert changes[0].describe() == "unit price 2.00 → 2.50"


def test_lines_without_sku_pair_by_description() -> None:
    changes = diff_lines([line("", "1", "25", description="Freight")], [line("", "1", "30", description="freight")])
    assert changes[0].kind is ChangeKind.CHANGED and "unit_price" in changes[0].fields
