"""Numbers as documents print them, read per column: the decimal separator is decided once for
all the values of a column (or a whole document), never guessed cell by cell.

`0.014` in a column that also holds `1,234.50` is fourteen thousandths; in a column that holds
`1.234,50` it is fourteen. A column whose values never tell (only `0.014`, `12.500`) falls back
to the document's convention, then to the point as decimal separator.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from enum import Enum

MAX_NUMBER = Decimal("1e12")
_CURRENCY = re.compile(r"(?i)(EUR|USD|GBP|CHF|SEK|NOK|DKK|PLN|CZK|INR|€|\$|£|¥|₹|fr\.?)")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")  # 1 234,56 · 1'234.56 (Swiss)
_NUMERIC = re.compile(r"^[+-]?(\d[\d.,]*\d|\d)[-]?$")


class Convention(str, Enum):
    POINT = "point"  # 1,234.56
    COMMA = "comma"  # 1.234,56
    UNKNOWN = "unknown"


def clean(text: str) -> str:
    """Currency signs, percent signs and grouping spaces removed: what is left must be a number."""
    text = _CURRENCY.sub("", text.strip())
    text = text.replace("%", "").replace("−", "-").replace("–", "-")
    text = _SPACES.sub("", text)
    if text.startswith("(") and text.endswith(")"):  # accounting negative
        text = "-" + text[1:-1]
    return text


def looks_numeric(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return not isinstance(value, float) or math.isfinite(value)
    if not isinstance(value, str):
        return False
    return bool(_NUMERIC.match(clean(value)))


def evidence(text: str) -> Convention:
    """What one printed number says about the separator, if anything."""
    text = clean(text).lstrip("+-").rstrip("-")
    has_point, has_comma = "." in text, "," in text
    if has_point and has_comma:
        return Convention.POINT if text.rfind(".") > text.rfind(",") else Convention.COMMA
    mark = "." if has_point else "," if has_comma else ""
    if not mark:
        return Convention.UNKNOWN
    groups = text.split(mark)
    if len(groups) > 2:  # 1.234.567 or 1,234,567: a thousands mark, repeated
        return Convention.COMMA if mark == "." else Convention.POINT
    if len(groups[1]) != 3 or groups[0] in ("0", ""):
        # 12,5 · 3.90 · 0,014 · 0.014: a decimal mark (a thousands group never follows a lone 0)
        return Convention.POINT if mark == "." else Convention.COMMA
    return Convention.UNKNOWN  # 1.234 or 1,234: either way round


def decide(texts: Iterable[str], fallback: Convention = Convention.UNKNOWN) -> Convention:
    """The convention of a column: the majority of the values that tell, else the fallback."""
    votes = {Convention.POINT: 0, Convention.COMMA: 0}
    for text in texts:
        found = evidence(text)
        if found is not Convention.UNKNOWN:
            votes[found] += 1
    if votes[Convention.POINT] == votes[Convention.COMMA]:
        return fallback
    return Convention.POINT if votes[Convention.POINT] > votes[Convention.COMMA] else Convention.COMMA


def to_decimal(value: object, convention: Convention) -> Decimal | None:
    """A cell → Decimal under the column's convention; None when empty; ValueError when not a number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("boolean")
    if isinstance(value, int):
        return bounded(Decimal(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not finite")
        return tidy(bounded(Decimal(repr(round(value, 6)))))
    if not isinstance(value, str):
        raise ValueError("not a number")
    return _from_text(value, convention)


def _from_text(value: str, convention: Convention) -> Decimal:
    text = clean(value)
    if text.endswith("-") and not text.startswith("-"):  # SAP prints 12,50-
        text = "-" + text[:-1]
    if not _NUMERIC.match(text):
        raise ValueError("not a number")
    if convention is Convention.UNKNOWN:
        convention = evidence(text)
        if convention is Convention.UNKNOWN:  # 1,234 or 1.234 alone: a grouping mark
            convention = Convention.POINT if "," in text else Convention.COMMA
    decimal_mark, group_mark = (".", ",") if convention is Convention.POINT else (",", ".")
    if not _grouped_right(text.lstrip("+-"), decimal_mark, group_mark):
        raise ValueError(f"not written as this column's numbers are (decimal mark {decimal_mark!r})")
    text = text.replace(group_mark, "").replace(decimal_mark, ".")
    try:
        return tidy(bounded(Decimal(text)))
    except InvalidOperation:
        raise ValueError("not a number") from None


def _grouped_right(text: str, decimal_mark: str, group_mark: str) -> bool:
    """`1.234,5` under the comma convention, not `0.014` or `12.34` (no thousands group is like that)."""
    whole, _, fraction = text.partition(decimal_mark)
    if decimal_mark in fraction or group_mark in fraction:
        return False
    if group_mark not in whole:
        return True
    groups = whole.split(group_mark)
    return 1 <= len(groups[0]) <= 3 and groups[0] != "0" and all(len(g) == 3 for g in groups[1:])


def bounded(number: Decimal) -> Decimal:
    """No bill needs a trillion of anything; beyond that exact arithmetic would overflow."""
    if not number.is_finite() or abs(number) >= MAX_NUMBER:
        raise ValueError("out of range")
    return number


def tidy(number: Decimal) -> Decimal:
    """12.500 → 12.5 and 10.0 → 10, without switching to exponent notation."""
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return number.normalize()


def percent_cell(value: object, number: Decimal | None) -> Decimal | None:
    """A rate in percent, read from a cell: a number cell below 1 is a fraction, since a
    spreadsheet keeps a cell shown as `7%` (number format 0%) as 0.07, which is never meant as
    0.07 %; 1 is 1 % (no VAT is 100 %); text ("7 %", "19") is as written. `number` is the
    cell already read as a decimal."""
    if number is not None and isinstance(value, int | float) and not isinstance(value, bool) and -1 < number < 1:
        return tidy(number * 100)
    return number
