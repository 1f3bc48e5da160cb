"""Bill arithmetic and comparison: totals computed by the bot, and what changed between line sets."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

from parsers.records import Line

CENT = Decimal("0.01")


def money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def line_net(line: Line) -> Decimal:
    return money(line.quantity * line.unit_price)


def line_tax(line: Line) -> Decimal:
    return money(line_net(line) * line.tax_rate / 100)


@dataclass(frozen=True)
class Totals:
    net: Decimal
    tax: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax


def totals(lines: Sequence[Line]) -> Totals:
    return Totals(
        net=sum((line_net(line) for line in lines), Decimal("0.00")),
        tax=sum((line_tax(line) for line in lines), Decimal("0.00")),
    )


def format_money(amount: Decimal, currency: str) -> str:
    return f"{currency} {money(amount):,.2f}"


class ChangeKind(str, Enum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True)
class LineChange:
    """One line of a bill set against a base (the order, or the previous revision)."""

    kind: ChangeKind
    line: Line  # the new line; for REMOVED, the base line
    base: Line | None
    fields: tuple[str, ...]  # which fields differ, for CHANGED

    def describe(self) -> str:
        """`unit_price 0.35 → 0.32, quantity 100 → 80` for a changed line."""
        if self.base is None:
            return ""
        return ", ".join(f"{name.replace('_', ' ')} {getattr(self.base, name)} → {getattr(self.line, name)}"
                         for name in self.fields)

    def changed(self, name: str) -> bool:
        return name in self.fields


COMPARED_FIELDS = ("quantity", "unit_price", "tax_rate", "unit", "description")


def diff_lines(base: Sequence[Line], new: Sequence[Line]) -> list[LineChange]:
    """Pair lines by key; new lines keep their order, removed base lines come last."""
    base_by_key = {line.key: line for line in base}
    new_keys = {line.key for line in new}
    changes = [_compare(base_by_key.get(line.key), line) for line in new]
    changes += [LineChange(ChangeKind.REMOVED, line, line, ()) for line in base if line.key not in new_keys]
    return changes


def _compare(base: Line | None, line: Line) -> LineChange:
    if base is None:
        return LineChange(ChangeKind.ADDED, line, None, ())
    fields = tuple(name for name in COMPARED_FIELDS if getattr(base, name) != getattr(line, name))
    return LineChange(ChangeKind.CHANGED if fields else ChangeKind.UNCHANGED, line, base, fields)


def has_changes(changes: Sequence[LineChange]) -> bool:
    return any(change.kind is not ChangeKind.UNCHANGED for change in changes)
