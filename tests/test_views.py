"""bot.views: the command line's text tables, from plain rows (no database)."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from bot.payments import DuePayment
from bot.views import failed_text, held_text, local_time, payments_text, table

BERLIN = ZoneInfo("Europe/Berlin")


def test_times_are_shown_in_the_configured_zone_and_name_it() -> None:
    assert local_time("2026-11-03T09:00:00+00:00", BERLIN) == "2026-11-03 10:00 CET"
    assert local_time(datetime(2026, 7, 1, 9, 0, tzinfo=UTC), BERLIN) == "2026-07-01 11:00 CEST"
    assert local_time(None, BERLIN) == "-"


def test_a_table_aligns_its_columns_under_a_header_and_shows_cells_as_given() -> None:
    header, rule, *rows = table([["A-1", "EUR 1,234.50"], ["B-22", "EUR 5.00"]], ["sku", "amount"], right=(1,)).splitlines()
    assert header.split() == ["sku", "amount"] and set(rule) == {"-", " "}
    assert rows == ["A-1    EUR 1,234.50", "B-22       EUR 5.00"]


def test_the_payment_run_names_amounts_discounts_and_a_differing_total() -> None:
    due = DuePayment("sales@supplier.test", "PO-2026-0001", "INV-7", date(2026, 11, 20), "EUR", D("1190.00"),
                     date(2026, 11, 30), D("23.80"), date(2026, 12, 20), True)
    header, _, row = payments_text([due]).splitlines()
    assert header.split() == ["due", "order", "supplier", "amount", "with", "discount"]
    assert row.split() == ["2026-12-20", "PO-2026-0001", "sales@supplier.test", "EUR", "1,190.00",
                           "EUR", "1,166.20", "by", "2026-11-30", "TOTAL", "DIFFERS"]


def test_failed_and_held_messages_are_listed_with_headers() -> None:
    failed = [{"id": 3, "uid": 41, "sender": "a@b.test", "subject": "Re: [PO-1] bill", "attempts": 3,
               "next_attempt_at": None, "error": "Boom: the parser broke", "raw_path": "x"}]
    header, _, row = failed_text(failed, BERLIN).splitlines()
    assert header.split()[:5] == ["id", "uid", "from", "subject", "attempts"] and "next try (Europe/Berlin)" in header
    assert "set aside" in row and "Boom: the parser broke" in row
    held = [{"id": 5, "sender": "a@b.test", "subject": "APPROVE", "reason": "no DMARC pass",
             "received_at": "2026-11-03T09:00:00+00:00"}]
    assert "2026-11-03 10:00 CET" in held_text(held, BERLIN).splitlines()[2]
