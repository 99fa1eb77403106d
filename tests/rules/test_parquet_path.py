"""The streaming DuckDB path for Parquet registries (``engines.eval_duckdb_parquet``): the
same values as the other engines and the single-subject path, reasons read back as text,
bad rows refused at the first one with no output left."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from huimin.rules import Catalog, InputError, ProgramNotFound, engines, io
from huimin.rules.compile import MAX_LOOKUP_MONTHS, reason_texts

from .test_differential import DATA, PROGRAM_YEARS, expected, random_registry

# A local scheme whose months reach past the precomputed texts (0..MAX_LOOKUP_MONTHS), so
# some eligible rows need their reasons built per row.
LONG_SCHEME = """\
id: test-long-months
version: "2025.1"
names: {zh: 测试长期补贴, en: Test long-months grant}
basis: test fixture
subject: child
effective: {from: 2021-01-01}
area: {level: prefecture, code: "4452", name_zh: 测试市}
attaches_to: childcare-subsidy
stacking: {group: childcare, rule: higher-pays}
enrolment: application
claim_calendar: {claims_per_year: 1, first_claim_zh: 按年申领}
payment: {frequency: yearly}
review_chain:
  - {level: county, role: county_approver, posting: false, deadline_working_days: 30}
public_notice: false
params:
  monthly_rate_yuan: "12.50"
criteria:
  - code: has_order
    label_zh: 孩次已登记
    label_en: Birth order recorded
    when: birth_order >= 1
    fail_zh: 未登记孩次
amount:
  months: birth_order * 25
  monthly_fen: monthly_rate_fen
