"""Every worked example of programs.md §5, on every engine and the single-subject path."""

from __future__ import annotations

from datetime import date

from huimin.rules import Catalog

from .conftest import Runner

COUNTY_VILLAGE = "445224100201"  # 惠来县, no local scheme


def child(pid: str, born: date, claim: date | None = None) -> dict[str, object]:
    return {"person_id": pid, "birth_date": born, "hukou_area_code": COUNTY_VILLAGE,
            "hukou_type": "rural", "birth_order": 1, "claim_date": claim}


def yearly(run: Runner, catalog: Catalog, subject: dict[str, object],
           years: range) -> dict[int, dict[str, object]]:
    out = {}
    for y in years:
        (row,) = run(catalog.for_year("childcare-subsidy", y), y, [subject])
        out[y] = row
    return out


def test_born_2023_12_gets_24_months_split_3600_3600(run: Runner, catalog: Catalog) -> None:
    res = yearly(run, catalog, child("c1", date(2023, 12, 10)), range(2025, 2029))
    assert [res[y]["amount_fen"] for y in range(2025, 2029)] == [360_000, 360_000, 0, 0]
    assert sum(int(r["months"]) for r in res.values()) == 24  # type: ignore[call-overload]
    assert res[2025]["reasons"] == "育儿补贴：12 个月 × 300 元 = 3600 元"
    assert res[2027]["eligible"] is False
    assert "无应领份额" in str(res[2027]["reasons"])


def test_born_2024_12_31_gets_36_months_over_three_years(run: Runner, catalog: Catalog) -> None:
    res = yearly(run, catalog, child("c2", date(2024, 12, 31)), range(2025, 2029))
    assert [res[y]["months"] for y in range(2025, 2029)] == [12, 12, 12, 0]
    assert sum(int(r["amount_fen"]) for r in res.values()) == 1_080_000  # type: ignore[call-overload]


def test_born_2025_01_05_gets_three_annual_claims(run: Runner, catalog: Catalog) -> None:
    res = yearly(run, catalog, child("c3", date(2025, 1, 5)), range(2025, 2029))
    assert [res[y]["amount_fen"] for y in range(2025, 2029)] == [360_000] * 3 + [0]


def test_partial_months_for_a_birth_in_early_2022(run: Runner, catalog: Catalog) -> None:
    # born 2022-03: months = 12·(2022−2022) + 3 = 3, all in 2025
    res = yearly(run, catalog, child("c5", date(2022, 3, 31)), range(2025, 2027))
    assert res[2025]["months"] == 3 and res[2025]["amount_fen"] == 90_000
    assert res[2025]["reasons"] == "育儿补贴：3 个月 × 300 元 = 900 元"
    assert res[2026]["amount_fen"] == 0


def test_unclaimed_2025_share_is_forfeited_2026_share_payable(run: Runner,
                                                               catalog: Catalog) -> None:
    late = child("c4", date(2023, 12, 10), claim=date(2026, 3, 1))
    (r2025,) = run(catalog.for_year("childcare-subsidy", 2025), 2025, [late])
    (r2026,) = run(catalog.for_year("childcare-subsidy", 2026), 2026, [late])
    assert r2025["eligible"] is False and r2025["amount_fen"] == 0
    assert r2025["reasons"] == "未在该年度内申领，该年度份额已作废"
    assert r2026["eligible"] is True and r2026["amount_fen"] == 360_000


def couple(pid: str, sex: str, born: date, spouse_born: date, hukou: str,
           **family: object) -> dict[str, object]:
    return {"person_id": pid, "sex": sex, "birth_date": born, "spouse_birth_date": spouse_born,
            "hukou_area_code": COUNTY_VILLAGE, "hukou_type": hukou,
            "policy_status_confirmed": True, **family}


def test_rural_reward_couple_60_and_62_one_child(run: Runner, catalog: Catalog) -> None:
    family = {"children_count": 1, "daughters_count": 0, "living_children_count": 1}
    wife = couple("w", "F", date(1965, 3, 1), date(1963, 5, 2), "rural", **family)
    husband = couple("h", "M", date(1963, 5, 2), date(1965, 3, 1), "rural", **family)
    rows = run(catalog.for_year("rural-reward", 2025), 2025, [wife, husband])
    assert [r["amount_fen"] for r in rows] == [96_000, 96_000]
    assert all(r["eligible"] is True for r in rows)
    assert rows[0]["reasons"] == "农村部分计划生育家庭奖励扶助：12 个月 × 80 元 = 960 元"
    assert rows[0]["rule_version"] == "rural-reward@2012.1"


