"""bot.terms and bot.timing: month ends, leap years, time zones and DST."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from bot.terms import Terms, TermsInvalid, parse_terms, schedule
from bot.timing import digest_due, local_instant, periods_elapsed

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc


@pytest.mark.parametrize("text, terms", [
    ("net 30", Terms(30)),
    ("Net 60 EOM", Terms(60, end_of_month=True)),
    ("2/10 net 30", Terms(30, False, D(2), 10)),
    ("1.5% / 14 net 45 end of month", Terms(45, True, D("1.5"), 14)),
])
def test_terms_are_parsed_into_a_structure(text: str, terms: Terms) -> None:
    assert parse_terms(text) == terms


@pytest.mark.parametrize("text, message", [
    ("30 days", "is not payment terms"), ("net", "is not payment terms"),
    ("5/40 net 30", "must be shorter than the payment period"), ("", "is not payment terms"),
])
def test_malformed_terms_are_explained(text: str, message: str) -> None:
    with pytest.raises(TermsInvalid, match=message):
        parse_terms(text)


def test_due_dates_across_month_ends_and_leap_years() -> None:
    assert schedule(parse_terms("net 30"), date(2028, 1, 31), D(100)).due == date(2028, 3, 1)  # 2028 is leap
    assert schedule(parse_terms("net 30"), date(2027, 1, 31), D(100)).due == date(2027, 3, 2)
    eom = schedule(parse_terms("net 30 EOM"), date(2028, 2, 3), D(100))
    assert eom.due == date(2028, 3, 30)  # from 29 Feb
    discount = schedule(parse_terms("2/10 net 30"), date(2026, 12, 25), D("1234.56"))
    assert (discount.discount_until, discount.discount_amount, discount.due) == (date(2027, 1, 4), D("24.69"), date(2027, 1, 24))


def test_the_digest_is_due_once_a_day_after_its_local_time() -> None:
    at = time(8, 0)
    assert digest_due(datetime(2026, 11, 28, 6, 59, tzinfo=UTC), BERLIN, at, None) is None  # 07:59 local
    assert digest_due(datetime(2026, 11, 28, 7, 0, tzinfo=UTC), BERLIN, at, None) == date(2026, 11, 28)
    assert digest_due(datetime(2026, 11, 28, 22, 0, tzinfo=UTC), BERLIN, at, date(2026, 11, 28)) is None
    # 23:30 UTC on the 28th is already the 29th in Berlin, but before 08:00 there
    assert digest_due(datetime(2026, 11, 28, 23, 30, tzinfo=UTC), BERLIN, at, date(2026, 11, 28)) is None


def test_the_digest_keeps_local_time_across_dst() -> None:
    assert local_instant(date(2026, 3, 28), time(8), BERLIN).astimezone(UTC).hour == 7  # CET
    assert local_instant(date(2026, 3, 29), time(8), BERLIN).astimezone(UTC).hour == 6  # CEST
    assert local_instant(date(2026, 10, 25), time(8), BERLIN).astimezone(UTC).hour == 7
    skipped = local_instant(date(2026, 3, 29), time(2, 30), BERLIN)  # 02:30 does not exist that day
    assert skipped.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # = 03:30 CEST
    repeated = local_instant(date(2026, 10, 25), time(2, 30), BERLIN)  # happens twice: the first one
    assert repeated.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_reminder_periods() -> None:
    since = datetime(2026, 11, 1, 12, tzinfo=UTC)
    assert periods_elapsed(since, datetime(2026, 11, 4, 11, tzinfo=UTC), 3) == 0
    assert periods_elapsed(since, datetime(2026, 11, 4, 12, tzinfo=UTC), 3) == 1
    assert periods_elapsed(since, datetime(2026, 11, 10, 12, tzinfo=UTC), 3) == 3
    assert periods_elapsed(since, datetime(2026, 11, 10, tzinfo=UTC), 0) == 0
