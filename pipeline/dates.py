"""Calendar arithmetic for the policy's clock. Today's date is always passed in, never read here."""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clamped to the month's end (31 Aug + 6 months = 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def add_years(day: dt.date, years: int) -> dt.date:
    return add_months(day, 12 * years)


def utcnow() -> dt.datetime:
    """Wall-clock UTC without tzinfo, as stored. For leases and event times only: the policy's
    dates come from ``--as-of``."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
