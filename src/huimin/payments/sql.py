"""The few places where set-based payment SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from django.db import connection


def is_pg() -> bool:
    return connection.vendor == "postgresql"


def json_object(pairs: Sequence[tuple[str, str]]) -> str:
    """A JSON object built in SQL from (key, SQL expression) pairs; keys are code constants."""
    fn = "jsonb_build_object" if is_pg() else "json_object"
    return f"{fn}(" + ", ".join(f"'{k}', {v}" for k, v in pairs) + ")"


def json_text(column: str, key: str) -> str:
    if is_pg():
        return f"({column} ->> '{key}')"
    return f"json_extract({column}, '$.{key}')"


def ts(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def day(value: date) -> Any:
    return connection.ops.adapt_datefield_value(value)


def quote(values: Iterable[str]) -> str:
    """An SQL list of code constants (state names): never user input."""
    out = []
    for v in values:
        if not v.replace("_", "").isalnum():
            raise ValueError(f"not a code constant: {v!r}")
        out.append(f"'{v}'")
    return "(" + ", ".join(out) + ")"


def set_based() -> None:
    """Room for the sorts and hash joins of a million-row statement (this transaction only)."""
    if is_pg():
        execute("SET LOCAL work_mem = '512MB'")


@contextmanager
def no_rescans() -> Iterator[None]:
    """For a statement that inserts into a table it also reads (``INSERT … SELECT … WHERE NOT
    EXISTS (… the same table …)``): no nested loops while it runs. When the statistics say the
    table is empty (a first cycle, or after a rolled-back build was vacuumed away) the planner
    may otherwise rescan the table once per source row, while the statement itself fills it:
    a million rows would take hours instead of seconds. A hash or merge join reads it once,
    before the first row is written."""
    if not is_pg():
        yield
        return
    (before,) = fetchone("SELECT current_setting('enable_nestloop')")
    execute("SET LOCAL enable_nestloop = off")
    yield
    # (after an error the transaction or savepoint is rolled back, and the setting with it)
    execute(f"SET LOCAL enable_nestloop = {'on' if before == 'on' else 'off'}")


#: a statement that wrote at least this many rows refreshes the table's statistics
ANALYZE_AFTER = 50_000


def analyze(table: str, written: int) -> None:
    """Fresh planner statistics for a table this transaction just wrote ``written`` rows to
    (PostgreSQL counts its own uncommitted rows), so that the next set-based statement over
    it hashes instead of probing an index a million times. Small writes skip it: ANALYZE
    holds a lock that a second ANALYZE of the table waits for until this transaction ends."""
    if is_pg() and written >= ANALYZE_AFTER:
        execute(f"ANALYZE {table}")


def execute(sql: str, params: Sequence[Any] = ()) -> int:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return int(cur.rowcount)


def fetchone(sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    assert row is not None
    return tuple(row)


def fetchall(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return [tuple(r) for r in cur.fetchall()]


def fetch_arrow(query: str, params: Sequence[Any],
                schema: Sequence[tuple[str, Any]]) -> Any:
    """A query's rows as an Arrow table with these columns (non-null values), read on
    PostgreSQL with COPY … TO STDOUT, without a Python object per row."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [n for n, _ in schema]
    if is_pg():
        with connection.cursor() as cur, cur.cursor.copy(
                f"COPY ({query}) TO STDOUT (FORMAT csv)", params) as copy:
            data = b"".join(bytes(chunk) for chunk in copy)
        if not data:
            return pa.table({n: pa.array([], t) for n, t in schema})
        return pacsv.read_csv(
            pa.py_buffer(data), read_options=pacsv.ReadOptions(column_names=names),
            convert_options=pacsv.ConvertOptions(
                column_types=dict(schema), strings_can_be_null=False,
                quoted_strings_can_be_null=False))
    rows = fetchall(query, params)
    return pa.table({n: pa.array([r[i] for r in rows], t) for i, (n, t) in enumerate(schema)})


def temp_table(name: str, columns: str, rows: Any) -> None:
    """A temporary table for this transaction, from rows (tuples) or an Arrow table with the
    same columns; filled with COPY on PostgreSQL."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with connection.cursor() as cur:
        if is_pg():
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
            cur.execute(f"CREATE TEMP TABLE {name} ({columns}) ON COMMIT DROP")
            names = ", ".join(c.split()[0] for c in columns.split(","))
            raw = cur.cursor
            if isinstance(rows, pa.Table):
                buf = pa.BufferOutputStream()  # every value quoted: '' stays an empty text
                pacsv.write_csv(rows, buf, pacsv.WriteOptions(include_header=False,
                                                              quoting_style="all_valid"))
                with raw.copy(f"COPY {name} ({names}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(buf.getvalue().to_pybytes())
            else:
                with raw.copy(f"COPY {name} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            cur.execute(f"ANALYZE {name}")
        else:
            cur.execute(f"DROP TABLE IF EXISTS temp.{name}")
            cur.execute(f"CREATE TEMP TABLE {name} ({columns})")
            width = len(columns.split(","))
            if isinstance(rows, pa.Table):
                rows = zip(*(rows.column(i).to_pylist() for i in range(width)), strict=True)
            cur.executemany(f"INSERT INTO {name} VALUES ({', '.join(['%s'] * width)})",
                            list(rows))


def drop_temp(name: str) -> None:
    execute(f"DROP TABLE IF EXISTS {'pg_temp' if is_pg() else 'temp'}.{name}")
