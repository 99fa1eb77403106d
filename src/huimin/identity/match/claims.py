"""Duplicate claims in a provincial or national snapshot (Parquet), on DuckDB.

A snapshot row is one claim: ``person_key`` (int64, the first 64 bits of the keyed hash of
the child's ID number — the same key on both sides, as a provincial deployment shares it),
``hukou_area_code`` (12 digits; its first six are the county). Optional: ``claimant_key``
(the applicant, e.g. a parent, same keying) and ``program_id``. A person is a duplicate claim
when their rows name two counties (``two_counties``), two claimants (``two_claimants``, e.g.
both parents for one child), two programmes of one snapshot of non-stacking programmes
(``two_programs``), or simply repeat (``repeated``).
"""

from __future__ import annotations

from collections.abc import Sequence
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


def duplicate_claims_sql(view: str, optional: set[str], *, only_keys: str | None = None) -> str:
    """SQL: one row per person with a duplicate claim (person_key, kind, claims, counties)."""
    checks = ["min(substr(hukou_area_code, 1, 6)) <> max(substr(hukou_area_code, 1, 6))"]
    kinds = [f"WHEN {checks[0]} THEN 'two_counties'"]
    for col, kind in (("claimant_key", "two_claimants"), ("program_id", "two_programs")):
        if col in optional:
            kinds.append(f"WHEN min({col}) <> max({col}) THEN '{kind}'")
    # two passes: the keys that repeat (one narrow aggregate over every row), then the
    # details of those few
    keys = (f"SELECT person_key FROM {view} WHERE person_key IN "
            f"(SELECT person_key FROM {only_keys}) GROUP BY 1 HAVING count(*) > 1"
            if only_keys else
            f"SELECT person_key FROM {view} GROUP BY 1 HAVING count(*) > 1")
    return f"""
        WITH dup AS ({keys})
        SELECT person_key, CASE {' '.join(kinds)} ELSE 'repeated' END AS kind,
               count(*) AS claims,
               list_sort(list(DISTINCT substr(hukou_area_code, 1, 6))) AS counties
        FROM {view} WHERE person_key IN (SELECT person_key FROM dup)
        GROUP BY person_key"""


def national(con: duckdb.DuckDBPyConnection, paths: Sequence[Path],
             out: str = "dup_claims") -> int:
    """Every duplicate claim of the snapshot into table ``out``; returns how many persons."""
    optional = open_snapshot(con, paths)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS {duplicate_claims_sql('claims', optional)}")
    found = con.execute(f"SELECT count(*) FROM {out}").fetchall()
    return int(found[0][0])


def against(con: duckdb.DuckDBPyConnection, paths: Sequence[Path], county: str,
            local: str, out: str = "dup_claims") -> int:
    """The county's own claims (table ``local``: person_key, hukou_area_code, and the
    optional columns) against the snapshot without the county's own rows: each local
    person with a claim elsewhere, into ``out``."""
    optional = open_snapshot(con, paths)
    cols = ", ".join(["person_key", "hukou_area_code", *sorted(optional)])
    local_cols = {str(r[0]) for r in con.execute(f"DESCRIBE {local}").fetchall()}
    local_sel = ", ".join(c if c in local_cols else f"NULL AS {c}"
                          for c in ["person_key", "hukou_area_code", *sorted(optional)])
    con.execute(f"""CREATE OR REPLACE TEMP VIEW both_claims AS
        SELECT {cols} FROM claims WHERE substr(hukou_area_code, 1, 6) <> {quote(county)}
        UNION ALL SELECT {local_sel} FROM {local}""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS "
                f"{duplicate_claims_sql('both_claims', optional, only_keys=local)}")
    found = con.execute(f"SELECT count(*) FROM {out}").fetchall()
    return int(found[0][0])
