"""Run a compiled program on SQLite, PostgreSQL, DuckDB or Spark.

Each engine receives the validated registry as an Arrow table (``io.read_registry``) and
returns the results as an Arrow table with columns ``person_id, eligible, months, amount_fen,
reasons, rule_version``, in input order. ``eval_duckdb_parquet`` is the streaming path for
national Parquet snapshots: DuckDB reads, evaluates and writes without Python touching rows
(rows in no particular order).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from huimin.rules.catalog import Program
from huimin.rules.columns import COLUMNS
from huimin.rules.compile import compile_program
from huimin.rules.errors import InputError, RulesError
from huimin.rules.expr import Dialect, columns_of, quote_ident, sql_literal
from huimin.rules.io import atomic_output, file_format, required_columns

Engine = Literal["sqlite", "duckdb", "postgres", "spark"]
ENGINES: tuple[Engine, ...] = ("sqlite", "duckdb", "postgres", "spark")
SOURCE_COLUMNS = [*COLUMNS, "_row"]

RAW_SCHEMA = pa.schema([
    ("person_id", pa.string()), ("eligible", pa.bool_()), ("months", pa.int64()),
    ("amount_fen", pa.int64()), ("reasons", pa.string()), ("rule_version", pa.string()),
])


def program_columns(program: Program) -> set[str]:
    """Registry columns the program reads."""
    out: set[str] = set()
    for comp in program.components:
        for c in comp.doc.criteria:
            out |= columns_of(c.expression)
        out |= columns_of(comp.doc.amount.months) | columns_of(comp.doc.amount.rate_fen)
    return {n for n in out if n in COLUMNS}


def _rows_to_table(rows: Sequence[Sequence[Any]]) -> pa.Table:
    cols: list[Sequence[Any]] = (list(zip(*rows, strict=True)) if rows
                                 else [() for _ in RAW_SCHEMA])
    return pa.table([
        pa.array([str(v) for v in cols[0]], pa.string()),
        pa.array([bool(v) for v in cols[1]], pa.bool_()),
        pa.array([int(v) for v in cols[2]], pa.int64()),
        pa.array([int(v) for v in cols[3]], pa.int64()),
        pa.array(list(cols[4]), pa.string()),
        pa.array(list(cols[5]), pa.string()),
    ], schema=RAW_SCHEMA)


def _passthrough_q(program: Program, year: int, dialect: Dialect, source: str) -> str:
    q = compile_program(program, year, dialect, source, carry=("_row",))
    return q + f" ORDER BY {quote_ident('_row', dialect)}"


# ---------------------------------------------------------------------------- SQLite

def run_sqlite(program: Program, year: int, table: pa.Table,
               conn: sqlite3.Connection | None = None) -> pa.Table:
    own = conn is None
    con = conn or sqlite3.connect(":memory:")
    try:
        types = {"str": "TEXT", "date": "TEXT", "int": "INTEGER", "bool": "INTEGER"}
        defs = ", ".join(f'"{n}" {types[c.type]}' for n, c in COLUMNS.items())
        con.execute("DROP TABLE IF EXISTS temp.rules_src")
        con.execute(f'CREATE TEMP TABLE rules_src ({defs}, "_row" INTEGER)')
        names = SOURCE_COLUMNS
        data = [table.column(n).to_pylist() for n in names]
        rows = [tuple(_sqlite_value(v) for v in r) for r in zip(*data, strict=True)]
        marks = ", ".join("?" for _ in names)
        con.executemany(f"INSERT INTO rules_src VALUES ({marks})", rows)
        result = con.execute(_passthrough_q(program, year, "sqlite", "temp.rules_src"))
        out = [r[1:] for r in result.fetchall()]
        con.execute("DROP TABLE temp.rules_src")
        return _rows_to_table(out)
    finally:
        if own:
            con.close()


def _sqlite_value(v: object) -> object:
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, bool):
        return int(v)
    return v


# ---------------------------------------------------------------------------- PostgreSQL

def pg_url(explicit: str | None = None) -> str:
    url = explicit or os.environ.get("HUIMIN_RULES_PG_URL") or os.environ.get("DATABASE_URL")
    if not url:
        raise RulesError("the postgres engine needs --database-url, HUIMIN_RULES_PG_URL "
                         "or DATABASE_URL")
    return url


def run_postgres(program: Program, year: int, table: pa.Table, url: str | None = None) -> pa.Table:
    import psycopg

    types = {"str": "TEXT", "date": "DATE", "int": "BIGINT", "bool": "BOOLEAN"}
    defs = ", ".join(f'"{n}" {types[c.type]}' for n, c in COLUMNS.items())
    with psycopg.connect(pg_url(url)) as con, con.cursor() as cur:
        cur.execute(f'CREATE TEMP TABLE rules_src ({defs}, "_row" BIGINT) ON COMMIT DROP')
        cols = ", ".join(f'"{n}"' for n in SOURCE_COLUMNS)
        # Arrow writes the CSV (NULL as an unquoted empty field), PostgreSQL reads it
        buf = pa.BufferOutputStream()
        pacsv.write_csv(table.select(SOURCE_COLUMNS), buf,
                        pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        with cur.copy(f"COPY rules_src ({cols}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(buf.getvalue().to_pybytes())
        cur.execute("ANALYZE rules_src")
        cur.execute(_passthrough_q(program, year, "postgres", "rules_src").encode())
        out = [r[1:] for r in cur.fetchall()]
    return _rows_to_table(out)


# ---------------------------------------------------------------------------- DuckDB

def run_duckdb(program: Program, year: int, table: pa.Table) -> pa.Table:
    import duckdb

    con = duckdb.connect()
    try:
        con.register("rules_src", table)
        q = _passthrough_q(program, year, "duckdb", "rules_src")
        res = con.sql(q).to_arrow_table()
    finally:
        con.close()
    return res.drop_columns(["_row"]).cast(RAW_SCHEMA)


def duckdb_amount_yuan(col: str) -> str:
    return f"CAST(CAST({col} AS DECIMAL(18,0)) * 0.01 AS DECIMAL(18,2))"


def parquet_native(path: Path, needed: set[str]) -> bool:
    """Whether a Parquet file's columns have the native types of the registry view, so DuckDB
    can read it directly (otherwise the file goes through ``io.read_registry``)."""
    schema = pq.read_schema(path)
    checks = {"str": pa.types.is_string, "date": pa.types.is_date32, "int": pa.types.is_integer,
              "bool": pa.types.is_boolean}
    for name in schema.names:
        if name in COLUMNS and not checks[COLUMNS[name].type](schema.field(name).type):
            return False
    return True


_ERR_RE = re.compile(r"HUIMIN_INPUT\|(\d+)\|([a-z_0-9]+)\|([^|\n]*)\|")


def eval_duckdb_parquet(program: Program, year: int, src: Path, out: Path,
                        threads: int | None = None, memory_limit: str | None = None) -> int:
    """Evaluate a Parquet registry with DuckDB and write the results file (CSV or Parquet)
    directly; returns the number of rows written. Input checks run inside the same scan."""
    import duckdb

    needed = program_columns(program)
    schema = pq.read_schema(src)
    for name in required_columns(needed):
        if name not in schema.names:
            raise InputError(str(src), f"missing required column '{name}'", column=name)
    out_fmt = file_format(out)
    # rows are written in no particular order: keeping input order costs time and memory
    con = duckdb.connect(config={"preserve_insertion_order": False})
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute(f"SET memory_limit = {sql_literal(memory_limit, 'duckdb')}")
        src_lit = sql_literal(str(src), "duckdb")
        select = []
        checks = []
        for name, col in COLUMNS.items():
            if name not in schema.names:
                kind = {"str": "VARCHAR", "date": "DATE", "int": "BIGINT", "bool": "BOOLEAN"}
                select.append(f"CAST(NULL AS {kind[col.type]}) AS \"{name}\"")
                continue
            ref = f'NULLIF("{name}", \'\')' if col.type == "str" else f'"{name}"'
            if name == "person_id":
                continue
            select.append(f'{ref} AS "{name}"')
            if name not in needed and not col.always_required:
                continue
            if col.always_required:
                checks.append((name, f"{ref} IS NULL", "a value is required"))
            if col.digits is not None:
                checks.append((name, f"(LENGTH({ref}) <> {col.digits} "
                               f"OR LTRIM({ref}, '0123456789') <> '')",
                               f"not a {col.digits}-digit code"))
            if col.choices is not None:
                items = ", ".join(sql_literal(c, "duckdb") for c in col.choices)
                checks.append((name, f"{ref} NOT IN ({items})",
                               "not one of " + ", ".join(col.choices)))
        arms = " ".join(
            f"WHEN {cond} THEN error('HUIMIN_INPUT|' || CAST(file_row_number + 1 AS VARCHAR) "
            f"|| '|{name}|{msg}|')" for name, cond, msg in checks)
        pid_ref = "NULLIF(\"person_id\", '')"
        arms = (f"WHEN {pid_ref} IS NULL THEN error('HUIMIN_INPUT|' || "
                f"CAST(file_row_number + 1 AS VARCHAR) || '|person_id|a value is required|') "
                + arms)
        pid = f"CASE {arms} ELSE {pid_ref} END"
        source = (f"(SELECT {pid} AS \"person_id\", {', '.join(select)} "
                  f"FROM read_parquet({src_lit}, file_row_number = true)) src")
        q = compile_program(program, year, "duckdb", source)
        final = (f"SELECT person_id, eligible = 1 AS eligible, CAST(months AS BIGINT) AS months, "
                 f"{duckdb_amount_yuan('amount_fen')} AS amount_yuan, reasons, rule_version "
                 f"FROM ({q}) r")
        fmt = "(FORMAT parquet)" if out_fmt == "parquet" else "(FORMAT csv)"
        with atomic_output(out) as tmp:
            try:
                con.execute(f"COPY ({final}) TO {sql_literal(str(tmp), 'duckdb')} {fmt}")
            except duckdb.Error as exc:
                m = _ERR_RE.search(str(exc))
                if m:
                    raise InputError(str(src), m.group(3), row=int(m.group(1)),
                                     column=m.group(2)) from None
                raise
        n = con.execute(f"SELECT count(*) FROM read_parquet({src_lit})").fetchall()[0][0]
        return int(n)
    finally:
        con.close()


# ---------------------------------------------------------------------------- Spark

def spark_session() -> Any:
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("huimin-rules")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session


def run_spark(program: Program, year: int, table: pa.Table, spark: Any = None) -> pa.Table:
    session = spark or spark_session()
    df = session.createDataFrame(table)
    df.createOrReplaceTempView("rules_src")
    res = session.sql(_passthrough_q(program, year, "spark", "rules_src")).toArrow()
    return res.drop_columns(["_row"]).cast(RAW_SCHEMA)


def run(engine: Engine, program: Program, year: int, table: pa.Table, *,
        database_url: str | None = None, spark: Any = None) -> pa.Table:
    if engine == "sqlite":
        return run_sqlite(program, year, table)
    if engine == "duckdb":
        return run_duckdb(program, year, table)
    if engine == "postgres":
        return run_postgres(program, year, table, database_url)
    if engine == "spark":
        return run_spark(program, year, table, spark)
    raise RulesError(f"unknown engine '{engine}'")
