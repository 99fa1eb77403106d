"""The restricted expression language of program documents.

Expressions are written in a small SQL subset and parsed with sqlglot, then converted into a
tiny typed tree (``Node``). Only these constructs are accepted:

* names of registry-view columns (``columns.COLUMNS``), built-in parameters (``claim_year``,
  ``year_start``, ``year_end``), the document's ``params`` and earlier ``derived`` names;
* literals: integers, 'text', ``DATE 'YYYY-MM-DD'``, TRUE, FALSE, NULL;
* ``AND OR NOT``, ``= <> < <= > >=``, ``+ - *`` (integers only; no division),
  ``IS [NOT] NULL``, ``[NOT] BETWEEN``, ``[NOT] IN (literal, …)``, ``CASE WHEN … END``;
* functions ``YEAR(d) MONTH(d) DAY(d) LEAST(a, b, …) GREATEST(a, b, …) COALESCE(a, b, …)
  STARTS_WITH(text, 'prefix')``.

No statements, subqueries, other functions or casts. Every expression is type-checked (int,
text, date, bool) so that it means the same on every engine. NULL follows SQL's three-valued
logic; LEAST and GREATEST return NULL when any argument is NULL (on every engine).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from huimin.rules.errors import ExpressionError

Type: TypeAlias = Literal["int", "str", "date", "bool", "null"]
Value: TypeAlias = int | str | bool | dt.date | None
Dialect: TypeAlias = Literal["sqlite", "postgres", "duckdb", "spark"]
DIALECTS: tuple[Dialect, ...] = ("sqlite", "postgres", "duckdb", "spark")


@dataclass(frozen=True)
class Col:
    name: str


@dataclass(frozen=True)
class Lit:
    value: Value
    type: Type


@dataclass(frozen=True)
class Unary:
    op: Literal["not", "neg", "isnull", "notnull"]
    arg: Node


@dataclass(frozen=True)
class Binary:
    op: str  # and or = <> < <= > >= + - *
    left: Node
    right: Node


@dataclass(frozen=True)
class InList:
    arg: Node
    items: tuple[Lit, ...]


@dataclass(frozen=True)
class Case:
    whens: tuple[tuple[Node, Node], ...]
    default: Node


@dataclass(frozen=True)
class Func:
    name: Literal["year", "month", "day", "least", "greatest", "coalesce", "starts_with"]
    args: tuple[Node, ...]


Node: TypeAlias = Col | Lit | Unary | Binary | InList | Case | Func

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_BINARY: dict[type[exp.Expression], str] = {
    exp.And: "and", exp.Or: "or", exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=",
    exp.GT: ">", exp.GTE: ">=", exp.Add: "+", exp.Sub: "-", exp.Mul: "*",
}


def parse_date(text: str) -> dt.date:
    if not _DATE_RE.match(text):
        raise ValueError(f"'{text}' is not a date in YYYY-MM-DD format")
    return dt.date.fromisoformat(text)


def parse(text: str) -> Node:
    """Parse an expression into a ``Node`` tree; raises ExpressionError with the reason."""
    try:
        trees = sqlglot.parse(text)
    except (ParseError, TokenError) as exc:
        raise ExpressionError(f"cannot parse expression: {_first_line(str(exc))}") from exc
    found = [t for t in trees if isinstance(t, exp.Expression)]
    if len(found) != 1 or len(trees) != 1:
        raise ExpressionError("exactly one expression is allowed (no statements)")
    return _convert(found[0])


def _first_line(msg: str) -> str:
    return msg.strip().splitlines()[0] if msg.strip() else msg


def _convert(e: exp.Expression) -> Node:
    if isinstance(e, exp.Paren):
        return _convert(e.this)
    if isinstance(e, exp.Column):
        if e.table:
            raise ExpressionError(f"qualified names are not allowed: {e.sql()}")
        return Col(e.name.lower())
    if isinstance(e, exp.Literal):
        if e.is_string:
            return Lit(str(e.this), "str")
        text = str(e.this)
        if not re.fullmatch(r"\d+", text):
            raise ExpressionError(f"only integer numbers are allowed, not {text}")
        return Lit(int(text), "int")
    if isinstance(e, exp.Boolean):
        return Lit(bool(e.this), "bool")
    if isinstance(e, exp.Null):
        return Lit(None, "null")
    if isinstance(e, exp.Cast):
        target = e.to
        if (isinstance(e.this, exp.Literal) and e.this.is_string
                and target.this == exp.DataType.Type.DATE):
            try:
                return Lit(parse_date(str(e.this.this)), "date")
            except ValueError as exc:
                raise ExpressionError(str(exc)) from exc
        raise ExpressionError(f"casts are not allowed: {e.sql()}")
    if type(e) in _BINARY:
        return Binary(_BINARY[type(e)], _convert(e.this), _convert(e.expression))
    if isinstance(e, exp.Not):
        inner = e.this
        if isinstance(inner, exp.Paren):
            inner = inner.this
        if isinstance(inner, exp.Is):
            return Unary("notnull", _is_arg(inner))
        return Unary("not", _convert(e.this))
    if isinstance(e, exp.Neg):
        return Unary("neg", _convert(e.this))
    if isinstance(e, exp.Is):
        return Unary("isnull", _is_arg(e))
    if isinstance(e, exp.Between):
        arg = _convert(e.this)
        return Binary("and", Binary(">=", arg, _convert(e.args["low"])),
                      Binary("<=", arg, _convert(e.args["high"])))
    if isinstance(e, exp.In):
        if e.args.get("query") or e.args.get("unnest") or e.args.get("field"):
            raise ExpressionError("IN takes a list of literals only (no subqueries)")
        items: list[Lit] = []
        for item in e.expressions:
            node = _convert(item)
            if not isinstance(node, Lit) or node.value is None:
                raise ExpressionError("IN takes a list of non-NULL literals only")
            items.append(node)
        if not items:
            raise ExpressionError("IN needs at least one value")
        return InList(_convert(e.this), tuple(items))
    if isinstance(e, exp.Case):
        if e.this is not None:
            raise ExpressionError("write CASE WHEN condition THEN … (simple CASE is not allowed)")
        whens = tuple((_convert(i.this), _convert(i.args["true"])) for i in e.args["ifs"])
        default = e.args.get("default")
        return Case(whens, _convert(default) if default is not None else Lit(None, "null"))
    if isinstance(e, exp.Year | exp.Month | exp.Day):
        name: Literal["year", "month", "day"] = (
            "year" if isinstance(e, exp.Year) else "month" if isinstance(e, exp.Month) else "day")
        return Func(name, (_convert(e.this),))
    if isinstance(e, exp.Least | exp.Greatest | exp.Coalesce):
        fname: Literal["least", "greatest", "coalesce"] = (
            "least" if isinstance(e, exp.Least)
            else "greatest" if isinstance(e, exp.Greatest) else "coalesce")
        args = tuple(_convert(a) for a in [e.this, *e.expressions])
        if len(args) < 2:
            raise ExpressionError(f"{fname.upper()} needs at least two arguments")
        return Func(fname, args)
    if isinstance(e, exp.StartsWith):
        prefix = _convert(e.expression)
        if not (isinstance(prefix, Lit) and prefix.type == "str"):
            raise ExpressionError("STARTS_WITH needs a text literal as its prefix")
        return Func("starts_with", (_convert(e.this), prefix))
    if isinstance(e, exp.Query | exp.Subquery | exp.Select):
        raise ExpressionError("subqueries and statements are not allowed")
    if isinstance(e, exp.Func):
        name_sql = e.sql_name() if hasattr(e, "sql_name") else type(e).__name__
        raise ExpressionError(f"function {name_sql} is not allowed")
    if isinstance(e, exp.Div | exp.IntDiv | exp.Mod):
        raise ExpressionError("division is not allowed; amounts are whole fen")
    raise ExpressionError(f"construct not allowed: {e.sql()}")


def _is_arg(e: exp.Is) -> Node:
    if not isinstance(e.expression, exp.Null):
        raise ExpressionError("IS is only allowed as IS NULL / IS NOT NULL")
    return _convert(e.this)


# ---------------------------------------------------------------------------- type checking

def children(node: Node) -> tuple[Node, ...]:
    """The subexpressions directly under a node."""
    if isinstance(node, Unary | InList):
        return (node.arg,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Case):
        return (*(x for cv in node.whens for x in cv), node.default)
    if isinstance(node, Func):
        return node.args
    return ()


def columns_of(node: Node) -> set[str]:
    """Names read by an expression."""
    if isinstance(node, Col):
        return {node.name}
    return {name for child in children(node) for name in columns_of(child)}


def _unify(a: Type, b: Type, what: str) -> Type:
    if a == "null":
        return b
    if b == "null" or a == b:
        return a
    raise ExpressionError(f"{what}: cannot mix {a} and {b}")


def typecheck(node: Node, env: Mapping[str, Type]) -> Type:
    """Type of an expression given the types of the names it may read."""
    if isinstance(node, Col):
        if node.name not in env:
            raise ExpressionError(f"unknown column or parameter '{node.name}'")
        return env[node.name]
    if isinstance(node, Lit):
        return node.type
    if isinstance(node, Unary):
        t = typecheck(node.arg, env)
        if node.op == "not":
            _unify("bool", t, "NOT")
            return "bool"
        if node.op == "neg":
            _unify("int", t, "unary minus")
            return "int"
        return "bool"
    if isinstance(node, Binary):
        lt, rt = typecheck(node.left, env), typecheck(node.right, env)
        if node.op in ("and", "or"):
            _unify("bool", lt, node.op.upper())
            _unify("bool", rt, node.op.upper())
            return "bool"
        if node.op in ("+", "-", "*"):
            _unify("int", lt, node.op)
            _unify("int", rt, node.op)
            return "int"
        t = _unify(lt, rt, f"comparison {node.op}")
        if t == "bool" and node.op not in ("=", "<>"):
            raise ExpressionError(f"booleans cannot be ordered with {node.op}")
        return "bool"
    if isinstance(node, InList):
        t = typecheck(node.arg, env)
        for item in node.items:
            t = _unify(t, item.type, "IN")
        return "bool"
    if isinstance(node, Case):
        result: Type = "null"
        for cond, val in node.whens:
            _unify("bool", typecheck(cond, env), "CASE WHEN condition")
            result = _unify(result, typecheck(val, env), "CASE branches")
        return _unify(result, typecheck(node.default, env), "CASE branches")
    if node.name in ("year", "month", "day"):
        _unify("date", typecheck(node.args[0], env), f"{node.name.upper()}()")
        return "int"
    if node.name == "starts_with":
        _unify("str", typecheck(node.args[0], env), "STARTS_WITH()")
        return "bool"
    t = "null"
    for a in node.args:
        t = _unify(t, typecheck(a, env), f"{node.name.upper()}()")
    if node.name in ("least", "greatest") and t not in ("int", "date", "null"):
        raise ExpressionError(f"{node.name.upper()}() takes integers or dates")
    return t


def substitute(node: Node, names: Mapping[str, Node]) -> Node:
    """Replace names (parameters, derived values) by their definitions."""
    if isinstance(node, Col):
        return names.get(node.name, node)
    if isinstance(node, Lit):
        return node
    if isinstance(node, Unary):
        return Unary(node.op, substitute(node.arg, names))
    if isinstance(node, Binary):
        return Binary(node.op, substitute(node.left, names), substitute(node.right, names))
    if isinstance(node, InList):
        return InList(substitute(node.arg, names), node.items)
    if isinstance(node, Case):
        return Case(tuple((substitute(c, names), substitute(v, names)) for c, v in node.whens),
                    substitute(node.default, names))
    return Func(node.name, tuple(substitute(a, names) for a in node.args))


# ---------------------------------------------------------------------------- Python evaluation

def _cmp(op: str, a: Value, b: Value) -> bool | None:
    if a is None or b is None:
        return None
    if op == "=":
        return a == b
    if op == "<>":
        return a != b
    ops: dict[str, Callable[[object, object], bool]] = {
        "<": lambda x, y: x < y,  # type: ignore[operator]
        "<=": lambda x, y: x <= y,  # type: ignore[operator]
        ">": lambda x, y: x > y,  # type: ignore[operator]
        ">=": lambda x, y: x >= y,  # type: ignore[operator]
    }
    return ops[op](a, b)


def evaluate(node: Node, row: Mapping[str, Value]) -> Value:
    """Evaluate with SQL semantics (three-valued logic) over one row."""
    if isinstance(node, Col):
        return row.get(node.name)
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, Unary):
        v = evaluate(node.arg, row)
        if node.op == "isnull":
            return v is None
        if node.op == "notnull":
            return v is not None
        if v is None:
            return None
        if node.op == "not":
            return not v
        assert isinstance(v, int)
        return -v
    if isinstance(node, Binary):
        if node.op == "and":
            a, b = evaluate(node.left, row), evaluate(node.right, row)
            if a is False or b is False:
                return False
            return None if a is None or b is None else True
        if node.op == "or":
            a, b = evaluate(node.left, row), evaluate(node.right, row)
            if a is True or b is True:
                return True
            return None if a is None or b is None else False
        a, b = evaluate(node.left, row), evaluate(node.right, row)
        if node.op in ("+", "-", "*"):
            if a is None or b is None:
                return None
            assert isinstance(a, int) and isinstance(b, int)
            return a + b if node.op == "+" else a - b if node.op == "-" else a * b
        return _cmp(node.op, a, b)
    if isinstance(node, InList):
        v = evaluate(node.arg, row)
        if v is None:
            return None
        return any(v == i.value for i in node.items)
    if isinstance(node, Case):
        for cond, val in node.whens:
            if evaluate(cond, row) is True:
                return evaluate(val, row)
        return evaluate(node.default, row)
    args = [evaluate(a, row) for a in node.args]
    if node.name == "coalesce":
        return next((a for a in args if a is not None), None)
    if any(a is None for a in args):
        return None
    if node.name in ("year", "month", "day"):
        d = args[0]
        assert isinstance(d, dt.date)
        return d.year if node.name == "year" else d.month if node.name == "month" else d.day
    if node.name == "starts_with":
        s, p = args
        assert isinstance(s, str) and isinstance(p, str)
        return s.startswith(p)
    vals: list[int | dt.date] = [a for a in args if isinstance(a, int | dt.date)]
    return min(vals) if node.name == "least" else max(vals)


# ---------------------------------------------------------------------------- SQL generation

def quote_ident(name: str, dialect: Dialect) -> str:
    if dialect == "spark":
        return f"`{name}`"
    return f'"{name}"'


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_literal(value: Value, dialect: Dialect) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        if dialect == "sqlite":
            return "1" if value else "0"
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.date):
        iso = value.isoformat()
        return f"'{iso}'" if dialect == "sqlite" else f"DATE '{iso}'"
    if dialect == "spark":
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return sql_string(value)


def date_parts(node: Node) -> list[Func]:
    """The ``YEAR(column)``, ``MONTH(column)`` and ``DAY(column)`` calls in an expression,
    once per occurrence."""
    if isinstance(node, Func) and node.name in ("year", "month", "day") \
            and isinstance(node.args[0], Col):
        return [node]
    return [part for child in children(node) for part in date_parts(child)]


def may_be_null(node: Node, not_null: Collection[str] = ()) -> bool:
    """Whether an expression can be NULL when the columns in ``not_null`` never are (a
    conservative answer: True unless NULL is ruled out). In ``x IS NULL OR …`` the other
    operands are read with ``x`` not NULL, likewise in ``x IS NOT NULL AND …``."""
    known = frozenset(not_null)

    def flat(n: Node, op: str) -> list[Node]:
        if isinstance(n, Binary) and n.op == op:
            return [*flat(n.left, op), *flat(n.right, op)]
        return [n]

    def go(n: Node, known: frozenset[str]) -> bool:
        if isinstance(n, Col):
            return n.name not in known
        if isinstance(n, Lit):
            return n.value is None
        if isinstance(n, Unary):
            return n.op in ("not", "neg") and go(n.arg, known)
        if isinstance(n, Binary):
            if n.op in ("and", "or"):
                parts = flat(n, n.op)
                test = "isnull" if n.op == "or" else "notnull"
                more = {p.arg.name for p in parts if isinstance(p, Unary) and p.op == test
                        and isinstance(p.arg, Col)}
                return any(go(p, known | more) for p in parts)
            return go(n.left, known) or go(n.right, known)
        if isinstance(n, InList):
            return go(n.arg, known)
        if isinstance(n, Case):
            return any(go(v, known) for _, v in n.whens) or go(n.default, known)
        if n.name == "coalesce":
            return all(go(a, known) for a in n.args)
        return any(go(a, known) for a in n.args)

    return go(node, known)


def _arithmetic(node: Node) -> bool:
    """Columns, literals and date parts under + - * only (cheap to evaluate twice)."""
    if isinstance(node, Col | Lit):
        return True
    if isinstance(node, Func) and node.name in ("year", "month", "day"):
        return _arithmetic(node.args[0])
    if isinstance(node, Unary) and node.op == "neg":
        return _arithmetic(node.arg)
    return isinstance(node, Binary) and node.op in ("+", "-", "*") and \
        _arithmetic(node.left) and _arithmetic(node.right)


def _int_lit(node: Node) -> int | None:
    if isinstance(node, Lit) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    return None


def _duckdb_clamp(n: Func, go: Callable[[Node], str], not_null: Collection[str]) -> str | None:
    """DuckDB: ``GREATEST(x, lo)``, ``LEAST(x, hi)`` and ``LEAST(GREATEST(x, lo), hi)`` with
    integer literal bounds and ``x`` arithmetic on columns, as one CASE (DuckDB's LEAST and
    GREATEST cost about three times as much); None for any other call. NULL stays NULL."""
    if len(n.args) != 2 or _int_lit(n.args[1]) is None:
        return None
    inner, bound = n.args[0], _int_lit(n.args[1])
    lo = hi = None
    if n.name == "least":
        hi = bound
        if isinstance(inner, Func) and inner.name == "greatest" and len(inner.args) == 2:
            lo = _int_lit(inner.args[1])
            if lo is not None:
                inner = inner.args[0]
    else:
        lo = bound
    if not _arithmetic(inner) or (lo is not None and hi is not None and lo > hi):
        return None
    x = go(inner)
    arms = ([f"WHEN {x} <= {lo} THEN {lo}"] if lo is not None else []) + (
        [f"WHEN {x} >= {hi} THEN {hi}"] if hi is not None else [])
    out = f"(CASE {' '.join(arms)} ELSE {x} END)"
    return f"(CASE WHEN {x} IS NULL THEN NULL ELSE {out} END)" if may_be_null(
        inner, not_null) else out


def to_sql(node: Node, dialect: Dialect, column: Callable[[str], str] | None = None,
           not_null: Collection[str] = (), shared: Mapping[Node, str] | None = None) -> str:
    """Compile an expression (parameters already substituted) to SQL for one engine.
    ``not_null`` names columns known never to be NULL (simpler SQL where that matters);
    ``shared`` maps subexpressions to the SQL of a value computed once beforehand."""
    col = column or (lambda n: quote_ident(n, dialect))
    done = shared or {}

    def go(n: Node) -> str:
        if n in done:
            return done[n]
        if isinstance(n, Col):
            return col(n.name)
        if isinstance(n, Lit):
            return sql_literal(n.value, dialect)
        if isinstance(n, Unary):
            inner = go(n.arg)
            if n.op == "not":
                return f"(NOT {inner})"
            if n.op == "neg":
                return f"(-{inner})"
            return f"({inner} IS {'NOT ' if n.op == 'notnull' else ''}NULL)"
        if isinstance(n, Binary):
            op = n.op.upper() if n.op in ("and", "or") else n.op
            return f"({go(n.left)} {op} {go(n.right)})"
        if isinstance(n, InList):
            items = ", ".join(sql_literal(i.value, dialect) for i in n.items)
            return f"({go(n.arg)} IN ({items}))"
        if isinstance(n, Case):
            parts = " ".join(f"WHEN {go(c)} THEN {go(v)}" for c, v in n.whens)
            return f"(CASE {parts} ELSE {go(n.default)} END)"
        if n.name in ("year", "month", "day"):
            arg = go(n.args[0])
            if dialect == "sqlite":
                fmt = {"year": "%Y", "month": "%m", "day": "%d"}[n.name]
                return f"CAST(strftime('{fmt}', {arg}) AS INTEGER)"
            if dialect == "postgres":
                return f"CAST(EXTRACT({n.name.upper()} FROM {arg}) AS INTEGER)"
            return f"{n.name.upper()}({arg})"
        if n.name == "starts_with":
            text, prefix = n.args
            assert isinstance(prefix, Lit) and isinstance(prefix.value, str)
            lit = sql_literal(prefix.value, dialect)
            if dialect != "duckdb":
                return f"(SUBSTR({go(text)}, 1, {len(prefix.value)}) = {lit})"
            # DuckDB: prefix() compares in place where SUBSTR builds a new string; a text
            # defaulted to '' never starts with a non-empty prefix, so the default need not
            # be built either
            if (prefix.value and isinstance(text, Func) and text.name == "coalesce"
                    and len(text.args) == 2 and text.args[1] == Lit("", "str")):
                return f"COALESCE(prefix({go(text.args[0])}, {lit}), FALSE)"
            return f"prefix({go(text)}, {lit})"
        if n.name == "coalesce":
            return f"COALESCE({', '.join(go(a) for a in n.args)})"
        # least / greatest: NULL if any argument is NULL, identically on every engine (the
        # engines' own functions differ on NULL; SQLite spells them min/max)
        if dialect == "duckdb":
            clamped = _duckdb_clamp(n, go, not_null)
            if clamped is not None:
                return clamped
        args = [go(a) for a in n.args]
        sqlite_fn = "MIN" if n.name == "least" else "MAX"
        fn = sqlite_fn if dialect == "sqlite" else n.name.upper()
        # only the arguments that can be NULL are tested (a literal never is)
        nullable = [a for a, node_ in zip(args, n.args, strict=True)
                    if may_be_null(node_, not_null)]
        if not nullable:
            return f"{fn}({', '.join(args)})"
        any_null = " OR ".join(f"{a} IS NULL" for a in nullable)
        return f"(CASE WHEN {any_null} THEN NULL ELSE {fn}({', '.join(args)}) END)"

    return go(node)
