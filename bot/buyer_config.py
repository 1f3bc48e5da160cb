"""The [buyers], [approval] and [tolerance] sections: who orders by email, who approves from which
amount, and what a supplier may change without anybody's decision (bot.config calls these)."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.config import _Section

AMOUNTS = ("net", "gross")
TOLERANCE_KEYS = ("price_up_percent", "quantity_down_percent", "total_up_percent")
ALL_SUPPLIERS = "*"


@dataclass(frozen=True)
class BuyerSettings:
    """Who may ORDER by email, and the short names they may write instead of a supplier's address."""

    addresses: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    send_at_once: bool = False  # True: an ORDER goes to the supplier without waiting for SEND
    default_tax_rate: Decimal = Decimal(19)  # for order lines that name no VAT rate
    suppliers: dict[str, str] = field(default_factory=dict)  # short name (casefolded) → supplier address

    def is_buyer(self, address: str) -> bool:
        address = address.lower()
        return address in self.addresses or address.rpartition("@")[2] in self.domains

    def supplier_address(self, name: str) -> str:
        """A short name's address, else the name itself (an address, or unknown)."""
        return self.suppliers.get(name.casefold(), name.lower())


@dataclass(frozen=True)
class StepRule:
    """A step after the order's buyers: asked when the amount is above `above`."""

    name: str
    approvers: tuple[str, ...]
    above: Decimal


@dataclass(frozen=True)
class ApprovalSettings:
    amount: str = "net"  # which total the thresholds compare: net | gross
    steps: tuple[StepRule, ...] = ()


@dataclass(frozen=True)
class Tolerance:
    """How far a bill may differ from the order and still be approved without a decision."""

    price_up_percent: Decimal = Decimal(0)
    quantity_down_percent: Decimal = Decimal(0)
    total_up_percent: Decimal = Decimal(0)  # 0: the gross total may not be above the order's


@dataclass(frozen=True)
class ToleranceSettings:
    suppliers: tuple[str, ...] = ()  # supplier addresses it applies to; "*" = every supplier; () = none
    default: Tolerance = Tolerance()
    per_supplier: dict[str, Tolerance] = field(default_factory=dict)
    window_hours: int = 24  # a buyer may REJECT for this long before the supplier is told to deliver

    def for_supplier(self, email: str) -> Tolerance | None:
        email = email.lower()
        if email in self.per_supplier:
            return self.per_supplier[email]
        return self.default if ALL_SUPPLIERS in self.suppliers or email in self.suppliers else None


def buyers(s: _Section) -> BuyerSettings:
    s.known.add("default_tax_rate")
    names = _table(s, "suppliers", "a table of short name = \"supplier address\"")
    for name, address in names.items():
        if not isinstance(address, str) or "@" not in address:
            s.problems.append(f"buyers.suppliers.{name}: expected a supplier's email address, got {address!r}")
    return BuyerSettings(addresses=_addresses(s, "addresses"), domains=_words(s, "domains"),
                         send_at_once=s.boolean("send_at_once", False),
                         default_tax_rate=_decimal(s, "buyers.default_tax_rate", s.data.get("default_tax_rate", 19)),
                         suppliers={k.casefold(): str(v).lower() for k, v in names.items()})


def approval(s: _Section) -> ApprovalSettings:
    amount = s.choice("amount", "net", AMOUNTS)
    s.known.add("steps")
    raw = s.data.get("steps", [])
    if not isinstance(raw, list) or not all(isinstance(step, dict) for step in raw):
        s.problems.append("approval.steps: expected [[approval.steps]] tables (name, approvers, above)")
        raw = []
    return ApprovalSettings(amount, tuple(_step(s, index, step) for index, step in enumerate(raw, start=1)))


def _step(s: _Section, index: int, data: dict[str, Any]) -> StepRule:
    where = f"approval.steps[{index}]"
    for key in sorted(set(data) - {"name", "approvers", "above"}):
        s.problems.append(f"{where}.{key}: unknown key")
    name = data.get("name", f"step {index + 1}")  # the order's buyers are step 1
    approvers = data.get("approvers")
    if not isinstance(approvers, list) or not approvers or not all(isinstance(a, str) and "@" in a for a in approvers):
        s.problems.append(f"{where}.approvers: expected a list of email addresses, got {approvers!r}")
        approvers = []
    above = _decimal(s, f"{where}.above", data.get("above", 0))
    return StepRule(str(name), tuple(a.strip().lower() for a in approvers), above)


def tolerance(s: _Section) -> ToleranceSettings:
    suppliers = _addresses(s, "suppliers", allow_all=True)
    default = _tolerance(s, s.data, "tolerance")
    s.known.update(TOLERANCE_KEYS)
    overrides = _table(s, "per_supplier", "a table of supplier address = { price_up_percent, quantity_down_percent }")
    per_supplier = {}
    for email, values in overrides.items():
        if not isinstance(values, dict):
            s.problems.append(f"tolerance.per_supplier.{email}: expected a table")
            continue
        per_supplier[email.lower()] = _tolerance(s, values, f"tolerance.per_supplier.{email}")
    return ToleranceSettings(suppliers, default, per_supplier, s.integer("window_hours", 24, 0, 24 * 30))


def _tolerance(s: _Section, data: dict[str, Any], where: str) -> Tolerance:
    return Tolerance(*(_decimal(s, f"{where}.{key}", data.get(key, 0)) for key in TOLERANCE_KEYS))


def _decimal(s: _Section, where: str, value: Any) -> Decimal:
    try:
        number = Decimal(str(value)) if isinstance(value, int | float | str) and not isinstance(value, bool) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number < 0:
        s.problems.append(f"{where}: expected a number of 0 or more, got {value!r}")
        return Decimal(0)
    return number


def _table(s: _Section, key: str, what: str) -> dict[str, Any]:
    s.known.add(key)
    value = s.data.get(key, {})
    if not isinstance(value, dict):
        s.problems.append(f"{s.name}.{key}: expected {what}")
        return {}
    return value


def _words(s: _Section, key: str) -> tuple[str, ...]:
    s.known.add(key)
    value = s.data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        s.problems.append(f"{s.name}.{key}: expected a list of strings, got {value!r}")
        return ()
    return tuple(v.strip().lower() for v in value)


def _addresses(s: _Section, key: str, allow_all: bool = False) -> tuple[str, ...]:
    found = _words(s, key)
    for value in found:
        if "@" not in value and not (allow_all and value == ALL_SUPPLIERS):
            choices = 'email addresses or "*"' if allow_all else "email addresses"
            s.problems.append(f"{s.name}.{key}: expected {choices}, got {value!r}")
    return found
