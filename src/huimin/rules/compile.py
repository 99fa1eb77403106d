"""Compile a resolved program for one claim year into one SQL query, for each engine.

The query reads a relation with the registry-view columns and returns, per subject,
``person_id, eligible (0/1), months, amount_fen, reasons, rule_version`` — the same values the
pure-Python path (``huimin.rules.evaluate``) gives for that subject.
"""

from __future__ import annotations

from collections.abc import Collection

from huimin.rules import expr
from huimin.rules.catalog import Program
from huimin.rules.columns import COLUMNS
from huimin.rules.document import ProgramDef
from huimin.rules.evaluate import (
    NOT_COVERED_ZH,
    REASON_SEP,
    breakdown_text,
    builtin_params,
    eligible_reason,
    not_stacked_reason,
)
from huimin.rules.expr import Dialect, quote_ident, sql_literal

RESULT_COLUMNS = ("person_id", "eligible", "months", "amount_fen", "reasons", "rule_version")
#: texts of up to 2**MAX_LOOKUP_CRITERIA failure combinations are precomputed
MAX_LOOKUP_CRITERIA = 7
#: eligible texts are precomputed for months 0..MAX_LOOKUP_MONTHS when the rate is constant
MAX_LOOKUP_MONTHS = 60


def sql_lookup(values: list[str], index: str, d: Dialect) -> str:
    """The ``index``-th (0-based) of constant texts; NULL when out of range."""
    items = ", ".join(sql_literal(v, d) for v in values)
    if d == "duckdb":
        return f"([{items}])[{index} + 1]"
    if d == "postgres":
        return f"(ARRAY[{items}]::text[])[{index} + 1]"
    if d == "spark":
        return f"try_element_at(array({items}), CAST({index} + 1 AS INT))"
    arms = " ".join(f"WHEN {k} THEN {sql_literal(v, d)}" for k, v in enumerate(values))
    return f"(CASE {index} {arms} END)"


def _eligible_table(program: Program, i: int, year: int) -> tuple[list[str], str, str] | None:
    """The eligible reasons of component ``i`` precomputed by (months, other components'
    eligibility), when its rate is a constant: ``(texts, index, guard)`` with the 0-based
    SQL index into ``texts``, valid where ``guard`` holds; None otherwise (the text is then
    built in SQL, which is also the fallback for months outside the precomputed range)."""
    comps = program.components
    doc = comps[i].doc
    rate = expr.substitute(doc.amount.rate_fen, builtin_params(year))
    if not (isinstance(rate, expr.Lit) and isinstance(rate.value, int)):
        return None
    others = [j for j in range(len(comps)) if j != i]
    if len(others) > 4:
        return None
    suffixes = ["".join(REASON_SEP + not_stacked_reason(comps[j].doc)
                        for pos, j in enumerate(others) if mask >> pos & 1)
                for mask in range(2 ** len(others))]
    omask = " + ".join(f"e_{j} * {2 ** pos}" for pos, j in enumerate(others)) or "0"
    r = rate.value
    if doc.amount.kind == "annual":
        head = eligible_reason(doc, breakdown_text(doc, year, 0, r, r))
        return [head + sfx for sfx in suffixes], f"({omask})", "1 = 1"
    texts = [eligible_reason(doc, breakdown_text(doc, year, m, r, m * r)) + sfx
             for m in range(MAX_LOOKUP_MONTHS + 1) for sfx in suffixes]
    return (texts, f"(mm_{i} * {len(suffixes)} + {omask})",
            f"mm_{i} >= 0 AND mm_{i} <= {MAX_LOOKUP_MONTHS}")


def _eligible_lookup(program: Program, i: int, year: int, d: Dialect) -> str | None:
    """A CASE arm giving the eligible reasons of component ``i`` by lookup (see
    ``_eligible_table``); None when there is no table."""
    table = _eligible_table(program, i, year)
    if d == "sqlite" or table is None:
        return None
    texts, idx, guard = table
    return f"WHEN {guard} THEN {sql_lookup(texts, idx, d)}"


def _failure_texts(doc: ProgramDef) -> list[str] | None:
    """Failure texts by bit mask of failed criteria (bit k = criterion k failed), when there
    are at most ``MAX_LOOKUP_CRITERIA`` criteria."""
    if len(doc.criteria) > MAX_LOOKUP_CRITERIA:
        return None
    return [REASON_SEP.join(c.fail_zh for k, c in enumerate(doc.criteria) if mask >> k & 1)
            for mask in range(2 ** len(doc.criteria))]


