"""Payment terms ("2/10 net 30", "net 60 EOM") and the dates that follow from an invoice. Pure."""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from bot.bills import money

_TERMS = re.compile(
    r"^\s*(?:(?P<pct>\d{1,2}(?:\.\d{1,2})?)\s*%?\s*/\s*(?P<days>\d{1,3})\s+)?"
    r"net\s*(?P<net>\d{1,3})(?:\s+(?P<eom>eom|end of month))?\s*$", re.I)


class TermsInvalid(ValueError):
    """The text is not payment terms we understand; the message says what is expected."""


@dataclass(frozen=True)
class Terms:
    net_days: int
    end_of_month: bool = False  # count from the end of the invoice's month
    discount_percent: Decimal = Decimal(0)
    discount_days: int = 0

    def __str__(self) -> str:
        discount = f"{self.discount_percent}/{self.discount_days} " if self.discount_percent else ""
        return f"{discount}net {self.net_days}{' EOM' if self.end_of_month else ''}"


@dataclass(frozen=True)
class Schedule:
    """What is owed for one invoice, and by when."""

    due: date
    discount_until: date | None
    discount_amount: Decimal


def parse_terms(text: str) -> Terms:
    found = _TERMS.match(text or "")
    if found is None:
        raise TermsInvalid(f"{text!r} is not payment terms; write e.g. \"net 30\", \"net 60 EOM\" "
                           f"or \"2/10 net 30\" (2 % discount if paid within 10 days)")
    terms = Terms(net_days=int(found["net"]), end_of_month=bool(found["eom"]),
                  discount_percent=Decimal(found["pct"] or 0), discount_days=int(found["days"] or 0))
    if terms.discount_percent and terms.discount_days >= terms.net_days:
        raise TermsInvalid(f"{text!r}: the discount period ({terms.discount_days} days) must be shorter "
                           f"than the payment period ({terms.net_days} days)")
    return terms


def schedule(terms: Terms, invoice_date: date, total: Decimal) -> Schedule:
    start = end_of_month(invoice_date) if terms.end_of_month else invoice_date
    discount_until = start + timedelta(days=terms.discount_days) if terms.discount_percent else None
    return Schedule(due=start + timedelta(days=terms.net_days), discount_until=discount_until,
                    discount_amount=money(total * terms.discount_percent / 100))


def end_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])
