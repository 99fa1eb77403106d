"""The Spark engine's Parquet path (Spark reads, evaluates and writes): same results and
columns as DuckDB's, on a local session and on the standalone test cluster; bad input gives
a clear message and leaves no output behind."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from huimin.rules import Catalog, io
from huimin.rules import spark as spark_engine
from huimin.rules.cli import app
from huimin.rules.engines import eval_duckdb_parquet

from .test_differential import random_registry

YEAR = 2025


def _registry(path: Path, rows: list[dict[str, object]], drop: tuple[str, ...] = ()) -> Path:
    table = io.registry_table(rows).drop_columns(["_row", *drop])
    pq.write_table(table, path)
    return path


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("mode", ["local", "cluster"])
def test_parquet_path_gives_duckdbs_rows_and_columns(catalog: Catalog, tmp_path: Path,
                                                     mode: str,
                                                     request: pytest.FixtureRequest) -> None:
    session = request.getfixturevalue("spark" if mode == "local" else "spark_cluster")
    src = _registry(tmp_path / "children.parquet", random_registry(300, seed=5))
    program = catalog.for_year("childcare-subsidy", YEAR)
    out = tmp_path / "out.parquet"
    totals = spark_engine.evaluate_uri(program, YEAR, str(src), str(out), spark=session)
    eval_duckdb_parquet(program, YEAR, src, tmp_path / "duck.parquet")
    duck = pq.read_table(tmp_path / "duck.parquet").sort_by("person_id")
    got = pq.read_table(out).sort_by("person_id")
    assert got.schema.names == duck.schema.names
    assert [f.type for f in got.schema] == [f.type for f in duck.schema]
    assert got.cast(duck.schema).equals(duck)
    assert totals.rows == 300
    assert totals.eligible == pc.sum(duck["eligible"].cast(pa.int64())).as_py()
    assert totals.amount_fen == int(pc.sum(duck["amount_yuan"]).as_py() * 100)
    assert _leftovers(tmp_path) == []


def test_missing_column_is_named(catalog: Catalog, tmp_path: Path, spark: Any) -> None:
    src = _registry(tmp_path / "in.parquet", random_registry(20, seed=1), drop=("birth_date",))
    out = tmp_path / "out.parquet"
    with pytest.raises(spark_engine.SparkError, match="输入缺少必需的列 birth_date"):
        spark_engine.evaluate_uri(catalog.for_year("childcare-subsidy", YEAR), YEAR,
                                  str(src), str(out), spark=spark)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_unreadable_path_is_refused(catalog: Catalog, tmp_path: Path, spark: Any) -> None:
    out = tmp_path / "out.parquet"
    with pytest.raises(spark_engine.SparkError, match="集群无法读取该输入"):
        spark_engine.evaluate_uri(catalog.for_year("childcare-subsidy", YEAR), YEAR,
                                  str(tmp_path / "absent.parquet"), str(out), spark=spark)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_job_failing_half_way_leaves_nothing(catalog: Catalog, tmp_path: Path,
                                             spark: Any) -> None:
    rows = random_registry(2000, seed=2)
    table = io.registry_table(rows).drop_columns(["_row"])
    # one refused row in the second half: the executors have written part of the output
    # when its task fails
    codes = table["hukou_type"].to_pylist()
    codes[1500] = "nomad"
    table = table.set_column(table.schema.get_field_index("hukou_type"), "hukou_type",
                             pa.array(codes, pa.string()))
    src = tmp_path / "in.parquet"
    pq.write_table(table, src, row_group_size=250)
    out = tmp_path / "out.parquet"
    pid = table["person_id"][1500].as_py()
    with pytest.raises(spark_engine.SparkError,
                       match=f"person_id '{pid}' 的列 hukou_type 不是以下取值之一"):
        spark_engine.evaluate_uri(catalog.for_year("childcare-subsidy", YEAR), YEAR,
                                  str(src), str(out), spark=spark)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_existing_output_is_not_overwritten(catalog: Catalog, tmp_path: Path,
                                            spark: Any) -> None:
    src = _registry(tmp_path / "in.parquet", random_registry(10, seed=4))
    out = tmp_path / "out.parquet"
    out.mkdir()
    with pytest.raises(spark_engine.SparkError, match="输出位置已存在"):
        spark_engine.evaluate_uri(catalog.for_year("childcare-subsidy", YEAR), YEAR,
                                  str(src), str(out), spark=spark)
    assert list(out.iterdir()) == []


def test_unreachable_master_fails_fast_with_exit_2(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    out = tmp_path / "out.parquet"
    t0 = time.monotonic()
    res = CliRunner().invoke(app, [
        "eval", "--program", "childcare-subsidy", "--year", "2025", "--engine", "spark",
        "--input", str(tmp_path / "in.parquet"), "--output", str(out),
        "--spark-master", f"spark://127.0.0.1:{port}"])
    assert res.exit_code == 2
    assert f"无法连接 Spark 主节点 spark://127.0.0.1:{port}" in res.output
    assert time.monotonic() - t0 < 10
    assert not out.exists()


def test_conf_and_properties_are_parsed(tmp_path: Path) -> None:
    props = tmp_path / "spark-defaults.conf"
    props.write_text("# cluster\nspark.executor.memory 4g\nspark.sql.shuffle.partitions=64\n",
                     encoding="utf-8")
    assert spark_engine.read_properties(props) == {
        "spark.executor.memory": "4g", "spark.sql.shuffle.partitions": "64"}
    assert spark_engine.parse_conf(["a.b=1", "c = x=y"]) == {"a.b": "1", "c": "x=y"}
    with pytest.raises(spark_engine.SparkError, match="KEY=VALUE"):
        spark_engine.parse_conf(["novalue"])


def test_master_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(spark_engine.MASTER_ENV, "yarn")
    assert spark_engine.master_url() == "yarn"
    assert spark_engine.master_url("local[4]") == "local[4]"
    monkeypatch.delenv(spark_engine.MASTER_ENV)
    assert spark_engine.master_url() == "local[2]"