def reason_texts(program: Program, year: int) -> list[str] | None:
    """Every reasons text ``compile_program(..., reason_keys=True)`` can give, indexed by its
    ``reason_key`` (texts may repeat); None when some texts can only be built at run time
    (a rate that is not a constant, too many criteria or components), so the program has
    no key mode. Rows whose text is outside the table (months outside
    0..``MAX_LOOKUP_MONTHS``) get a NULL key."""
    out: list[str] = []
    for i, comp in enumerate(program.components):
        table = _eligible_table(program, i, year)
        fails = _failure_texts(comp.doc)
        if table is None or fails is None:
            return None
        out += table[0] + fails
    return [*out, NOT_COVERED_ZH]


def reason_codes(program: Program, year: int) -> list[tuple[str, ...]] | None:
    """The criteria codes behind each ``reason_key`` (the layout of ``reason_texts``): ``()``
    where the winning component is eligible, the codes of its failed criteria where it
    fails, ``("not_covered",)`` where no component covers the subject; None when the
    program has no key mode."""
    if reason_texts(program, year) is None:
        return None
    out: list[tuple[str, ...]] = []
    for i, comp in enumerate(program.components):
        table = _eligible_table(program, i, year)
        assert table is not None
        crits = comp.doc.criteria
        out += [()] * len(table[0])
        out += [tuple(c.code for k, c in enumerate(crits) if mask >> k & 1)
                for mask in range(2 ** len(crits))]
    return [*out, ("not_covered",)]


def version_texts(program: Program) -> list[str]:
    """``rule_version`` by the ``version_key`` of the key mode."""
    return [program.id, *(c.doc.rule_version for c in program.components)]


def _failure_mask(holds: list[str]) -> str:
    """SQL of the bit mask of failed criteria (bit k: criterion k failed or is NULL)."""
    return " + ".join(f"(CASE WHEN {h} THEN 0 ELSE {2 ** k} END)"
                      for k, h in enumerate(holds)) or "0"


def _text(d: Dialect) -> str:
    return "STRING" if d == "spark" else "TEXT"


def _intdiv(x: str, n: int, d: Dialect) -> str:
    if d == "duckdb":
        return f"({x} // {n})"
    if d == "spark":
        return f"({x} DIV {n})"
    return f"({x} / {n})"


def sql_int_text(x: str, d: Dialect) -> str:
    return f"CAST({x} AS {_text(d)})"


def sql_format_yuan(x: str, d: Dialect) -> str:
    """SQL twin of ``money.format_yuan`` for non-negative fen."""
    whole = sql_int_text(_intdiv(x, 100, d), d)
    frac = f"SUBSTR({sql_int_text(f'(100 + {x} % 100)', d)}, 2)"
    return f"(CASE WHEN {x} % 100 = 0 THEN {whole} ELSE {whole} || '.' || {frac} END)"


def _shared_date_parts(program: Program, names: dict[str, expr.Node],
                       dialect: Dialect) -> dict[expr.Node, str]:
    """DuckDB: the date parts (``YEAR(birth_date)`` …) to compute once per row, in the layer
    below the criteria, instead of in every criterion and amount using them (DuckDB shares
    no subexpression inside a CASE, and every criterion is one). Those used more than once
    and at least once by a component that covers every row: one that covers only some rows
    computes its criteria only there, which costs less than a date part on every row."""
    if dialect != "duckdb":
        return {}
    counts: dict[expr.Func, int] = {}
    everywhere: set[expr.Func] = set()
    for comp in program.components:
        doc = comp.doc
        nodes = [c.expression for c in doc.criteria] + [doc.amount.months, doc.amount.rate_fen]
        for node in nodes:
            for part in expr.date_parts(expr.substitute(node, names)):
                counts[part] = counts.get(part, 0) + 1
                if not comp.prefix and not comp.excluded:
                    everywhere.add(part)
    out: dict[expr.Node, str] = {}
    for fn in counts:
        col = fn.args[0]
        if counts[fn] > 1 and fn in everywhere and isinstance(col, expr.Col):
            out[fn] = f"dp_{fn.name}_{col.name}"
    return out


