"""Benchmark: a county's 育儿补贴 cycle evaluated inside PostgreSQL.

    python bench/rules_county_pg.py --n 1000000 --database-url postgresql://…

Creates a synthetic registry table of N children in the database (not timed), then times the
compiled program as one ``CREATE TABLE … AS SELECT`` writing every entitlement with its
reasons — the set-based path a county deployment runs where its registry lives.
"""

from __future__ import annotations

import argparse
import os
import time

import psycopg

from huimin.rules import load_programs
from huimin.rules.compile import compile_program

SETUP = """
DROP TABLE IF EXISTS bench_registry;
CREATE TABLE bench_registry AS
SELECT 'C' || lpad(i::text, 10, '0') AS person_id,
       DATE '2021-01-01' + (hashint4(i) & 2047) % 1826 AS birth_date,
       CASE WHEN i % 1000 = 0 THEN DATE '2025-06-01' END AS death_date,
       '445224' || lpad(((i % 17) * 7 + 100)::text, 3, '0')
                || lpad(((i % 23) + 200)::text, 3, '0') AS hukou_area_code,
       CASE WHEN i % 2 = 0 THEN 'rural' ELSE 'urban' END AS hukou_type,
       NULL::text AS sex, (i % 3) + 1 AS birth_order,
       NULL::text AS parent1_hukou_area_code, NULL::text AS parent2_hukou_area_code,
       NULL::date AS claim_date, NULL::date AS spouse_birth_date,
       NULL::boolean AS policy_status_confirmed, NULL::bigint AS children_count,
       NULL::bigint AS daughters_count, NULL::bigint AS living_children_count,
       NULL::bigint AS child_disability_grade
FROM generate_series(1, %s) AS i;
ANALYZE bench_registry;
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--year", type=int, default=2025)
    ap.add_argument("--database-url", default=os.environ.get("HUIMIN_RULES_PG_URL")
                    or os.environ.get("DATABASE_URL"))
    args = ap.parse_args()
    if not args.database_url:
        raise SystemExit("give --database-url or set HUIMIN_RULES_PG_URL")
    program = load_programs().for_year("childcare-subsidy", args.year)
    query = compile_program(program, args.year, "postgres", "bench_registry")
    with psycopg.connect(args.database_url, autocommit=True) as con:
        con.execute(SETUP.replace("%s", str(int(args.n))).encode())
        con.execute(b"DROP TABLE IF EXISTS bench_entitlements")
        t0 = time.perf_counter()
        con.execute(f"CREATE TABLE bench_entitlements AS {query}".encode())
        secs = time.perf_counter() - t0
        row = con.execute(b"SELECT count(*), sum(amount_fen), count(DISTINCT reasons) "
                          b"FROM bench_entitlements").fetchone()
        con.execute(b"DROP TABLE bench_entitlements")
        con.execute(b"DROP TABLE bench_registry")
    assert row is not None
    n, fen, kinds = row
    print(f"rows            {n:,}")
    print(f"wall time       {secs:.3f} s  (evaluate and write entitlements with reasons)")
    print(f"throughput      {round(n / secs):,} rows/s")
    print(f"total amount    {fen / 100:,.2f} yuan; {kinds} distinct reasons")


if __name__ == "__main__":
    main()
