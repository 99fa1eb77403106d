"""Duplicate claims in a provincial or national snapshot (Parquet), on DuckDB.

A snapshot row is one claim: ``person_key`` (int64, the first 64 bits of the keyed hash of
the child's ID number — the same key on both sides, as a provincial deployment shares it),
``hukou_area_code`` (12 digits; its first six are the county). Optional: ``claimant_key``
(the applicant, e.g. a parent, same keying) and ``program_id`` (the programme's id in the
rules catalogue). A person is a duplicate claim when their rows name two counties
(``two_counties``), or when two rows claim one programme, or two programmes of one stacking
group of which only the higher pays (the rules' ``stacking``): by two claimants
(``two_claimants``, e.g. both parents for one child), as two programmes (``two_programs``),
or simply again (``repeated``). Programmes that stack (奖励扶助 and 特别扶助) are no
duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb

from huimin.identity.match import MatchInputError
from huimin.identity.match.prepare import quote

REQUIRED = {"person_key": ("BIGINT", "HUGEINT", "INTEGER", "UBIGINT"),
            "hukou_area_code": ("VARCHAR",)}
OPTIONAL = ("claimant_key", "program_id")


def open_snapshot(con: duckdb.DuckDBPyConnection, paths: Sequence[Path],
                  view: str = "claims") -> set[str]:
    """A view over the snapshot files; the optional columns present. Raises
    MatchInputError naming the reason for an unreadable file or another schema."""
    for p in paths:
        if not p.is_file():
            raise MatchInputError(f"--snapshot：文件 {p} 不存在")
    files = "[" + ", ".join(quote(str(p)) for p in paths) + "]"
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM "
                    f"read_parquet({files}, union_by_name = true)")
        cols = {str(r[0]): str(r[1]) for r in
                con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()}
    except duckdb.Error as exc:
        raise MatchInputError(f"--snapshot：不是可读的 Parquet 快照"
                              f"（{str(exc).splitlines()[0]}）") from None
    for col, types in REQUIRED.items():
        if col not in cols:
            raise MatchInputError(f"--snapshot：快照格式不符，缺少列 {col}"
                                  f"（应有 person_key、hukou_area_code）")
        if cols[col] not in types:
            raise MatchInputError(f"--snapshot：快照格式不符，列 {col} 的类型是 {cols[col]}，"
                                  f"应为 {' 或 '.join(types)}")
    return {c for c in OPTIONAL if c in cols}


def _groups_sql(groups: Mapping[str, str]) -> str:
    """The programmes that do not stack, as a VALUES list (programme, group)."""
    rows = ", ".join(f"({quote(p)}, {quote(g)})" for p, g in sorted(groups.items()))
    return (f"SELECT * FROM (VALUES {rows}) AS g(program_id, stacking_group)" if rows else
            "SELECT NULL::VARCHAR AS program_id, NULL::VARCHAR AS stacking_group WHERE false")


def duplicate_claims_sql(view: str, optional: set[str], *, only_keys: str | None = None,
                         groups: Mapping[str, str] | None = None) -> str:
    """SQL: one row per person with a duplicate claim (person_key, kind, claims, counties).

    Rows of one person conflict when they name two counties, or when two of them fall in
    one *slot*: the same programme, or two programmes of one stacking group whose rule is
    that only the higher pays (``groups``: programme → group). Without ``program_id`` every
    row of a person is one slot. Within a slot: two claimants, two programmes, or a repeat.
    """
    has_program = "program_id" in optional
    claimant = "claimant_key" if "claimant_key" in optional else "NULL::BIGINT"
    slot = ("coalesce(g.stacking_group, c.program_id::VARCHAR)" if has_program
            else "NULL::VARCHAR")
    join = (f"LEFT JOIN ({_groups_sql(groups or {})}) AS g "
            f"ON g.program_id = c.program_id::VARCHAR" if has_program else "")
    program = "c.program_id::VARCHAR" if has_program else "NULL::VARCHAR"
    # two passes: the keys that repeat (one narrow aggregate over every row), then the
    # details of those few
    keys = (f"SELECT person_key FROM {view} WHERE person_key IN "
            f"(SELECT person_key FROM {only_keys}) GROUP BY 1 HAVING count(*) > 1"
            if only_keys else
            f"SELECT person_key FROM {view} GROUP BY 1 HAVING count(*) > 1")
    return f"""
        WITH dup AS ({keys}),
        rows AS (
            SELECT c.person_key, substr(c.hukou_area_code, 1, 6) AS county,
                   {claimant} AS claimant, {program} AS program, {slot} AS slot
            FROM {view} AS c {join}
            WHERE c.person_key IN (SELECT person_key FROM dup)),
        per_person AS (
            SELECT person_key, count(*) AS claims, min(county) <> max(county) AS two_counties,
                   list_sort(list(DISTINCT county)) AS counties
            FROM rows GROUP BY person_key),
        per_slot AS (
            SELECT person_key, count(*) AS n, min(claimant) <> max(claimant) AS two_claimants,
                   min(program) <> max(program) AS two_programs
            FROM rows GROUP BY person_key, slot)
        SELECT p.person_key,
               CASE WHEN p.two_counties THEN 'two_counties'
                    WHEN bool_or(s.n > 1 AND coalesce(s.two_claimants, false))
                        THEN 'two_claimants'
                    WHEN bool_or(s.n > 1 AND coalesce(s.two_programs, false))
                        THEN 'two_programs'
                    ELSE 'repeated' END AS kind,
               p.claims, p.counties
        FROM per_person AS p JOIN per_slot AS s USING (person_key)
        GROUP BY p.person_key, p.two_counties, p.claims, p.counties
        HAVING p.two_counties OR max(s.n) > 1"""


def national(con: duckdb.DuckDBPyConnection, paths: Sequence[Path],
             out: str = "dup_claims", *, groups: Mapping[str, str] | None = None) -> int:
    """Every duplicate claim of the snapshot into table ``out``; returns how many persons."""
    optional = open_snapshot(con, paths)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS "
                f"{duplicate_claims_sql('claims', optional, groups=groups)}")
    found = con.execute(f"SELECT count(*) FROM {out}").fetchall()
    return int(found[0][0])


def against(con: duckdb.DuckDBPyConnection, paths: Sequence[Path], county: str,
            local: str, out: str = "dup_claims", *,
            groups: Mapping[str, str] | None = None) -> int:
    """The county's own claims (table ``local``: person_key, hukou_area_code, and any of the
    optional columns — one row per claim) among themselves and against the snapshot without
    the county's own rows: each local person with a conflicting claim, into ``out``."""
    optional = open_snapshot(con, paths)
    local_cols = {str(r[0]) for r in con.execute(f"DESCRIBE {local}").fetchall()}
    present = optional | (local_cols & set(OPTIONAL))
    names = ["person_key", "hukou_area_code", *sorted(present)]
    casts = {"claimant_key": "BIGINT", "program_id": "VARCHAR"}

    def select(cols: set[str]) -> str:
        return ", ".join(c if c in cols or c in REQUIRED else f"NULL::{casts[c]} AS {c}"
                         for c in names)

    con.execute(f"""CREATE OR REPLACE TEMP VIEW both_claims AS
        SELECT {select(optional)} FROM claims
        WHERE substr(hukou_area_code, 1, 6) <> {quote(county)}
        UNION ALL BY NAME SELECT {select(local_cols)} FROM {local}""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS "
                f"{duplicate_claims_sql('both_claims', present, only_keys=local, groups=groups)}")
    found = con.execute(f"SELECT count(*) FROM {out}").fetchall()
    return int(found[0][0])
