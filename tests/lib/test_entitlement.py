"""The childcare calculation against the worked examples of programs.md §5."""

from datetime import date

import pytest

from huimin.programs.entitlement import childcare_months, evaluate_childcare


def ev(born: date, year: int, today: date | None = None, died: date | None = None):  # type: ignore[no-untyped-def]
    return evaluate_childcare(birth_date=born, death_date=died, claim_year=year,
                              today=today or date(year, 6, 1))


def test_born_2023_12_is_24_months_7200_split_over_two_years() -> None:
    a, b, c = (ev(date(2023, 12, 10), y) for y in (2025, 2026, 2027))
    assert (a.months, a.amount_fen) == (12, 360000)
    assert (b.months, b.amount_fen) == (12, 360000)
    assert not c.eligible and c.amount_fen == 0
    assert a.amount_fen + b.amount_fen == 720000
    assert a.breakdown == "12 个月 × 300 元"


def test_born_2024_12_31_is_36_months_10800() -> None:
    total = sum(ev(date(2024, 12, 31), y).amount_fen for y in (2025, 2026, 2027))
    assert total == 1080000
    assert sum(childcare_months(date(2024, 12, 31), y) for y in (2025, 2026, 2027)) == 36


def test_born_2025_gets_three_annual_claims() -> None:
    amounts = [ev(date(2025, 1, 5), y).amount_fen for y in (2025, 2026, 2027, 2028)]
    assert amounts == [360000, 360000, 360000, 0]


def test_unclaimed_year_is_forfeited() -> None:
    late = ev(date(2023, 12, 10), 2025, today=date(2026, 3, 1))
    assert not late.eligible
    assert any("逾期" in r for r in late.reasons)
    assert ev(date(2023, 12, 10), 2026, today=date(2026, 3, 1)).amount_fen == 360000


@pytest.mark.parametrize("born", [date(2021, 12, 31), date(2019, 5, 5)])
def test_born_before_2022_not_covered(born: date) -> None:
    result = ev(born, 2025)
    assert not result.eligible
    assert result.amount_fen == 0
    assert any("2022-01-01" in r for r in result.reasons)


def test_died_before_claim_year() -> None:
    result = ev(date(2023, 2, 1), 2026, died=date(2025, 8, 1))
    assert not result.eligible


def test_months_born_2022_03() -> None:
    assert childcare_months(date(2022, 3, 15), 2025) == 3
    assert childcare_months(date(2022, 3, 15), 2026) == 0
