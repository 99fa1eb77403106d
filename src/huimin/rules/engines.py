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
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from huimin.rules import parquet_dict
from huimin.rules.catalog import Program
from huimin.rules.columns import COLUMNS, REQUIRED_COLUMNS
from huimin.rules.compile import compile_program, reason_texts, version_texts
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


#: raised by the evaluating query for a row an input check refuses
_REFUSED = "HUIMIN_INPUT_REFUSED"
#: raised by the key-mode query for a row whose reasons text is not in the enum
_NO_TEXT = "HUIMIN_REASON_TEXT"


@dataclass(frozen=True)
class _Check:
    column: str
    cond: str  # SQL true where the value is refused
    message: str
    #: checked once per distinct value before the run (low-cardinality text columns)
    per_value: bool


def _input_checks(schema_names: Sequence[str], needed: set[str]) -> list[_Check]:
    """The row checks of the registry view, in reporting order (first failing one of a row
    is reported). Text columns with a digits or choices rule are checked per distinct value."""
    out = [_Check("person_id", "NULLIF(\"person_id\", '') IS NULL", "a value is required",
                  False)]
    for name, col in COLUMNS.items():
        if name == "person_id" or name not in schema_names:
            continue
        if name not in needed and not col.always_required:
            continue
        ref = f'NULLIF("{name}", \'\')' if col.type == "str" else f'"{name}"'
        per_value = col.type == "str" and (col.digits is not None or col.choices is not None)
        if col.always_required:
            out.append(_Check(name, f"{ref} IS NULL", "a value is required", per_value))
        if col.digits is not None:
            out.append(_Check(name, f"(LENGTH({ref}) <> {col.digits} "
                              f"OR LTRIM({ref}, '0123456789') <> '')",
                              f"not a {col.digits}-digit code", True))
        if col.choices is not None:
            items = ", ".join(sql_literal(c, "duckdb") for c in col.choices)
            out.append(_Check(name, f"{ref} NOT IN ({items})",
                              "not one of " + ", ".join(col.choices), True))
    return out


def _first_refused_row(con: Any, src: Path, scan: str, checks: list[_Check]) -> InputError:
    """The error for the first row (in file order) that a check refuses."""
    arms = " ".join(f"WHEN {c.cond} THEN {k}" for k, c in enumerate(checks))
    any_fails = " OR ".join(f"({c.cond})" for c in checks)
    row = con.execute(f"SELECT file_row_number + 1, CASE {arms} END FROM {scan} "
                      f"WHERE {any_fails} ORDER BY file_row_number LIMIT 1").fetchone()
    if row is None:  # pragma: no cover - only called once a check has failed
        raise RulesError(f"{src}: an input check failed but no row was found")
    check = checks[int(row[1])]
    return InputError(str(src), check.message, row=int(row[0]), column=check.column)


def _check_distinct_values(con: Any, src: Path, scan: str, plain_scan: str,
                           checks: list[_Check]) -> set[str]:
    """Check the per-value checks on each column's distinct values (one hash aggregate per
    column instead of string functions on every row); on failure report the first row.
    Returns the checked columns that hold no blank text (they need no ``NULLIF``)."""
    by_col: dict[str, list[str]] = {}
    for c in checks:
        if c.per_value:
            by_col.setdefault(c.column, []).append(c.cond)
    if not by_col:
        return set()

    def counts(name: str, conds: list[str], values: str) -> str:
        # the condition goes in the aggregate's FILTER: as a WHERE it would be pushed below
        # the DISTINCT and run on every row again
        return (f"SELECT {sql_literal(name, 'duckdb')} AS col, "
                f"count(*) FILTER (WHERE {' OR '.join(f'({c})' for c in conds)}) AS n, "
                f"count(*) FILTER (WHERE \"{name}\" = '') AS blank FROM {values}")

    no_blanks: set[str] = set()
    scans: list[str] = []
    # a column dictionary-encoded throughout is checked on its dictionaries, read without
    # decoding a row; they may hold values no row uses, so a refusal there is settled by
    # the scan
    dictionaries = parquet_dict.distinct_texts(src, list(by_col))
    for name, conds in by_col.items():
        found = dictionaries[name]
        if found is not None:
            items = ", ".join("NULL" if v is None else sql_literal(v, "duckdb") for v in found)
            values = f"(SELECT unnest(CAST([{items}] AS VARCHAR[])) AS \"{name}\")"
            row = con.execute(counts(name, conds, values)).fetchone()
            if row is not None and not row[1]:
                if not row[2]:
                    no_blanks.add(name)
                continue
        scans.append(counts(name, conds, f"(SELECT DISTINCT \"{name}\" FROM {plain_scan})"))
    if scans:
        rows = con.execute(" UNION ALL ".join(scans)).fetchall()
        if any(n for _, n, _ in rows):
            raise _first_refused_row(con, src, scan, checks)
        no_blanks |= {str(col) for col, _, blank in rows if not blank}
    return no_blanks


