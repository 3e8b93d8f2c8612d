"""Calendar arithmetic for the policy's clock. Today's date is always passed in, never read here."""

from __future__ import annotations

import calendar
import datetime as dt

from pps_archive.errors import InvalidValue

#: dates the register accepts: far enough apart for any case, and later ones would overflow the
#: calendar once the retention periods are added
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
#: a date given for "today" may lie this far after the real today, no further (a mistyped year)
MAX_DAYS_AHEAD = 366


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clamped to the month's end (31 Aug + 6 months = 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def add_years(day: dt.date, years: int) -> dt.date:
    return add_months(day, 12 * years)


def real_today() -> dt.date:
    """The real date, the one destructive steps run on (:func:`pipeline.authority.ensure_real_date`):
    the library asks here, so a test that runs the policy's clock forward moves this one clock."""
    return dt.date.today()


def utcnow() -> dt.datetime:
    """Wall-clock UTC without tzinfo, as stored. For leases and event times only: the policy's
    dates come from ``--as-of``."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def in_calendar(day: dt.date, what: str) -> dt.date:
    """``day`` unless it lies outside the years the register works with (InvalidValue)."""
    if not EARLIEST <= day <= LATEST:
        raise InvalidValue(f"{what} {day} is outside {EARLIEST.year}-{LATEST.year}: check the year")
    return day


def not_far_ahead(day: dt.date, today: dt.date, what: str, *, days: int = MAX_DAYS_AHEAD) -> dt.date:
    """``day`` unless it is more than ``days`` after ``today`` (the real date) or before 1900."""
    if day > today + dt.timedelta(days=days):
        ahead = "a year" if days == MAX_DAYS_AHEAD else f"{days // 365} years"
        raise InvalidValue(f"{what} {day} is more than {ahead} after today ({today}): check the year")
    return in_calendar(day, what)
