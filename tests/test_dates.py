"""The policy's calendar: months and years added with month-end clamping."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from pipeline.dates import add_months, add_years


def test_month_end_and_leap_days() -> None:
    assert add_months(dt.date(2024, 8, 31), 6) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2023, 8, 31), 6) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 1, 15), 6) == dt.date(2024, 7, 15)
    assert add_years(dt.date(2024, 2, 29), 6) == dt.date(2030, 2, 28)
    assert add_months(dt.date(2024, 12, 1), 1) == dt.date(2025, 1, 1)


@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 1, 1)), st.integers(0, 120))
def test_add_months_is_monotonic_and_never_early(day: dt.date, months: int) -> None:
    later = add_months(day, months)
    assert later >= day
    assert add_months(day, months + 1) > later
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months
