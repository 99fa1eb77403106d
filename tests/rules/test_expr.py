"""The expression language: what it accepts, its NULL semantics on every engine, money."""

from __future__ import annotations

import sqlite3
from datetime import date

import duckdb
import pytest

from huimin.rules import ExpressionError, expr
from huimin.rules.compile import sql_format_yuan
from huimin.rules.money import fen_to_decimal, format_yuan, yuan_to_fen

ENV: dict[str, expr.Type] = {"a": "int", "b": "int", "d": "date", "s": "str", "f": "bool"}


@pytest.mark.parametrize(("text", "row", "value"), [
    ("a + b * 2", {"a": 1, "b": 3}, 7),
    ("a + b", {"a": 1, "b": None}, None),
    ("f AND a > 1", {"f": None, "a": 0}, False),  # NULL AND FALSE is FALSE
    ("f OR a > 1", {"f": None, "a": 0}, None),
    ("f OR a > 1", {"f": None, "a": 2}, True),
    ("LEAST(a, b)", {"a": 1, "b": None}, None),
    ("GREATEST(a, b, 3)", {"a": 1, "b": 7}, 7),
    ("COALESCE(a, b, 9)", {"a": None, "b": None}, 9),
    ("a BETWEEN 1 AND 3", {"a": 3}, True),
    ("a IN (1, 2)", {"a": None}, None),
    ("STARTS_WITH(s, '5104')", {"s": "510402001001"}, True),
    ("STARTS_WITH(s, '5104')", {"s": None}, None),
    ("STARTS_WITH(s, '5104')", {"s": "51"}, False),
    ("STARTS_WITH(s, '')", {"s": "x"}, True),
    # a text defaulted to '' (DuckDB tests the column itself)
    ("STARTS_WITH(COALESCE(s, ''), '5104')", {"s": None}, False),
    ("NOT STARTS_WITH(COALESCE(s, ''), '5104')", {"s": None}, True),
    ("STARTS_WITH(COALESCE(s, ''), '5104')", {"s": "510402001001"}, True),
    ("STARTS_WITH(COALESCE(s, ''), '')", {"s": None}, True),
    ("YEAR(d) * 100 + MONTH(d)", {"d": date(2023, 12, 10)}, 202312),
    ("CASE WHEN a > 1 THEN 'x' WHEN a IS NULL THEN 'n' END", {"a": 0}, None),
    ("d >= DATE '2022-01-01' AND NOT f", {"d": date(2022, 1, 1), "f": False}, True),
])
def test_python_and_sql_engines_agree(text: str, row: dict[str, expr.Value],
                                      value: expr.Value) -> None:
    node = expr.parse(text)
    expr.typecheck(node, ENV)
    assert expr.evaluate(node, row) == value
    full = {k: row.get(k) for k in ENV}
    lite = sqlite3.connect(":memory:")
    lite.execute('CREATE TABLE t ("a" INTEGER, "b" INTEGER, "d" TEXT, "s" TEXT, "f" INTEGER)')
    lite.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                 [v.isoformat() if isinstance(v, date) else v for v in full.values()])
    (got,) = lite.execute(f"SELECT {expr.to_sql(node, 'sqlite')} FROM t").fetchone()
    duck = duckdb.connect()
    duck.execute('CREATE TABLE t ("a" BIGINT, "b" BIGINT, "d" DATE, "s" VARCHAR, "f" BOOLEAN)')
    duck.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)", list(full.values()))
    (got_duck,) = duck.execute(f"SELECT {expr.to_sql(node, 'duckdb')} FROM t").fetchall()[0]
    if isinstance(value, bool) and got is not None:
        got = bool(got)  # SQLite has no boolean type
    assert got == value
    assert got_duck == value


@pytest.mark.parametrize(("text", "reason"), [
    ("a / 2", "division is not allowed"),
    ("CAST(a AS TEXT) = s", "casts are not allowed"),
    ("lower(s) = 'x'", "is not allowed"),
    ("t.a = 1", "qualified names"),
    ("a IN (SELECT 1)", "IN takes a list of literals only"),
    ("1.5 > a", "only integer numbers"),
    ("CASE a WHEN 1 THEN TRUE END", "simple CASE"),
    ("STARTS_WITH(s, s)", "text literal as its prefix"),
])
def test_refused_constructs(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=reason):
        expr.typecheck(expr.parse(text), ENV)


@pytest.mark.parametrize(("text", "reason"), [
    ("a + s", "cannot mix int and str"),
    ("f < f", "booleans cannot be ordered"),
    ("YEAR(a)", "YEAR"),
    ("zzz = 1", "unknown column or parameter 'zzz'"),
])
def test_type_errors(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=reason):
        expr.typecheck(expr.parse(text), ENV)


