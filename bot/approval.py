"""Approval rules, without I/O: which steps a bill's amount needs, and whether a bill is close enough
to its order (the supplier's tolerance) to need nobody's decision.

Step 1 is always the order's buyers; each configured step is added when the amount (net or gross,
in the order's currency) is above its threshold, and is asked only when the step before approved.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot import bills
from bot.buyer_config import ApprovalSettings, Tolerance
from parsers.records import Line

BUYERS_STEP = "buyers"


@dataclass(frozen=True)
class PlannedStep:
    number: int
    name: str
    approvers: tuple[str, ...]  # () = the order's buyers
    above: Decimal | None  # the threshold that brought it in (None for the buyers)


@dataclass(frozen=True)
class StepRequest:
    """A step as its request email names it."""

    number: int
    of: int
    name: str
    above: Decimal | None
    amount: str = "net"  # which total the threshold compared


@dataclass(frozen=True)
class StepView:
    """The step a decision answers: who may take it (addresses and their delegates)."""

    number: int
    name: str
    approvers: frozenset[str]
    of: int  # steps in the chain
    # the buyers' step was approved by tolerance: they (and delegates) may still REJECT it, until this step decides
    overrulable_by: frozenset[str] = frozenset()


def chain_amount(lines: Sequence[Line], settings: ApprovalSettings) -> Decimal:
    totals = bills.totals(lines)
    return totals.net if settings.amount == "net" else totals.gross


def plan_chain(amount: Decimal, settings: ApprovalSettings) -> tuple[PlannedStep, ...]:
    steps = [PlannedStep(1, BUYERS_STEP, (), None)]
    for rule in settings.steps:
        if amount > rule.above:
            steps.append(PlannedStep(len(steps) + 1, rule.name, rule.approvers, rule.above))
    return tuple(steps)


@dataclass(frozen=True)
class ToleranceVerdict:
    within: bool
    reasons: tuple[str, ...]  # within: what differs and why that is fine; else: what is outside


def within_tolerance(order: Sequence[Line], bill: Sequence[Line], tolerance: Tolerance) -> ToleranceVerdict:
    """Every order line answered, none added, each price and quantity within the limits, the same unit
    and VAT, and the gross total within its limit (by default: not above the order's). Conservative:
    a key (SKU, else description) on two lines of either side is never within, as the pairing could
    hide a removed line or an added quantity."""
    repeated = _repeated(order, "order") + _repeated(bill, "bill")
    if repeated:
        return ToleranceVerdict(False, tuple(sorted(repeated)))
    ordered = {line.key: line for line in order}
    billed = {line.key: line for line in bill}
    outside = [f"line added: {billed[key].sku or billed[key].description}" for key in billed if key not in ordered]
    outside += [f"line removed: {ordered[key].sku or ordered[key].description}" for key in ordered if key not in billed]
    within: list[str] = []
    for key in ordered.keys() & billed.keys():
        _compare(ordered[key], billed[key], tolerance, within, outside)
    _compare_totals(bills.totals(order).gross, bills.totals(bill).gross, tolerance, within, outside)
    if outside:
        return ToleranceVerdict(False, tuple(sorted(outside)))
    return ToleranceVerdict(True, tuple(sorted(within)) or ("every line exactly as ordered",))


def _repeated(lines: Sequence[Line], side: str) -> list[str]:
    counts = Counter(line.key for line in lines)
    first = {line.key: line for line in reversed(lines)}
    return [f"{first[key].sku or first[key].description}: {count} {side} lines with this key: a decision is needed"
            for key, count in counts.items() if count > 1]


def _compare(ordered: Line, billed: Line, tolerance: Tolerance, within: list[str], outside: list[str]) -> None:
    name = ordered.sku or ordered.description
    if billed.unit.strip().casefold() != ordered.unit.strip().casefold():
        outside.append(f"{name}: unit {ordered.unit} → {billed.unit}")
    if billed.tax_rate != ordered.tax_rate:
        outside.append(f"{name}: VAT {ordered.tax_rate} % → {billed.tax_rate} %")
    if billed.unit_price > ordered.unit_price:
        up = _percent(billed.unit_price, ordered.unit_price)
        allowed = up <= tolerance.price_up_percent
        (within if allowed else outside).append(
            f"{name}: unit price {ordered.unit_price} → {billed.unit_price} (+{_shown(up, tolerance.price_up_percent)} %, "
            f"{'within' if allowed else 'more than'} the {tolerance.price_up_percent} % allowed)")
    elif billed.unit_price < ordered.unit_price:
        within.append(f"{name}: unit price {ordered.unit_price} → {billed.unit_price} (lower)")
    if billed.quantity > ordered.quantity:
        outside.append(f"{name}: quantity {ordered.quantity} → {billed.quantity} (more than ordered)")
    elif billed.quantity < ordered.quantity:
        down = _percent(ordered.quantity, billed.quantity, of=ordered.quantity)
        allowed = down <= tolerance.quantity_down_percent
        (within if allowed else outside).append(
            f"{name}: quantity {ordered.quantity} → {billed.quantity} (−{_shown(down, tolerance.quantity_down_percent)} %, "
            f"{'within' if allowed else 'more than'} the {tolerance.quantity_down_percent} % allowed)")


def _compare_totals(ordered: Decimal, billed: Decimal, tolerance: Tolerance, within: list[str],
                    outside: list[str]) -> None:
    if billed <= ordered:
        return
    up = _percent(billed, ordered)
    allowed = up <= tolerance.total_up_percent
    (within if allowed else outside).append(
        f"total {ordered} → {billed} (+{_shown(up, tolerance.total_up_percent)} %, "
        f"{'within' if allowed else 'more than'} the {tolerance.total_up_percent} % allowed)")


def _percent(high: Decimal, low: Decimal, of: Decimal | None = None) -> Decimal:
    """Exact: the limits compare this; only the text rounds it (`_shown`)."""
    base = of if of is not None else low
    if base == 0:
        return Decimal(100)
    return (high - low) * 100 / base


def _shown(percent: Decimal, limit: Decimal) -> Decimal:
    """Rounded to 0.1 for the text, with more places where rounding would put it on the other side
    of the limit (+2.04 % must not read as +2.0 % next to "more than the 2 % allowed")."""
    for places in ("0.1", "0.01", "0.001", "0.0001"):
        shown = percent.quantize(Decimal(places))
        if (shown <= limit) == (percent <= limit):
            return shown
    return percent.normalize()
