"""The few places where set-based payment SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
        execute("SET LOCAL work_mem = '256MB'")


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


def temp_table(name: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> None:
    """A temporary table for this transaction, filled with COPY on PostgreSQL."""
    with connection.cursor() as cur:
        if is_pg():
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
            cur.execute(f"CREATE TEMP TABLE {name} ({columns}) ON COMMIT DROP")
            names = ", ".join(c.split()[0] for c in columns.split(","))
            raw = cur.cursor
            with raw.copy(f"COPY {name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cur.execute(f"DROP TABLE IF EXISTS temp.{name}")
            cur.execute(f"CREATE TEMP TABLE {name} ({columns})")
            width = len(columns.split(","))
            cur.executemany(f"INSERT INTO {name} VALUES ({', '.join(['%s'] * width)})",
                            list(rows))


def drop_temp(name: str) -> None:
    execute(f"DROP TABLE IF EXISTS {'pg_temp' if is_pg() else 'temp'}.{name}")
