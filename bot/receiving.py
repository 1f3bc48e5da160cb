"""Deliveries, receipts and the three-way match: pure arithmetic over the approved lines and the
quantities delivered and received (no I/O). Quantities are keyed by the approved line's key."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot import bills
from parsers import numbers
from parsers.intake.match import pair_lines
from parsers.intake.records import ReadLine
from parsers.records import Line

Quantities = dict[str, Decimal]


def _words(text: str) -> list[str]:
    return [w.strip(".,;:()") for w in text.split()]


def quantities_from_text(text: str, approved: Sequence[Line]) -> tuple[Quantities, list[str]]:
    """Lines like "BLT-M8 300" or "300 x BLT-M8" (one article a line, after the command's line) →
    quantities; a line with a number that names no article of the order is a problem, not a guess."""
    by_word = {line.sku.casefold(): line.key for line in approved if line.sku}
    found: Quantities = {}
    problems: list[str] = []
    for row in text.split("\n")[1:]:
        words = _words(row)
        keys = [by_word[w.casefold()] for w in words if w.casefold() in by_word]
        amounts = [w for w in words if w.casefold() not in by_word and re.fullmatch(r"\d[\d.,']*", w)]
        if keys and len(amounts) == 1:
            found[keys[0]] = found.get(keys[0], Decimal(0)) + numbers.to_decimal(amounts[0], numbers.Convention.UNKNOWN)
        elif amounts or keys:
            problems.append(f"{row.strip()[:80]!r}: expected one article number of this order and one quantity")
    return found, problems


def quantities_from_lines(lines: Iterable[Line], approved: Sequence[Line]) -> Quantities:
    """A delivery note or sheet read like a bill: each approved line's quantity in it."""
    keys = {line.key for line in approved}
    found: Quantities = {}
    for line in lines:
        if line.key in keys:
            found[line.key] = found.get(line.key, Decimal(0)) + line.quantity
    return found


def counted_lines(read: Sequence[ReadLine], approved: Sequence[Line]) -> Quantities:
    """Lines of a delivery note set against the approved lines (by SKU, else description)."""
    found: Quantities = {}
    for line, (index, _) in zip(read, pair_lines(read, approved)):
        if index is not None and line.quantity is not None:
            key = approved[index].key
            found[key] = found.get(key, Decimal(0)) + line.quantity
    return found


def add(*parts: Mapping[str, Decimal]) -> Quantities:
    total: Quantities = {}
    for part in parts:
        for key, quantity in part.items():
            total[key] = total.get(key, Decimal(0)) + quantity
    return total


def outstanding(approved: Sequence[Line], done: Mapping[str, Decimal]) -> Quantities:
    """What of each approved line is not delivered (or received) yet."""
    return {line.key: line.quantity - done.get(line.key, Decimal(0))
            for line in approved if line.quantity > done.get(line.key, Decimal(0))}


@dataclass(frozen=True)
class Match:
    """The three-way match of an invoice: why its payment waits ("" = it may be paid)."""

    hold: str
    expected: Decimal  # the received goods at the approved prices, with tax


def three_way(approved: Sequence[Line], received: Mapping[str, Decimal], invoice_total: Decimal | None) -> Match:
    if not received:
        return Match("the goods are not received yet: the payment waits for RECEIVED",
                     bills.totals(approved).gross)
    taken = [_with_quantity(line, min(line.quantity, received.get(line.key, Decimal(0)))) for line in approved]
    expected = bills.totals(taken).gross
    slack = bills.CENT * max(1, len(approved))
    if invoice_total is None or invoice_total <= expected + slack:
        return Match("", expected)
    short = [f"{line.sku or line.description}: approved {line.quantity}, received "
             f"{received.get(line.key, Decimal(0))}" for line in approved
             if received.get(line.key, Decimal(0)) < line.quantity]
    detail = "; ".join(short) if short else "every line was received in full"
    return Match(f"the invoice total {invoice_total} is more than the goods received are worth ({expected}): "
                 f"{detail}", expected)


def _with_quantity(line: Line, quantity: Decimal) -> Line:
    return Line(line.sku, line.description, quantity, line.unit, line.unit_price, line.tax_rate)
