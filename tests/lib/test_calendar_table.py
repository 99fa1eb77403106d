"""The cumulative working-day table answers as asking the calendar day by day would."""

from __future__ import annotations

import random
from datetime import date, timedelta

import chinese_calendar

from huimin.lib.calendar import is_working_day, working_days_between


def _day_by_day(start: date, end: date) -> int:
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        try:
            count += bool(chinese_calendar.is_workday(current))
        except NotImplementedError:
            count += current.weekday() < 5
    return count


def test_between_matches_day_by_day_across_years_and_holidays() -> None:
    rng = random.Random(18)
    pairs = [(date(2025, 9, 30), date(2025, 10, 9)),  # National Day with make-up Saturdays
             (date(2025, 12, 31), date(2026, 1, 5)), (date(1999, 12, 1), date(2031, 2, 1))]
    for _ in range(300):
        start = date(2003, 1, 1) + timedelta(days=rng.randrange(9000))
        pairs.append((start, start + timedelta(days=rng.randrange(-20, 900))))
    for start, end in pairs:
        assert working_days_between(start, end) == _day_by_day(start, end), (start, end)


def test_make_up_saturday_is_a_working_day() -> None:
    assert is_working_day(date(2025, 9, 28))  # a Sunday worked before National Day
    assert not is_working_day(date(2025, 10, 1))
