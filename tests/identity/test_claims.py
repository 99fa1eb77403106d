"""Duplicate claims in a snapshot: two counties, two claimants; another schema is refused."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from huimin.identity.match import MatchInputError, claims


def test_national_check_names_each_kind(tmp_path: Path) -> None:
    path = tmp_path / "claims.parquet"
    pq.write_table(pa.table({
        "person_key": pa.array([1, 1, 2, 2, 3, 4, 4], pa.int64()),
        "hukou_area_code": ["445224100201", "440524101001", "445224100201", "445224100201",
                            "445224100201", "445224100201", "445224100202"],
        "claimant_key": pa.array([10, 11, 20, 21, 30, 40, 40], pa.int64()),
    }), path)
    con = duckdb.connect()
    assert claims.national(con, [path]) == 3
    found = {r[0]: (r[1], r[2]) for r in con.execute(
        "SELECT person_key, kind, claims FROM dup_claims").fetchall()}
    assert found == {1: ("two_counties", 2), 2: ("two_claimants", 2), 4: ("repeated", 2)}


def test_another_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "persons.parquet"
    pq.write_table(pa.table({"person_id": [1], "name": ["x"]}), path)
    with pytest.raises(MatchInputError, match="快照格式不符，缺少列 person_key"):
        claims.national(duckdb.connect(), [path])
    bad_type = tmp_path / "typed.parquet"
    pq.write_table(pa.table({"person_key": ["a"], "hukou_area_code": ["445224100201"]}),
                   bad_type)
    with pytest.raises(MatchInputError, match="列 person_key 的类型是 VARCHAR"):
        claims.national(duckdb.connect(), [bad_type])


GROUPS = {"childcare-subsidy": "childcare", "hohhot-birth-grant": "childcare"}


def test_programmes_that_stack_are_no_duplicate_and_one_group_is(tmp_path: Path) -> None:
    here = "445224100201"
    rows = [  # person, claimant, programme
        (5, 50, "rural-reward"), (5, 50, "special-assistance"),  # they stack
        (6, 60, "childcare-subsidy"), (6, 60, "hohhot-birth-grant"),  # only the higher pays
        (7, 70, "childcare-subsidy"), (7, 71, "childcare-subsidy"),  # both parents
        (8, 80, "childcare-subsidy"), (8, 80, "rural-reward"),  # different slots
        (9, 90, "special-assistance"), (9, 90, "special-assistance"),  # again
    ]
    path = tmp_path / "claims.parquet"
    pq.write_table(pa.table({
        "person_key": pa.array([r[0] for r in rows], pa.int64()),
        "hukou_area_code": [here] * len(rows),
        "claimant_key": pa.array([r[1] for r in rows], pa.int64()),
        "program_id": [r[2] for r in rows]}), path)
    con = duckdb.connect()
    assert claims.national(con, [path], groups=GROUPS) == 3
    found = dict(con.execute("SELECT person_key, kind FROM dup_claims").fetchall())
    assert found == {6: "two_programs", 7: "two_claimants", 9: "repeated"}
    # without the groups every programme is its own slot: 6 is then no duplicate
    assert claims.national(con, [path]) == 2


def test_the_rules_say_which_programmes_do_not_stack() -> None:
    from huimin.rules.catalog import load_programs

    groups = load_programs().exclusive_groups()
    assert groups["childcare-subsidy"] == groups["hohhot-birth-grant"] == "childcare"
    assert "rural-reward" not in groups and "special-assistance" not in groups


def test_the_county_rows_carry_claimant_and_programme_against_a_bare_snapshot(
        tmp_path: Path) -> None:
    path = tmp_path / "national.parquet"
    pq.write_table(pa.table({"person_key": pa.array([1, 3], pa.int64()),
                             "hukou_area_code": ["440524101001", "445224100201"]}), path)
    con = duckdb.connect()
    con.register("local", pa.table({
        "person_key": pa.array([1, 2, 2, 3], pa.int64()),
        "hukou_area_code": ["445224100201"] * 4,
        "claimant_key": pa.array([10, 20, 20, 30], pa.int64()),
        "program_id": ["childcare-subsidy", "childcare-subsidy", "hohhot-birth-grant",
                       "rural-reward"]}))
    assert claims.against(con, [path], "445224", "local", groups=GROUPS) == 2
    found = dict(con.execute("SELECT person_key, kind FROM dup_claims").fetchall())
    # 1: claimed in another county; 2: two programmes of which only the higher pays;
    # 3: the snapshot's row of this county is the county's own claim, not a second one
    assert found == {1: "two_counties", 2: "two_programs"}