def test_money_rounding_and_formatting() -> None:
    assert yuan_to_fen(300) == 30_000
    assert yuan_to_fen("150.505") == 15_051  # half up, the single rounding rule
    assert yuan_to_fen("0.004") == 0
    with pytest.raises(ValueError):
        yuan_to_fen(1.5)
    assert [format_yuan(f) for f in (30_000, 15_050, 5, 0)] == ["300", "150.50", "0.05", "0"]
    assert str(fen_to_decimal(123_456)) == "1234.56"
    con = duckdb.connect()
    for fen in (30_000, 15_050, 5, 0, 1_234_567):
        (txt,) = con.execute(f"SELECT {sql_format_yuan(str(fen), 'duckdb')}").fetchall()[0]
        (lite,) = sqlite3.connect(":memory:").execute(
            f"SELECT {sql_format_yuan(str(fen), 'sqlite')}").fetchone()
        assert txt == lite == format_yuan(fen)


@pytest.mark.parametrize(("text", "not_null", "nullable"), [
    ("12", (), False),
    ("a", (), True),
    ("a", ("a",), False),
    ("a IS NULL", (), False),
    ("d IS NULL OR d >= DATE '2025-01-01'", (), False),
    ("d IS NULL OR YEAR(d) = 2025 OR (YEAR(d) = 2026 AND a = 1)", (), True),
    ("d IS NULL OR YEAR(d) = 2025 OR (YEAR(d) = 2026 AND a = 1)", ("a",), False),
    ("d IS NOT NULL AND d >= DATE '2025-01-01'", (), False),
    ("d IS NULL AND d >= DATE '2025-01-01'", (), True),
    ("COALESCE(a, 0)", (), False),
    ("COALESCE(a, b)", (), True),
    ("CASE WHEN a > 1 THEN 1 ELSE 0 END", (), False),
    ("CASE WHEN a > 1 THEN b ELSE 0 END", (), True),
    ("LEAST(a, 12)", ("a",), False),
    ("a IN (1, 2)", (), True),
])
def test_may_be_null(text: str, not_null: tuple[str, ...], nullable: bool) -> None:
    assert expr.may_be_null(expr.parse(text), not_null) is nullable


def test_least_greatest_test_only_arguments_that_can_be_null() -> None:
    node = expr.parse("LEAST(GREATEST(a + 1, 0), 12)")
    assert expr.to_sql(node, "postgres", not_null=("a",)) == (
        'LEAST(GREATEST(("a" + 1), 0), 12)')
    assert "IS NULL" not in expr.to_sql(node, "duckdb", not_null=("a",))
    sql = expr.to_sql(node, "duckdb")
    assert "0 IS NULL" not in sql and "12 IS NULL" not in sql
    duck = duckdb.connect()
    assert duck.execute(f"SELECT {sql} FROM (SELECT NULL::BIGINT AS a)").fetchone() == (None,)
    assert duck.execute(f"SELECT {sql} FROM (SELECT 40::BIGINT AS a)").fetchone() == (12,)


@pytest.mark.parametrize(("text", "clamp"), [
    ("LEAST(GREATEST(a * 2 - MONTH(d), 0), 12)", True),
    ("GREATEST(a - 3, 0)", True),
    ("LEAST(a + b, 5)", True),
    ("LEAST(GREATEST(a, 7), 3)", False),  # empty range: the outer LEAST stays a call
    ("GREATEST(LEAST(a, 9), b)", False),  # bound not a literal
])
def test_duckdb_clamps_agree_with_python(text: str, clamp: bool) -> None:
    # DuckDB spells a clamp of arithmetic between integer literals as CASE: same values,
    # NULL included
    node = expr.parse(text)
    expr.typecheck(node, ENV)
    sql = expr.to_sql(node, "duckdb")
    assert ("LEAST" not in sql and "GREATEST" not in sql) is clamp
    duck = duckdb.connect()
    for a in (None, -20, -1, 0, 1, 3, 6, 7, 9, 11, 40):
        for b in (None, 2):
            row = {"a": a, "b": b, "d": date(2024, 5, 1)}
            got = duck.execute(f"SELECT {sql} FROM (SELECT ?::BIGINT AS a, ?::BIGINT AS b, "
                               "?::DATE AS d)", [a, b, row["d"]]).fetchone()
            assert got == (expr.evaluate(node, row),), (text, a, b)


def test_shared_subexpressions_are_read_from_their_column() -> None:
    node = expr.parse("YEAR(d) * 12 + MONTH(d) > 0 AND YEAR(d) > 2000")
    year = expr.parse("YEAR(d)")
    sql = expr.to_sql(node, "duckdb", shared={year: "y_d"})
    assert sql.count("y_d") == 2 and "YEAR(" not in sql and "MONTH(" in sql
    assert expr.date_parts(node) == [year, expr.parse("MONTH(d)"), year]
    duck = duckdb.connect()
    assert duck.execute(f"SELECT {sql} FROM (SELECT DATE '2023-12-10' AS d, 2023 AS y_d)"
                        ).fetchone() == (True,)
