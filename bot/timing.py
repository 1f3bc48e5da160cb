"""When scheduled things are due, in the operator's time zone. Pure: instants in, answers out."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_day(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


def digest_due(now: datetime, zone: ZoneInfo, at: time, last_sent: date | None) -> date | None:
    """The local day whose digest should go out now, or None.

    Due once the local wall clock has passed `at` (on a day when `at` does not
    exist because clocks jump forward, from the jump on), at most once a day.
    """
    today = local_day(now, zone)
    if last_sent is not None and last_sent >= today:
        return None
    return today if now >= local_instant(today, at, zone) else None


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`at` on `day` in `zone`: a time skipped by DST moves forward; a repeated one is the first."""
    candidate = datetime.combine(day, at, tzinfo=zone)
    round_trip = candidate.astimezone(ZoneInfo("UTC")).astimezone(zone)
    if round_trip.replace(tzinfo=None) != candidate.replace(tzinfo=None):  # did not exist: clocks jumped
        return round_trip
    return candidate.replace(fold=0)


def periods_elapsed(since: datetime, now: datetime, every_days: int) -> int:
    """How many whole reminder periods have passed (0 before the first is due)."""
    if every_days <= 0 or now <= since:
        return 0
    return int((now - since) / timedelta(days=every_days))