"""


@pytest.fixture(scope="module")
def long_catalog(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    d = tmp_path_factory.mktemp("docs")
    (d / "test-long-months.yaml").write_text(LONG_SCHEME, encoding="utf-8")
    return catalog.overlay([d])


def write_registry(rows: list[dict[str, object]], path: Path) -> Path:
    pq.write_table(io.registry_table(rows).drop_columns(["_row"]), path)
    return path


def in_output_layout(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [{"person_id": r["person_id"], "eligible": r["eligible"], "months": r["months"],
            "amount_yuan": (Decimal(r["amount_fen"]) / 100).quantize(Decimal("0.01")),
            "reasons": r["reasons"], "rule_version": r["rule_version"]} for r in rows]
    return sorted(out, key=lambda r: str(r["person_id"]))


def parquet_rows(path: Path) -> list[dict[str, Any]]:
    return sorted(pq.read_table(path).to_pylist(), key=lambda r: str(r["person_id"]))


def run_parquet(program: Any, year: int, src: Path, out: Path) -> list[dict[str, Any]]:
    assert engines.eval_duckdb_parquet(program, year, src, out) == pq.read_metadata(
        src).num_rows
    return parquet_rows(out)


def test_parquet_path_agrees_with_the_other_engines(catalog: Catalog, long_catalog: Catalog,
                                                    tmp_path: Path) -> None:
    rows = random_registry(1200, seed=5)
    src = write_registry(rows, tmp_path / "registry.parquet")
    table = io.registry_table(rows)
    checked = 0
    for cat in (catalog, catalog.overlay([DATA]), long_catalog):
        for pid, year in PROGRAM_YEARS:
            try:
                program = cat.for_year(pid, year)
            except ProgramNotFound:
                continue
            want = in_output_layout(expected(program, year, rows))
            got = run_parquet(program, year, src, tmp_path / "out.parquet")
            assert got == want, (pid, year)
            sqlite = in_output_layout(engines.run("sqlite", program, year, table).to_pylist())
            assert got == sqlite, (pid, year)
            checked += 1
    assert checked >= 2 * len(PROGRAM_YEARS)


def test_months_outside_the_precomputed_texts(long_catalog: Catalog, tmp_path: Path) -> None:
    program = long_catalog.for_year("childcare-subsidy", 2025)
    assert reason_texts(program, 2025) is not None  # the ENUM path is tried first
    rows = random_registry(800, seed=9)
    want = in_output_layout(expected(program, 2025, rows))
    long_rows = [r for r in want if r["rule_version"] == "test-long-months@2025.1"
                 and r["eligible"] and int(r["months"]) > MAX_LOOKUP_MONTHS]
    assert long_rows, "the registry must reach the texts built per row"
    src = write_registry(rows, tmp_path / "registry.parquet")
    assert run_parquet(program, 2025, src, tmp_path / "out.parquet") == want
    # CSV output takes the same way round
    out_csv = tmp_path / "out.csv"
    engines.eval_duckdb_parquet(program, 2025, src, out_csv)
    with out_csv.open(encoding="utf-8") as fh:
        got_csv = sorted(csv.DictReader(fh), key=lambda r: r["person_id"])
    assert [(r["person_id"], r["amount_yuan"], r["reasons"], r["rule_version"])
            for r in got_csv] == [(r["person_id"], f"{r['amount_yuan']:.2f}", r["reasons"],
                                   r["rule_version"]) for r in want]
    # without those rows every text comes from the precomputed table
    short = [r for r in rows if not any(r["person_id"] == x["person_id"] for x in long_rows)]
    src2 = write_registry(short, tmp_path / "short.parquet")
    assert run_parquet(program, 2025, src2, tmp_path / "out2.parquet") == in_output_layout(
        expected(program, 2025, short))


def test_reasons_read_back_as_dictionary_encoded_text(catalog: Catalog, tmp_path: Path) -> None:
    program = catalog.for_year("childcare-subsidy", 2025)
    src = write_registry(random_registry(3000, seed=2), tmp_path / "registry.parquet")
    out = tmp_path / "out.parquet"
    engines.eval_duckdb_parquet(program, 2025, src, out)
    schema = pq.read_schema(out)
    assert schema.names == ["person_id", "eligible", "months", "amount_yuan", "reasons",
                            "rule_version"]
    assert schema.field("reasons").type == pa.string()
    assert schema.field("rule_version").type == pa.string()
    assert schema.field("amount_yuan").type == pa.decimal128(18, 2)
    table = pq.read_table(out)
    assert all(isinstance(v, str) and v for v in table.column("reasons").to_pylist())
    assert set(table.column("rule_version").to_pylist()) <= {
        "childcare-subsidy", *(c.doc.rule_version for c in program.components)}
    meta = pq.read_metadata(out)
    for g in range(meta.num_row_groups):
        for name in ("reasons", "rule_version"):
            assert meta.row_group(g).column(schema.names.index(name)).has_dictionary_page
    con = duckdb.connect()
    types = con.execute("SELECT DISTINCT typeof(reasons), typeof(rule_version) FROM "
                        "read_parquet(?)", [str(out)]).fetchall()
    assert types == [("VARCHAR", "VARCHAR")]


def test_blank_codes_read_as_missing(catalog: Catalog, tmp_path: Path) -> None:
    # a blank parent code means no code: where a column holds none, the query reads it as
    # it is; where it holds one, as NULL — the same results either way
    program = catalog.overlay([DATA]).for_year("childcare-subsidy", 2025)
    rows = random_registry(1500, seed=11)
    table = io.registry_table(rows).drop_columns(["_row"])
    assert table.column("parent2_hukou_area_code").null_count > 0
    src = tmp_path / "nulls.parquet"
    pq.write_table(table, src)
    blank = tmp_path / "blanks.parquet"
    col = table.schema.get_field_index("parent2_hukou_area_code")
    pq.write_table(table.set_column(col, "parent2_hukou_area_code",
                                    table.column(col).fill_null("")), blank)
    want = in_output_layout(expected(program, 2025, rows))
    assert run_parquet(program, 2025, src, tmp_path / "a.parquet") == want
    assert run_parquet(program, 2025, blank, tmp_path / "b.parquet") == want


def _base_rows(n: int) -> list[dict[str, object]]:
    return [{"person_id": f"k{i}", "birth_date": "2024-01-01", "hukou_area_code": "445224100201",
             "hukou_type": "rural", "parent1_hukou_area_code": "445224100201"}
            for i in range(n)]


@pytest.mark.parametrize(("bad", "row", "column", "reason"), [
    # per-value checks (digits, choices) and row checks; the first refused row is reported
    ({40: ("parent1_hukou_area_code", "44522410020X"), 7: ("person_id", "")},
     8, "person_id", "a value is required"),
    ({12: ("hukou_type", "城镇"), 30: ("hukou_area_code", "4452241002")},
     13, "hukou_type", "not one of rural, urban"),
    ({99: ("hukou_area_code", "44522410020１"), 120: ("hukou_type", "rural ")},
     100, "hukou_area_code", "not a 12-digit code"),
    ({3: ("parent1_hukou_area_code", "4452241002011")},
     4, "parent1_hukou_area_code", "not a 12-digit code"),
])
def test_bad_rows_are_refused_at_the_first_one(catalog: Catalog, tmp_path: Path,
                                               bad: dict[int, tuple[str, str]], row: int,
                                               column: str, reason: str) -> None:
    rows = _base_rows(200)
    for i, (name, value) in bad.items():
        rows[i][name] = value
    table = pa.table({k: [r[k] for r in rows] for k in rows[0]})
    table = table.set_column(1, "birth_date", table.column("birth_date").cast(pa.date32()))
    src = tmp_path / "bad.parquet"
    pq.write_table(table, src)
    for out in (tmp_path / "out.parquet", tmp_path / "out.csv"):
        with pytest.raises(InputError) as err:
            engines.eval_duckdb_parquet(catalog.for_year("childcare-subsidy", 2025), 2025, src,
                                        out)
        assert (err.value.file, err.value.row, err.value.column, err.value.reason) == (
            str(src), row, column, reason)
        assert not out.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}")]
