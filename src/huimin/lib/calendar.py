"""Official working days (public holidays and make-up workdays) for deadlines.

The days are looked up once per year and kept as a cumulative count (working days from the
year's start), so the number of working days between two dates is two look-ups and a
subtraction rather than a question per day (a worklist of overdue cases asks it for each).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar


def _asked(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # Outside the years the calendar knows: fall back to Monday–Friday.
        return day.weekday() < 5


@lru_cache(maxsize=256)
def _year(year: int) -> tuple[tuple[bool, ...], tuple[int, ...]]:
    """Each day of ``year``: whether it is a working day, and the working days up to it."""
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    working = tuple(_asked(first + timedelta(days=i)) for i in range(days))
    running: list[int] = []
    total = 0
    for w in working:
        total += w
        running.append(total)
    return working, tuple(running)


def is_working_day(day: date) -> bool:
    return _year(day.year)[0][day.timetuple().tm_yday - 1]


def _through(day: date) -> int:
    """Working days from 1 January of ``day``'s year up to and including ``day``."""
    return _year(day.year)[1][day.timetuple().tm_yday - 1]


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` official working days after ``start``."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end``."""
    if end <= start:
        return 0
    count = _through(end) - _through(start)
    for year in range(start.year, end.year):
        count += _year(year)[1][-1]
    return count
