"""Differential tests: every engine gives the single-subject path's results, on generated
registries (hypothesis) covering boundaries of every criterion, area variants and stacking."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huimin.rules import Catalog, ProgramNotFound, engines, io

DATA = Path(__file__).parent / "data"
AREAS = ["445224100201", "445224110202", "510402001001", "510411101201", "510000000000",
         "150102001001", "150105201202", "110105001001"]
BOUNDARY_DATES = [date(1932, 12, 31), date(1933, 1, 1), date(1965, 1, 1), date(1976, 12, 31),
                  date(2021, 6, 12), date(2021, 12, 31), date(2022, 1, 1), date(2023, 12, 10),
                  date(2024, 12, 31), date(2025, 1, 1), date(2025, 2, 28), date(2025, 3, 1),
                  date(2026, 1, 1), date(2027, 12, 31)]
PROGRAM_YEARS = [("childcare-subsidy", y) for y in (2025, 2026, 2027, 2028)] + [
    ("rural-reward", y) for y in (2011, 2024, 2025)] + [("special-assistance", 2025)]


def _dates(lo: date, hi: date) -> st.SearchStrategy[date]:
    return st.one_of(st.sampled_from([d for d in BOUNDARY_DATES if lo <= d <= hi]),
                     st.dates(min_value=lo, max_value=hi))


def _opt(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), s)


subjects = st.fixed_dictionaries({
    "birth_date": _dates(date(1925, 1, 1), date(2028, 12, 31)),
    "death_date": _opt(_dates(date(2010, 1, 1), date(2029, 12, 31))),
    "hukou_area_code": st.sampled_from(AREAS),
    "hukou_type": st.sampled_from(["rural", "urban"]),
    "sex": _opt(st.sampled_from(["F", "M"])),
    "birth_order": _opt(st.integers(0, 5)),
    "parent1_hukou_area_code": _opt(st.sampled_from(AREAS)),
    "parent2_hukou_area_code": _opt(st.sampled_from(AREAS)),
    "claim_date": _opt(_dates(date(2024, 6, 1), date(2029, 12, 31))),
    "spouse_birth_date": _opt(_dates(date(1925, 1, 1), date(1990, 12, 31))),
    "policy_status_confirmed": _opt(st.booleans()),
    "children_count": _opt(st.integers(0, 3)),
    "daughters_count": _opt(st.integers(0, 3)),
    "living_children_count": _opt(st.integers(0, 3)),
    "child_disability_grade": _opt(st.integers(0, 5)),
})
registries = st.lists(subjects, min_size=1, max_size=25).map(
    lambda rows: [{"person_id": f"s{i}", **r} for i, r in enumerate(rows)])


@pytest.fixture(scope="module")
def catalogs(catalog: Catalog) -> list[Catalog]:
    return [catalog, catalog.overlay([DATA])]


def expected(program: Any, year: int, rows: list[dict[str, object]]) -> list[dict[str, object]]:
    out = []
    for r in rows:
        ev = program.evaluate(r, year)
        out.append({"person_id": ev.person_id, "eligible": ev.eligible, "months": ev.months,
                    "amount_fen": ev.amount_fen, "reasons": ev.reasons,
                    "rule_version": ev.rule_version})
    return out


def _check(engine: str, catalogs: list[Catalog], rows: list[dict[str, object]],
           program_years: list[tuple[str, int]] = PROGRAM_YEARS, **kw: Any) -> int:
    table = io.registry_table(rows)
    checked = 0
    for cat in catalogs:
        for pid, year in program_years:
            try:
                program = cat.for_year(pid, year)
            except ProgramNotFound:
                continue
            got = engines.run(engine, program, year, table, **kw).to_pylist()  # type: ignore[arg-type]
            assert got == expected(program, year, rows), (engine, pid, year)
            checked += 1
    return checked


def _settings(n: int) -> Any:
    return settings(max_examples=n, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@_settings(25)
@given(rows=registries)
def test_sqlite_agrees_with_python(catalogs: list[Catalog], rows: list[dict[str, object]]) -> None:
    assert _check("sqlite", catalogs, rows) > 0


@_settings(15)
@given(rows=registries)
def test_duckdb_agrees_with_python(catalogs: list[Catalog], rows: list[dict[str, object]]) -> None:
    assert _check("duckdb", catalogs, rows) > 0


@_settings(10)
@given(rows=registries)
def test_postgres_agrees_with_python(catalogs: list[Catalog], pg_url: str,
                                     rows: list[dict[str, object]]) -> None:
    assert _check("postgres", catalogs, rows, database_url=pg_url) > 0


def random_registry(n: int, seed: int) -> list[dict[str, object]]:
    """A larger registry from the same domains, for the slow engine (one run each)."""
    rnd = random.Random(seed)

    def d(lo: date, hi: date) -> date:
        if rnd.random() < 0.3:
            return rnd.choice([x for x in BOUNDARY_DATES if lo <= x <= hi])
        return lo + timedelta(days=rnd.randrange((hi - lo).days + 1))

    def opt(v: object) -> object:
        return None if rnd.random() < 0.2 else v

    return [{
        "person_id": f"r{i}", "birth_date": d(date(1925, 1, 1), date(2028, 12, 31)),
        "death_date": opt(d(date(2010, 1, 1), date(2029, 12, 31))) if rnd.random() < 0.2
        else None,
        "hukou_area_code": rnd.choice(AREAS), "hukou_type": rnd.choice(["rural", "urban"]),
        "sex": opt(rnd.choice(["F", "M"])), "birth_order": opt(rnd.randint(0, 5)),
        "parent1_hukou_area_code": opt(rnd.choice(AREAS)),
        "parent2_hukou_area_code": opt(rnd.choice(AREAS)),
        "claim_date": opt(d(date(2024, 6, 1), date(2029, 12, 31))),
        "spouse_birth_date": opt(d(date(1925, 1, 1), date(1990, 12, 31))),
        "policy_status_confirmed": opt(rnd.random() < 0.8),
        "children_count": opt(rnd.randint(0, 3)), "daughters_count": opt(rnd.randint(0, 3)),
        "living_children_count": opt(rnd.randint(0, 3)),
        "child_disability_grade": opt(rnd.randint(0, 5)),
    } for i in range(n)]


@pytest.mark.parametrize("mode", ["local", "cluster"])
def test_spark_agrees_with_python(catalogs: list[Catalog], mode: str,
                                  request: pytest.FixtureRequest) -> None:
    session = request.getfixturevalue("spark" if mode == "local" else "spark_cluster")
    rows = random_registry(400, seed=3)
    subset = [("childcare-subsidy", 2025), ("childcare-subsidy", 2026), ("rural-reward", 2025),
              ("special-assistance", 2025)]
    assert _check("spark", catalogs[1:], rows, subset, spark=session) == 4


def test_sqlite_and_duckdb_on_a_larger_registry(catalogs: list[Catalog]) -> None:
    rows = random_registry(1500, seed=11)
    assert _check("sqlite", catalogs, rows) == _check("duckdb", catalogs, rows) > 0
    # the generated registry reaches every program, local scheme and area variant
    table = io.registry_table(rows)
    versions: set[str] = set()
    for pid, year in PROGRAM_YEARS:
        got = engines.run("duckdb", catalogs[1].for_year(pid, year), year, table).to_pylist()
        versions |= {str(r["rule_version"]) for r in got if r["eligible"]}
    assert {"childcare-subsidy@2025.1", "panzhihua-childcare@2021.1",
            "hohhot-birth-grant@2025.1", "rural-reward@2004.1", "rural-reward@2012.1",
            "rural-reward@2024.1-sc", "rural-reward@2025.1-pzh-east",
            "special-assistance@2014.1"} <= versions