def eval_duckdb_parquet(program: Program, year: int, src: Path, out: Path,
                        threads: int | None = None, memory_limit: str | None = None) -> int:
    """Evaluate a Parquet registry with DuckDB and write the results file (CSV or Parquet)
    directly; returns the number of rows written.

    Input checks: text columns with a digits or choices rule are checked per distinct value
    before the run, the other checks inside the evaluating scan; a refused file is reported
    at its first refused row. Reasons and rule versions are computed as small integer keys
    and written as DuckDB ENUMs (dictionary-encoded in Parquet, read back as strings); a
    program whose texts cannot all be precomputed, or a file with a row outside the
    precomputed table, is written with the texts built per row instead."""
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
        con.execute("SET enable_progress_bar = false")  # it would print on standard output
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute(f"SET memory_limit = {sql_literal(memory_limit, 'duckdb')}")
        plain_scan = f"read_parquet({sql_literal(str(src), 'duckdb')})"
        scan = f"read_parquet({sql_literal(str(src), 'duckdb')}, file_row_number = true)"
        checks = _input_checks(schema.names, needed)
        no_blanks = _check_distinct_values(con, src, scan, plain_scan, checks)
        select = []
        for name, col in COLUMNS.items():
            if name == "person_id":
                continue
            if name not in schema.names:
                kind = {"str": "VARCHAR", "date": "DATE", "int": "BIGINT", "bool": "BOOLEAN"}
                select.append(f"CAST(NULL AS {kind[col.type]}) AS \"{name}\"")
            else:
                # a blank text reads as NULL; a NULLIF would also undo the Parquet
                # dictionary encoding of a code column, so it is left out where no blank is
                blank = col.type == "str" and name not in no_blanks
                ref = f'NULLIF("{name}", \'\')' if blank else f'"{name}"'
                select.append(f'{ref} AS "{name}"')
        # a refused row stops the run; the row reported is then looked up in file order
        arms = " ".join(f"WHEN {c.cond} THEN error('{_REFUSED}')"
                        for c in checks if not c.per_value)
        pid = f"CASE {arms} ELSE NULLIF(\"person_id\", '') END"
        source = f"(SELECT {pid} AS \"person_id\", {', '.join(select)} FROM {plain_scan}) src"
        fmt = "(FORMAT parquet)" if out_fmt == "parquet" else "(FORMAT csv)"
        texts = reason_texts(program, year)
        with atomic_output(out) as tmp:
            target = sql_literal(str(tmp), "duckdb")

            def copy(query: str, fmt: str = fmt) -> int:
                try:
                    res = con.execute(f"COPY ({query}) TO {target} {fmt}").fetchone()
                except duckdb.Error as exc:
                    if _REFUSED in str(exc):
                        raise _first_refused_row(con, src, scan, checks) from None
                    raise
                return int(res[0]) if res is not None else 0

            amount = duckdb_amount_yuan("amount_fen")
            if texts is not None:
                reasons, versions = _enum_lookups(con, texts, version_texts(program))
                q = compile_program(program, year, "duckdb", source, reason_keys=True,
                                     not_null=REQUIRED_COLUMNS)
                # a row whose text is outside the table gets a NULL key, so a NULL text:
                # Parquet output is checked afterwards (null counts in its metadata), CSV
                # output stops at the first such row
                text = f"({reasons})[reason_key + 1]"
                if out_fmt == "csv":
                    text = f"COALESCE({text}, error('{_NO_TEXT}'))"
                # the only text column is then person_id, unique per row: no dictionary is
                # tried for it (the ENUMs are written dictionary-encoded regardless)
                keyed_fmt = ("(FORMAT parquet, STRING_DICTIONARY_PAGE_SIZE_LIMIT 1)"
                             if out_fmt == "parquet" else fmt)
                try:
                    n = copy(f"SELECT person_id, eligible = 1 AS eligible, "
                             f"CAST(months AS BIGINT) AS months, {amount} AS amount_yuan, "
                             f"{text} AS reasons, ({versions})[version_key + 1] AS rule_version "
                             f"FROM ({q}) r", keyed_fmt)
                    if out_fmt == "csv" or _null_count(con, tmp, "reasons") == 0:
                        return n
                except duckdb.Error as exc:
                    if _NO_TEXT not in str(exc):
                        raise
                # some text is outside the precomputed table: build the texts per row
            q = compile_program(program, year, "duckdb", source, not_null=REQUIRED_COLUMNS)
            return copy(f"SELECT person_id, eligible = 1 AS eligible, "
                        f"CAST(months AS BIGINT) AS months, {amount} AS amount_yuan, "
                        f"reasons, rule_version FROM ({q}) r")
    finally:
        con.close()


def _null_count(con: Any, path: Path, column: str) -> int:
    """NULLs in a column of a Parquet file, from its row group statistics when present."""
    meta = pq.read_metadata(path)
    idx = meta.schema.names.index(column)
    total = 0
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(idx).statistics
        if stats is None or not stats.has_null_count:
            lit = sql_literal(str(path), "duckdb")
            row = con.execute(f"SELECT count(*) FROM read_parquet({lit}) "
                              f"WHERE \"{column}\" IS NULL").fetchone()
            return int(row[0]) if row is not None else 0
        total += stats.null_count
    return total


def _enum_lookups(con: Any, reasons: list[str], versions: list[str]) -> tuple[str, str]:
    """Create ENUM types for the reasons and rule versions texts; return SQL lists of their
    values indexed (1-based) by key."""
    out = []
    for name, texts in (("huimin_reason", reasons), ("huimin_rule_version", versions)):
        values = list(dict.fromkeys(texts))
        con.execute(f"CREATE TYPE {name} AS ENUM "
                    f"({', '.join(sql_literal(v, 'duckdb') for v in values)})")
        # a text list cast once (constant folding) to the ENUM list: a list literal of ENUM
        # values costs about half a second of planning (every value carries the whole type)
        items = ", ".join(sql_literal(t, "duckdb") for t in texts)
        out.append(f"CAST([{items}] AS {name}[])")
    return out[0], out[1]


# ---------------------------------------------------------------------------- Spark

def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> Any:
    """A session for the in-memory path (``run_spark``); ``rules.spark`` has the cluster one."""
    from huimin.rules import spark as spark_engine

    return spark_engine.session(master, {"spark.sql.shuffle.partitions": "2", **(conf or {})})


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