def test_rural_reward_uses_the_version_in_force(run: Runner, catalog: Catalog) -> None:
    family = {"children_count": 2, "daughters_count": 2, "living_children_count": 2}
    wife = couple("w", "F", date(1945, 3, 1), date(1943, 5, 2), "rural", **family)
    (r2010,) = run(catalog.for_year("rural-reward", 2010), 2010, [wife])
    assert r2010["amount_fen"] == 60_000 and r2010["rule_version"] == "rural-reward@2004.1"


def test_special_assistance_rural_child_died(run: Runner, catalog: Catalog) -> None:
    family = {"children_count": 1, "daughters_count": 0, "living_children_count": 0}
    wife = couple("w", "F", date(1973, 2, 1), date(1970, 6, 1), "rural", **family)
    husband = couple("h", "M", date(1970, 6, 1), date(1973, 2, 1), "rural", **family)
    rows = run(catalog.for_year("special-assistance", 2025), 2025, [wife, husband])
    assert [r["amount_fen"] for r in rows] == [204_000, 204_000]
    assert rows[1]["reasons"] == "计划生育家庭特别扶助：12 个月 × 170 元 = 2040 元"


def test_special_assistance_urban_child_disabled_grade_2(run: Runner, catalog: Catalog) -> None:
    family = {"children_count": 1, "daughters_count": 1, "living_children_count": 1,
              "child_disability_grade": 2}
    wife = couple("w", "F", date(1970, 2, 1), date(1968, 6, 1), "urban", **family)
    husband = couple("h", "M", date(1968, 6, 1), date(1970, 2, 1), "urban", **family)
    rows = run(catalog.for_year("special-assistance", 2025), 2025, [wife, husband])
    assert [r["amount_fen"] for r in rows] == [324_000, 324_000]
    # grade 4 is outside the scheme
    family["child_disability_grade"] = 4
    wife4 = couple("w4", "F", date(1970, 2, 1), date(1968, 6, 1), "urban", **family)
    (r4,) = run(catalog.for_year("special-assistance", 2025), 2025, [wife4])
    assert r4["eligible"] is False
    assert "伤残等级为一至三级" in str(r4["reasons"])


def test_panzhihua_second_child_does_not_stack(run: Runner, catalog: Catalog) -> None:
    base = {"hukou_area_code": "510402001001", "hukou_type": "urban",
            "parent1_hukou_area_code": "510402001001", "parent2_hukou_area_code": "510411001001"}
    second = {"person_id": "p2", "birth_date": date(2024, 5, 1), "birth_order": 2, **base}
    first = {"person_id": "p1", "birth_date": date(2024, 5, 1), "birth_order": 1, **base}
    rows = run(catalog.for_year("childcare-subsidy", 2025), 2025, [second, first])
    assert rows[0]["amount_fen"] == 12 * 50_000
    assert rows[0]["rule_version"] == "panzhihua-childcare@2021.1"
    assert rows[0]["reasons"] == ("攀枝花市育儿补贴金：12 个月 × 500 元 = 6000 元；"
                                  "另符合育儿补贴，不叠加")
    assert rows[1]["amount_fen"] == 360_000  # first child: the national subsidy only
    assert rows[1]["rule_version"] == "childcare-subsidy@2025.1"


def test_hohhot_first_child_once_then_national(run: Runner, catalog: Catalog) -> None:
    kid = {"person_id": "h1", "birth_date": date(2025, 4, 1), "birth_order": 1,
           "hukou_area_code": "150102001001", "hukou_type": "urban",
           "parent1_hukou_area_code": "150102001001"}
    (y1,) = run(catalog.for_year("childcare-subsidy", 2025), 2025, [kid])
    (y2,) = run(catalog.for_year("childcare-subsidy", 2026), 2026, [kid])
    assert y1["amount_fen"] == 1_000_000 and y1["rule_version"] == "hohhot-birth-grant@2025.1"
    assert y2["amount_fen"] == 360_000 and y2["rule_version"] == "childcare-subsidy@2025.1"
