"""The ``huimin rules`` commands: the documented contract, and bad input refused whole."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from huimin.rules.cli import app

DATA = Path(__file__).parent / "data"
HEADER = ("person_id,birth_date,death_date,hukou_area_code,hukou_type,birth_order,"
          "parent1_hukou_area_code,parent2_hukou_area_code,claim_date")
ROWS = [
    "c1,2023-12-10,,445224100201,rural,1,,,",
    "c2,2024-12-31,,445224100201,urban,2,,,",
    "c3,2021-05-01,,445224100201,urban,1,,,",
    "c4,2023-12-10,,445224100201,rural,1,,,2026-03-01",
    "p1,2024-05-01,,510402001001,urban,2,510402001001,510402001002,",
]
runner = CliRunner()


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def read_out(path: Path) -> list[dict[str, str]]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    return [{k: _s(v) for k, v in r.items()} for r in pq.read_table(path).to_pylist()]


def _s(v: object) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def invoke(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_eval_csv_on_sqlite(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "children.csv", ROWS)
    out = tmp_path / "out.csv"
    code, _, err = invoke("eval", "--program", "childcare-subsidy", "--year", "2025",
                          "--input", str(src), "--output", str(out), "--engine", "sqlite")
    assert code == 0, err
    rows = read_out(out)
    assert list(rows[0])[:5] == ["person_id", "eligible", "months", "amount_yuan", "reasons"]
    got = {r["person_id"]: (r["eligible"], r["months"], r["amount_yuan"]) for r in rows}
    assert got == {"c1": ("true", "12", "3600.00"), "c2": ("true", "12", "3600.00"),
                   "c3": ("false", "0", "0.00"), "c4": ("false", "0", "0.00"),
                   "p1": ("true", "12", "6000.00")}


@pytest.mark.parametrize(("engine", "suffix_in", "suffix_out"), [
    ("duckdb", ".csv", ".parquet"), ("duckdb", ".parquet", ".parquet"),
    ("duckdb", ".parquet", ".csv"), ("postgres", ".parquet", ".csv")])
def test_eval_engines_and_formats_agree(tmp_path: Path, engine: str, suffix_in: str,
                                        suffix_out: str, request: pytest.FixtureRequest) -> None:
    extra: list[str] = []
    if engine == "postgres":
        extra = ["--database-url", request.getfixturevalue("pg_url")]
    src = write_csv(tmp_path / "children.csv", ROWS)
    ref = tmp_path / "ref.csv"
    assert invoke("eval", "--program", "childcare-subsidy", "--year", "2025", "--input",
                  str(src), "--output", str(ref), "--engine", "sqlite")[0] == 0
    if suffix_in == ".parquet":
        table = pacsv.read_csv(src, convert_options=pacsv.ConvertOptions(column_types={
            "birth_date": pa.date32(), "death_date": pa.date32(), "claim_date": pa.date32(),
            "birth_order": pa.int64(), "hukou_area_code": pa.string(),
            "parent1_hukou_area_code": pa.string(), "parent2_hukou_area_code": pa.string()}))
        src = tmp_path / "children.parquet"
        pq.write_table(table, src)
    out = tmp_path / f"out{suffix_out}"
    code, _, err = invoke("eval", "--program", "childcare-subsidy", "--year", "2025", "--input",
                          str(src), "--output", str(out), "--engine", engine, *extra)
    assert code == 0, err
    assert read_out(out) == read_out(ref)


def _no_output(tmp_path: Path, out: Path) -> None:
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}")]


def test_wrong_date_format_names_file_row_line_column(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "bad.csv", [ROWS[0], "c9,2024/05/01,,445224100201,rural,1,,,"])
    out = tmp_path / "out.csv"
    code, _, err = invoke("eval", "--program", "childcare-subsidy", "--year", "2025",
                          "--input", str(src), "--output", str(out), "--engine", "sqlite")
    assert code == 2
    assert f"{src}: row 2: line 3: column birth_date: '2024/05/01' is not a date" in err
    _no_output(tmp_path, out)


def test_impossible_date_and_bad_code_are_refused(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "bad.csv", ["c9,2023-02-30,,445224100201,rural,1,,,"])
    code, _, err = invoke("eval", "--program", "childcare-subsidy", "--year", "2025",
                          "--input", str(src), "--output", str(tmp_path / "o.csv"))
    assert code == 2 and "row 1: line 2: column birth_date: '2023-02-30' is not a valid" in err
    src = write_csv(tmp_path / "bad2.csv", ["c9,2023-02-03,,4452241002,rural,1,,,"])
    code, _, err = invoke("eval", "--program", "childcare-subsidy", "--year", "2025",
                          "--input", str(src), "--output", str(tmp_path / "o.csv"))
    assert code == 2 and "column hukou_area_code: '4452241002' is not a 12-digit code" in err


def test_missing_required_column_is_refused(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "bad.csv", ["c1,2023-12-10,,445224100201"],
                    header="person_id,birth_date,death_date,hukou_area_code")
    out = tmp_path / "out.parquet"
    code, _, err = invoke("eval", "--program", "childcare-subsidy", "--year", "2025",
                          "--input", str(src), "--output", str(out))
    assert code == 2
    assert f"{src}: line 1: column hukou_type: missing required column 'hukou_type'" in err
    _no_output(tmp_path, out)


def test_parquet_fast_path_refuses_bad_rows_without_output(tmp_path: Path) -> None:
    n = 5000
    table = pa.table({
        "person_id": [f"k{i}" for i in range(n)],
        "birth_date": pa.array([date(2024, 1, 1)] * n, pa.date32()),
        "hukou_area_code": ["445224100201"] * n,
        "hukou_type": ["rural"] * 4321 + ["城镇"] + ["urban"] * (n - 4322),
    })
    src = tmp_path / "big.parquet"
    pq.write_table(table, src)
    out = tmp_path / "out.parquet"
    code, _, err = invoke("eval", "--program", "childcare-subsidy", "--year", "2025",
                          "--input", str(src), "--output", str(out), "--engine", "duckdb")
    assert code == 2
    assert f"{src}: row 4322: column hukou_type: not one of rural, urban" in err
    _no_output(tmp_path, out)


def test_rural_reward_needs_its_family_columns(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "people.csv", ["a,1960-01-01,,445224100201,rural"],
                    header="person_id,birth_date,death_date,hukou_area_code,hukou_type")
    code, _, err = invoke("eval", "--program", "rural-reward", "--year", "2025",
                          "--input", str(src), "--output", str(tmp_path / "o.csv"))
    assert code == 2 and "missing required column 'children_count'" in err


def test_explain_prints_the_trace(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "children.csv", ROWS)
    code, out, err = invoke("explain", "--program", "childcare-subsidy", "--year", "2025",
                            "--person-id", "p1", "--input", str(src))
    assert code == 0, err
    trace = json.loads(out)
    assert trace["rule_version"] == "panzhihua-childcare@2021.1"
    assert trace["amount_yuan"] == "6000.00"
    assert {c["rule_version"]: c["chosen"] for c in trace["components"]} == {
        "childcare-subsidy@2025.1": False, "hohhot-birth-grant@2025.1": False,
        "panzhihua-childcare@2021.1": True}
    assert all(c["passed"] for c in trace["criteria"])
    code, _, err = invoke("explain", "--program", "childcare-subsidy", "--year", "2025",
                          "--person-id", "nobody", "--input", str(src))
    assert code == 2 and "no row with person_id 'nobody'" in err


def test_unknown_program_is_an_error(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "children.csv", ROWS)
    code, _, err = invoke("eval", "--program", "no-such", "--year", "2025", "--input", str(src),
                          "--output", str(tmp_path / "o.csv"))
    assert code == 2 and "no version of 'no-such'" in err


def test_whatif_compares_versions_by_area_and_year(tmp_path: Path) -> None:
    header = ("person_id,birth_date,hukou_area_code,hukou_type,sex,spouse_birth_date,"
              "policy_status_confirmed,children_count,daughters_count,living_children_count")
    rows = ["a,1960-01-01,510411001001,rural,F,1958-01-01,true,1,0,1",
            "b,1958-01-01,510411001001,rural,M,1960-01-01,true,1,0,1",
            "c,1960-01-01,510402001001,rural,F,1958-01-01,true,2,2,2",
            "d,1960-01-01,445224100201,rural,F,1958-01-01,true,1,1,1",
            "e,1970-01-01,445224100201,rural,F,1968-01-01,true,1,1,1"]
    src = write_csv(tmp_path / "people.csv", rows, header=header)
    xlsx = tmp_path / "whatif.xlsx"
    code, out, err = invoke("whatif", "--program", "rural-reward", "--proposal", str(DATA),
                            "--input", str(src), "--years", "2023,2025", "--output", str(xlsx))
    assert code == 0, err
    from openpyxl import load_workbook

    ws = load_workbook(xlsx).active
    assert ws is not None
    table = [[c.value for c in r] for r in ws.iter_rows(min_row=3)]
    by_key = {(r[0], r[1]): r[2:] for r in table}
    # 2025: Sichuan 120/month, 510402 150.50/month, elsewhere the national 80/month
    assert by_key[("510411", 2025)][:4] == [2, 1920, 2, 2880]
    assert by_key[("510402", 2025)][:4] == [1, 960, 1, 1806]
    assert by_key[("445224", 2025)][:4] == [1, 960, 1, 960]
    # 2023: the proposals are not yet in force
    assert by_key[("510411", 2023)][:4] == [2, 1920, 2, 1920]
    assert "510411\t2025\t2\t1920.00\t2\t2880.00\t0\t960.00" in out
