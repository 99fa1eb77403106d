"""Distinct values of a Parquet text column from its dictionary pages
(``huimin.rules.parquet_dict``), and the input checks that use them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from huimin.rules import Catalog, InputError, engines, parquet_dict


def distinct_texts(path: Path, column: str) -> set[str | None] | None:
    return parquet_dict.distinct_texts(path, [column])[column]


CODES = [f"4452241{t:02d}{v:03d}" for t in range(3) for v in (1, 201, 202)]


def _column(n: int, nulls: bool = True) -> list[str | None]:
    return [None if nulls and i % 7 == 3 else CODES[(i * 5) % len(CODES)] for i in range(n)]


@pytest.mark.parametrize("options", [
    {"compression": "zstd"}, {"compression": "snappy"}, {"compression": "gzip"},
    {"compression": "brotli"}, {"compression": "none"},
    {"compression": "zstd", "data_page_version": "2.0"},
    {"compression": "snappy", "data_page_size": 64, "row_group_size": 500},
])
def test_dictionary_values_are_the_column_values(tmp_path: Path, options: dict[str, Any]) -> None:
    values = _column(3000)
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"code": values, "other": list(range(3000))}), path, **options)
    assert distinct_texts(path, "code") == set(values)


def test_all_null_row_groups_and_written_by_duckdb(tmp_path: Path) -> None:
    values = [None] * 500 + _column(500, nulls=False)
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"code": pa.array(values, pa.string())}), path, row_group_size=500)
    assert distinct_texts(path, "code") == set(values)
    out = tmp_path / "d.parquet"
    duckdb.connect().execute(f"COPY (SELECT code FROM read_parquet('{path}')) TO '{out}' "
                             "(FORMAT parquet)")
    assert distinct_texts(out, "code") == set(values)


def test_each_column_has_its_own_answer(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    values = _column(100)
    pq.write_table(pa.table({"code": values, "n": list(range(100))}), path)
    assert parquet_dict.distinct_texts(path, ["code", "n", "absent"]) == {
        "code": set(values), "n": None, "absent": None}


def test_a_dictionary_may_hold_values_no_row_uses(tmp_path: Path) -> None:
    codes = pa.DictionaryArray.from_arrays(pa.array([0, 1, 0, None], pa.int32()),
                                           pa.array([*CODES[:2], "unused"]))
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"code": codes}), path)
    assert distinct_texts(path, "code") == {*CODES[:2], "unused", None}


@pytest.mark.parametrize("case", ["plain", "fallback", "lz4", "not text", "missing",
                                  "not parquet"])
def test_no_answer_where_only_a_scan_can_tell(tmp_path: Path, case: str) -> None:
    path = tmp_path / "c.parquet"
    if case == "plain":
        pq.write_table(pa.table({"code": _column(100)}), path, use_dictionary=False)
    elif case == "fallback":  # the dictionary outgrows its page: later pages are plain
        unique = [f"{i:012d}" for i in range(200_000)]
        pq.write_table(pa.table({"code": unique}), path, dictionary_pagesize_limit=4096)
    elif case == "lz4":  # pyarrow's metadata does not tell its two LZ4 framings apart
        pq.write_table(pa.table({"code": _column(100)}), path, compression="lz4")
    elif case == "not text":
        pq.write_table(pa.table({"code": list(range(100))}), path)
    elif case == "missing":
        pq.write_table(pa.table({"other": _column(100)}), path)
    else:
        path.write_bytes(b"PAR1 not a parquet file PAR1")
    assert distinct_texts(path, "code") is None


def _registry(codes: pa.Array) -> pa.Table:
    n = len(codes)
    return pa.table({
        "person_id": [f"p{i}" for i in range(n)],
        "birth_date": pa.array([19800] * n, pa.int32()).cast(pa.date32()),
        "hukou_area_code": codes, "hukou_type": ["rural"] * n,
        "parent1_hukou_area_code": codes,
    })


def test_checks_on_dictionaries_agree_with_the_scan(catalog: Catalog, tmp_path: Path) -> None:
    program = catalog.for_year("childcare-subsidy", 2025)
    # an invalid code in a dictionary that no row uses does not refuse the file
    codes = pa.DictionaryArray.from_arrays(pa.array([0, 1, 0, 1], pa.int32()),
                                           pa.array([*CODES[:2], "44522410020X"]))
    src = tmp_path / "unused.parquet"
    pq.write_table(_registry(codes), src)
    assert engines.eval_duckdb_parquet(program, 2025, src, tmp_path / "a.parquet") == 4
    # used by a row, it does, at that row
    codes = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2, 1], pa.int32()),
                                           pa.array([*CODES[:2], "44522410020X"]))
    bad = tmp_path / "used.parquet"
    pq.write_table(_registry(codes), bad)
    with pytest.raises(InputError) as err:
        engines.eval_duckdb_parquet(program, 2025, bad, tmp_path / "b.parquet")
    assert (err.value.row, err.value.column) == (3, "hukou_area_code")
    assert "12-digit" in str(err.value)
    assert not (tmp_path / "b.parquet").exists()
