"""The Django-free matcher: GB 11643 knowledge, names, bad input, and quality on a damaged
set the project generates (seed 3; the model was trained on seed 1)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from huimin.cli import app
from huimin.identity.match import MatchInputError, damage, pairs, prepare
from huimin.identity.match.names import fold, pinyin
from huimin.lib import idnumber

ID_A = idnumber.make("445224", date(1985, 3, 7), 123)
ID_B = idnumber.make("445224", date(1985, 3, 7), 125)  # a twin: another valid number


def _table(rows: list[dict[str, object]]) -> pa.Table:
    return pa.table({
        "person_id": pa.array([r["person_id"] for r in rows], pa.int64()),
        "name": [r["name"] for r in rows],
        "id_number": [r["id_number"] for r in rows],
        "sex": [r.get("sex", "M") for r in rows],
        "birth_date": pa.array([r.get("birth_date", date(1985, 3, 7)) for r in rows],
                               pa.date32()),
        "hukou_area_code": [r.get("area", "445224100201") for r in rows],
    })


def _score(rows: list[dict[str, object]], threshold: float = 0.0) -> dict[tuple[int, int],
                                                                           dict[str, object]]:
    con = duckdb.connect()
    # a register of realistic size around the rows, so that the prior is a county's
    base = damage.build(3000, seed=5, dup_share=0, twin_share=0).table
    prepare.load_arrow(con, pa.concat_tables([base, _pad(base, rows)]), "people")
    pairs.score(con, ["people"], threshold)
    return {(r["person_id_a"], r["person_id_b"]): r for r in pairs.rows(con)}


def _pad(base: pa.Table, rows: list[dict[str, object]]) -> pa.Table:
    t = _table(rows)
    n = t.num_rows
    return pa.table({
        "person_id": t["person_id"], "household_number": pa.array(["x"] * n),
        "name": t["name"], "id_number": t["id_number"], "sex": t["sex"],
        "birth_date": t["birth_date"], "death_date": pa.nulls(n, pa.date32()),
        "hukou_area_code": t["hukou_area_code"], "hukou_type": pa.array(["rural"] * n),
    }).cast(base.schema)


def test_names_fold_variants_and_share_homophones() -> None:
    assert fold(" 王 華 ") == "王华"
    assert pinyin("王伟") == pinyin("汪玮") == "wang wei"


def test_two_valid_numbers_that_differ_are_two_people_and_a_bad_check_is_a_typo() -> None:
    typo = ID_A[:10] + ID_A[11] + ID_A[10] + ID_A[12:]  # two digits transposed
    assert typo != ID_A
    found = _score([
        {"person_id": 900001, "name": "林建伟", "id_number": ID_A},
        {"person_id": 900002, "name": "林建玮", "id_number": ID_B},  # twin, homophone name
        {"person_id": 900003, "name": "林建玮", "id_number": typo},  # the first, mistyped
        {"person_id": 900004, "name": "林建偉", "id_number": ID_A[:6] + ID_A[8:17]},  # old 15
    ])
    twin = found[(900001, 900002)]
    assert twin["id_level"] == "two_valid" and twin["match_probability"] < 0.5
    mistyped = found[(900001, 900003)]
    assert mistyped["id_level"] == "typo" and mistyped["name_level"] == "homophone"
    assert mistyped["match_probability"] >= 0.9
    old = found[(900001, 900004)]
    assert old["id_level"] == "exact" and old["name_level"] == "exact"  # 偉 folds to 伟
    assert old["match_probability"] >= 0.99
    assert old["id_weight"] > 0 > twin["id_weight"]


def test_quality_on_the_damaged_set() -> None:
    ts = damage.build(20000, seed=3)
    con = duckdb.connect()
    prepare.load_arrow(con, ts.table, "people")
    pairs.score(con, ["people"], 0.9)
    got = {(r["person_id_a"], r["person_id_b"]) for r in pairs.rows(con)}
    tp = len(got & ts.truth)
    assert tp / len(got) >= 0.98, (tp, len(got))
    assert tp / len(ts.truth) >= 0.95, (tp, len(ts.truth))


def _write(tmp_path: Path, table: pa.Table, name: str = "persons.parquet") -> Path:
    path = tmp_path / name
    pq.write_table(table, path)
    return path


def test_cli_writes_the_pairs_with_their_levels(tmp_path: Path) -> None:
    ts = damage.build(2000, seed=4)
    src, out = _write(tmp_path, ts.table), tmp_path / "pairs.csv"
    res = CliRunner().invoke(app, ["registry", "duplicates", "--input", str(src),
                                   "--output", str(out), "--threshold", "0.9"])
    assert res.exit_code == 0, res.output
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(pairs.CSV_COLUMNS)
    assert all(int(r["person_id_a"]) < int(r["person_id_b"]) for r in rows)
    assert all(float(r["match_probability"]) >= 0.9 for r in rows)
    found = {(int(r["person_id_a"]), int(r["person_id_b"])) for r in rows}
    assert len(found & ts.truth) >= 0.95 * len(ts.truth)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda t: t.drop(["birth_date"]), "缺少列 birth_date"),
    (lambda t: t.slice(0, 0), "登记册为空"),
    (lambda t: t.set_column(3, "id_number", pa.array(
        ["44522419850307A23", *t["id_number"].to_pylist()[1:]])),
     "第 1 行（person_id 1）：身份证号码无法识别"),
    (lambda t: t.set_column(0, "person_id", pa.array([2, *t["person_id"].to_pylist()[1:]],
                                                     pa.int64())), "person_id 2 出现不止一次"),
])
def test_cli_refuses_bad_input_with_the_reason_and_leaves_no_output(
        tmp_path: Path, mutate: object, message: str) -> None:
    table = damage.build(200, seed=4).table
    src = _write(tmp_path, mutate(table))  # type: ignore[operator]
    out = tmp_path / "pairs.csv"
    res = CliRunner().invoke(app, ["registry", "duplicates", "--input", str(src),
                                   "--output", str(out)])
    assert res.exit_code == 2
    assert message in res.output.replace("\n", "")
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "persons.parquet"
    src.write_text("not parquet")
    with pytest.raises(MatchInputError, match="不是可读的 Parquet"):
        prepare.load(duckdb.connect(), src)
    res = CliRunner().invoke(app, ["registry", "duplicates", "--input", str(src),
                                   "--output", str(tmp_path / "o.csv"), "--threshold", "0"])
    assert res.exit_code == 2 and "--threshold" in res.output


def test_no_disagreement_level_of_the_stored_model_counts_for_a_match() -> None:
    """A level that says the records differ (different counties, two valid numbers, …) must
    weigh against a match: trained on a register of one county, 不同县 once had u at the
    floor and so a Bayes factor of 1000 *for* a match."""
    from huimin.identity.match.model import stored

    against = {"All other comparisons", "two_valid"}
    for comp in stored()["splink"]["comparisons"]:
        for level in comp["comparison_levels"]:
            if level.get("label_for_charts") in against:
                factor = level["m_probability"] / level["u_probability"]
                assert factor < 0.01, (comp["output_column_name"], level["label_for_charts"],
                                       factor)