def compile_program(program: Program, year: int, dialect: Dialect, source: str,
                    carry: tuple[str, ...] = (), reason_keys: bool = False,
                    not_null: Collection[str] = ()) -> str:
    """One SELECT over ``source`` (a table name or a parenthesised query with alias).
    ``carry`` names source columns passed through first (e.g. a row number to order by).
    ``not_null`` names source columns the caller knows are never NULL (e.g. checked
    required columns), which lets some NULL tests be left out of the SQL.

    With ``reason_keys`` the texts are left to the caller: instead of ``reasons`` and
    ``rule_version`` the query returns ``reason_key``, the 0-based index into
    ``reason_texts(program, year)`` (NULL where the text is not in that table), and
    ``version_key``, the index into ``version_texts(program)``. Only for programs whose
    ``reason_texts`` is not None."""
    if reason_keys and reason_texts(program, year) is None:
        raise ValueError(f"{program.id}: reasons texts cannot all be precomputed")
    def q(name: str) -> str:
        return quote_ident(name, dialect)

    def lit(value: expr.Value) -> str:
        return sql_literal(value, dialect)

    names = builtin_params(year)
    comps = program.components
    shared = _shared_date_parts(program, names, dialect)

    def sql(node: expr.Node) -> str:
        return expr.to_sql(expr.substitute(node, names), dialect, not_null=not_null,
                           shared=shared)

    def nullable(node: expr.Node) -> bool:
        return expr.may_be_null(expr.substitute(node, names), not_null)

    # DuckDB: the area cover of each local scheme and the shared date parts, computed once
    # below the layer using them
    covers: list[str] = [f"{expr.to_sql(node, dialect)} AS {name}"
                         for node, name in shared.items()]
    inner: list[str] = [f"{q(c)} AS {q(c)}" for c in (*carry, "person_id")]
    mid: list[str] = [q(c) for c in (*carry, "person_id")]
    ranks: list[str] = []
    fails: list[list[str]] = []  # per component, the SQL of each criterion holding
    needed: set[str] = set()
    passing: list[str] = []
    for i, comp in enumerate(comps):
        doc = comp.doc
        # coverage by area ------------------------------------------------------------
        conds = []
        if comp.prefix:
            conds.append(f"(SUBSTR({q('hukou_area_code')}, 1, {len(comp.prefix)}) = "
                         f"{lit(comp.prefix)})")
        for x in comp.excluded:
            conds.append(f"(NOT (SUBSTR({q('hukou_area_code')}, 1, {len(x)}) = {lit(x)}))")
        cover = " AND ".join(conds) if conds else "1 = 1"
        # DuckDB: the cover once, in a layer below (on PostgreSQL the layer costs more than
        # repeating the test)
        covered = cover
        if not conds:
            inner.append(f"1 AS cov_{i}")
        elif dialect == "duckdb":
            covers.append(f"CASE WHEN {cover} THEN 1 ELSE 0 END AS cov_{i}")
            inner.append(f"cov_{i}")
            covered = f"cov_{i} = 1"
        else:
            inner.append(f"CASE WHEN {cover} THEN 1 ELSE 0 END AS cov_{i}")

        def guarded(sql: str, covered: str = covered, always: bool = not conds) -> str:
            # criteria and amounts of a component are only computed where it covers the row
            return sql if always else f"CASE WHEN {covered} THEN {sql} ELSE 0 END"

        def or_zero(node: expr.Node) -> str:
            return f"COALESCE({sql(node)}, 0)" if nullable(node) else sql(node)

        # passes all: covered and every criterion holds (a NULL criterion fails), as 1/0 in
        # one CASE over their conjunction, which DuckDB evaluates as selections: a later
        # criterion only where the earlier ones held, none where the component does not
        # cover the row (a 0/1 column per criterion multiplied out cost it a sixth more)
        holds = [f"({sql(c.expression)})" for c in doc.criteria]
        passes = " AND ".join(([] if not conds else [covered]) + holds) or "1 = 1"
        passing.append(f"CASE WHEN {passes} THEN 1 ELSE 0 END AS e_{i}")
        for value, name in ((doc.amount.months, f"m_{i}"), (doc.amount.rate_fen, f"r_{i}")):
            # a constant needs no guard: it is only used where the component covers the row
            constant = isinstance(expr.substitute(value, names), expr.Lit)
            inner.append(f"{or_zero(value) if constant else guarded(or_zero(value))} AS {name}")
        # the factor 0 comes first, so an amount is never multiplied out where it fails
        amount = f"m_{i} * r_{i}" if doc.amount.kind == "monthly" else f"r_{i}"
        mid.append(f"e_{i}")
        mid.append(f"e_{i} * m_{i} AS mm_{i}")
        mid.append(f"e_{i} * r_{i} AS rr_{i}")
        mid.append(f"CAST(e_{i} * {amount} AS BIGINT) AS a_{i}")
        # which criteria failed is only reported where the component wins and fails: the
        # criteria are evaluated again there, on the columns carried up, not on every row
        fails.append(holds)
        needed |= {col for c in doc.criteria for col in expr.columns_of(c.expression)
                   if col in COLUMNS}
        mid.append(f"cov_{i}")
        # the rank: the amount where the component covers the row, else -1
        ranks.append(f"CAST(e_{i} * {amount} AS BIGINT) + cov_{i} - 1 AS k_{i}")
    mid.extend(ranks)
    # the columns the failed criteria are evaluated on, carried up to the reasons
    raised = [q(col) for col in sorted(needed - {*carry, "person_id"})] + list(shared.values())
    # the passes after the months and rates: DuckDB ran this layer about 10 % faster so
    inner.extend(passing)
    inner.extend(raised)
    mid.extend(raised)

    # the winner: first covered component with the highest amount -------------------------
    win_cases = []
    for i in range(len(comps)):
        conds = [f"k_{i} >= 0"]
        conds += [f"k_{i} > k_{j}" for j in range(i)]
        conds += [f"k_{i} >= k_{j}" for j in range(i + 1, len(comps))]
        win_cases.append(f"WHEN {' AND '.join(conds)} THEN {i}")
    winner = f"CASE {' '.join(win_cases)} ELSE -1 END"

    def pick(col: str, default: str) -> str:
        arms = " ".join(f"WHEN w = {i} THEN {col.format(i=i)}" for i in range(len(comps)))
        return f"CASE {arms} ELSE {default} END"

    reason_arms = []
    key_arms = []
    offset = 0
    for i, comp in enumerate(comps):
        if reason_keys:
            table = _eligible_table(program, i, year)
            fail_texts = _failure_texts(comp.doc)
            assert table is not None and fail_texts is not None
            texts, idx, guard = table
            mask = _failure_mask(fails[i])
            key_arms.append(f"WHEN w = {i} AND e_{i} = 1 THEN "
                            f"CASE WHEN {guard} THEN {offset} + {idx} END "
                            f"WHEN w = {i} THEN {offset + len(texts)} + ({mask})")
            offset += len(texts) + len(fail_texts)
            continue
        doc = comp.doc
        others = [j for j in range(len(comps)) if j != i]
        fast = _eligible_lookup(program, i, year, dialect)
        prefix = lit(eligible_reason(doc, ""))
        if doc.amount.kind == "monthly":
            breakdown = (f"{sql_int_text(f'mm_{i}', dialect)} || ' 个月 × ' || "
                         f"{sql_format_yuan(f'rr_{i}', dialect)} || ' 元 = ' || "
                         f"{sql_format_yuan(f'a_{i}', dialect)} || ' 元'")
        else:
            breakdown = (f"'{year} 年度定额 ' || {sql_format_yuan(f'a_{i}', dialect)} "
                         "|| ' 元'")
        suffix = "".join(
            f" || (CASE WHEN e_{j} = 1 THEN "
            f"{lit(REASON_SEP + not_stacked_reason(comps[j].doc))} ELSE '' END)"
            for j in others)
        ok = f"{prefix} || {breakdown}{suffix}"
        if fast is not None:
            ok = f"(CASE {fast} ELSE {ok} END)"
        fail_texts = _failure_texts(doc)
        if fail_texts is not None:
            # the failure text as a lookup on the bit mask of failed criteria
            failed = sql_lookup(fail_texts, f"({_failure_mask(fails[i])})", dialect)
        else:
            failed = "SUBSTR(" + " || ".join(
                f"(CASE WHEN {h} THEN '' ELSE {lit(REASON_SEP + c.fail_zh)} END)"
                for h, c in zip(fails[i], doc.criteria, strict=True)) + ", 2)"
        reason_arms.append(f"WHEN w = {i} AND e_{i} = 1 THEN {ok} WHEN w = {i} THEN {failed}")
    if reason_keys:
        reasons = f"CASE {' '.join(key_arms)} ELSE {offset} END AS {q('reason_key')}"
        versions = f"w + 1 AS {q('version_key')}"
    else:
        reasons = (f"CASE {' '.join(reason_arms)} ELSE {lit(NOT_COVERED_ZH)} END "
                   f"AS {q('reasons')}")
        versions = "CASE " + " ".join(
            f"WHEN w = {i} THEN {lit(c.doc.rule_version)}" for i, c in enumerate(comps)
        ) + f" ELSE {lit(program.id)} END AS {q('rule_version')}"

    # Keep the layers apart: PostgreSQL and SQLite would otherwise merge them and repeat
    # each layer's expressions in the next (no common subexpression elimination).
    fence = {"postgres": " OFFSET 0", "sqlite": " LIMIT -1 OFFSET 0"}.get(dialect, "")
    if covers:
        source = f"(SELECT *, {', '.join(covers)} FROM {source}{fence}) t0"
    return (
        f"SELECT {''.join(q(c) + ', ' for c in carry)}{q('person_id')}, "
        f"{pick('e_{i}', '0')} AS {q('eligible')}, "
        f"{pick('mm_{i}', '0')} AS {q('months')}, "
        f"{pick('a_{i}', '0')} AS {q('amount_fen')}, "
        f"{reasons}, {versions} "
        f"FROM (SELECT *, {winner} AS w FROM ("
        f"SELECT {', '.join(mid)} FROM (SELECT {', '.join(inner)} FROM {source}{fence}) t1"
        f"{fence}) t2{fence}) t3"
    )
