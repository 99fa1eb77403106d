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
