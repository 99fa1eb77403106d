"""File-to-file evaluation, as used by ``huimin rules eval`` and other batch callers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from huimin.rules import engines, io
from huimin.rules.catalog import Catalog, Program
from huimin.rules.engines import Engine


def evaluate_registry(program: Program, year: int, table: pa.Table, engine: Engine, *,
                      database_url: str | None = None, spark: Any = None) -> pa.Table:
    """Results in the output layout for a validated registry table."""
    raw = engines.run(engine, program, year, table, database_url=database_url, spark=spark)
    return io.results_table(raw.column("person_id"), raw.column("eligible"),
                            raw.column("months"), raw.column("amount_fen"),
                            raw.column("reasons"), raw.column("rule_version"))


def evaluate_file(catalog: Catalog, program_id: str, year: int, input_path: Path,
                  output_path: Path, engine: Engine = "duckdb", *,
                  database_url: str | None = None) -> int:
    """Evaluate ``input_path`` (CSV or Parquet) and write ``output_path`` (CSV or Parquet by
    extension). Nothing is written unless the whole run succeeds. Returns the row count."""
    program = catalog.for_year(program_id, year)
    io.file_format(output_path)
    needed = engines.program_columns(program)
    if (engine == "duckdb" and io.file_format(input_path) == "parquet"
            and input_path.exists() and engines.parquet_native(input_path, needed)):
        return int(engines.eval_duckdb_parquet(program, year, input_path, output_path))
    table = io.read_registry(input_path, needed)
    result = evaluate_registry(program, year, table, engine, database_url=database_url)
    io.write_results(result, output_path)
    return int(result.num_rows)
