"""The entitlement adapter (rules engine behind it) against the worked examples of
programs.md §5, with subjects given as registry-view mappings."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from huimin.programs.entitlement import evaluate_mapping, review_chain

AREA = "445224100201"


def child(born: date, died: date | None = None) -> dict[str, Any]:
    return {"person_id": "c1", "birth_date": born, "death_date": died,
            "hukou_area_code": AREA, "hukou_type": "rural", "sex": "F", "birth_order": 1,
            "parent1_hukou_area_code": AREA}


def ev(born: date, year: int, today: date | None = None, died: date | None = None):  # type: ignore[no-untyped-def]
    claimed = today or date(year, 6, 1)
    return evaluate_mapping("childcare-subsidy", {**child(born, died), "claim_date": claimed},
                            year, claimed)


def test_born_2023_12_is_24_months_7200_split_over_two_years() -> None:
    a, b, c = (ev(date(2023, 12, 10), y) for y in (2025, 2026, 2027))
    assert (a.months, a.amount_fen) == (12, 360000)
    assert (b.months, b.amount_fen) == (12, 360000)
    assert not c.eligible and c.amount_fen == 0
    assert "12 个月 × 300" in a.breakdown


def test_born_2024_12_31_is_36_months_10800() -> None:
    total = sum(ev(date(2024, 12, 31), y).amount_fen for y in (2025, 2026, 2027))
    assert total == 1080000


def test_born_2025_gets_three_annual_claims() -> None:
    amounts = [ev(date(2025, 1, 5), y).amount_fen for y in (2025, 2026, 2027)]
    assert amounts == [360000, 360000, 360000]


def test_unclaimed_year_is_forfeited() -> None:
    late = ev(date(2023, 12, 10), 2025, today=date(2026, 3, 1))
    assert not late.eligible
    assert [c.code for c in late.failing] == ["claimed_in_time"]
    assert ev(date(2023, 12, 10), 2026, today=date(2026, 3, 1)).amount_fen == 360000


@pytest.mark.parametrize("born", [date(2021, 12, 31), date(2019, 5, 5)])
def test_born_before_2022_not_covered(born: date) -> None:
    result = ev(born, 2025)
    assert not result.eligible and result.amount_fen == 0
    assert "born_in_scope" in [c.code for c in result.failing]


def test_rural_reward_couple_each_960() -> None:
    base = {"hukou_area_code": AREA, "hukou_type": "rural", "policy_status_confirmed": True,
            "children_count": 1, "daughters_count": 0, "living_children_count": 1}
    husband = evaluate_mapping("rural-reward", {**base, "person_id": "h", "sex": "M",
                                                "birth_date": date(1964, 2, 1)},
                               2026, date(2026, 6, 1))
    wife = evaluate_mapping("rural-reward", {**base, "person_id": "w", "sex": "F",
                                             "birth_date": date(1966, 2, 1)},
                            2026, date(2026, 6, 1))
    assert (husband.amount_fen, wife.amount_fen) == (96000, 96000)
    assert husband.to_dict()["criteria"][0].keys() == {"code", "label", "passed", "detail"}


def test_review_chains_come_from_the_program_documents() -> None:
    childcare = review_chain("childcare-subsidy", AREA, 2026, date(2026, 6, 1))
    assert [(lv.level, lv.posting) for lv in childcare] == [("township", False),
                                                            ("county", False)]
    rural = review_chain("rural-reward", AREA, 2026, date(2026, 6, 1))
    assert [lv.role for lv in rural] == ["village_cadre", "township_reviewer",
                                         "county_approver"]
    assert all(lv.posting and lv.posting_days > 0 for lv in rural)
