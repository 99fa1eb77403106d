"""Benchmark: a payment cycle of N entitlements built and exported, and an N-line return imported.

    DATABASE_URL=postgresql://huimin@127.0.0.1:55433/postgres \\
        python bench/payments.py --n 1000000

Creates a fresh database ``huimin_bench_payments`` on that server (dropping an old one),
migrates it, loads the demo county's areas, writes N approved 育儿补贴 cases with accounts
(COPY, untimed), then times, through the same actions the web UI and CLI use:
freezing the cycle, building the batch, the county approver's release, exporting the bank file
(CSV, UTF-8), importing the bank's N-line return (1 % failed, 0.2 % returned), importing the
same return again (changes nothing), and reconciling the cycle.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DB = "huimin_bench_payments"


def _fresh_database(url: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    base, _, _ = url.rpartition("/")
    return f"{base}/{BENCH_DB}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/huimin-bench-payments"))
    parser.add_argument("--layout", default="standard-csv")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL server (any database on it)")
    os.environ["DATABASE_URL"] = _fresh_database(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huimin.settings")
    import django

    django.setup()
    run(args.n, args.out, args.layout)


def timed(label: str, results: list[tuple[str, float]]) -> Any:
    class Timer:
        def __enter__(self) -> None:
            self.t0 = time.perf_counter()

        def __exit__(self, *exc: object) -> None:
            seconds = time.perf_counter() - self.t0
            results.append((label, seconds))
            print(f"  {label:<34} {seconds:8.2f} s", flush=True)

    return Timer()


def run(n: int, out: Path, layout: str) -> None:
    from django.core.management import call_command
    from django.db import connection

    from huimin.accounts.models import Role, User
    from huimin.payments import actions, reconcile
    from huimin.payments.models import PaymentLine
    from huimin.payments.synth import approved_cases
    from huimin.programs.models import Program
    from huimin.registry.areas import load_county
    from huimin.registry.models import Area

    out.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=0)
    load_county("445224")
    county = Area.objects.get(code="445224000000")
    users = {}
    for name, role in (("bench_finance", Role.FINANCE_OFFICER),
                       ("bench_county", Role.COUNTY_APPROVER)):
        users[name] = User.objects.create_user(username=name, role=role, password="x" * 12)
        users[name].areas.set([county])
    finance, approver = users["bench_finance"], users["bench_county"]
    program = Program.objects.get(code="childcare-subsidy")
    print(f"PostgreSQL {connection.pg_version}, {os.cpu_count()} CPUs; N = {n:,}", flush=True)
    t0 = time.perf_counter()
    approved_cases(n, program=program, county="445224", claim_year=2026, actor=finance,
                   explanation={"rule_version": "childcare-subsidy@2025-07-28", "months": 12},
                   amount_fen=360000, months=12)
    with connection.cursor() as cur:  # as a live database is: vacuumed since the cases came
        cur.execute("VACUUM ANALYZE")
    print(f"  (setup: {n:,} approved cases written in {time.perf_counter() - t0:.1f} s)",
          flush=True)

    results: list[tuple[str, float]] = []
    with timed("freeze cycle (entitlements)", results):
        cycle = actions.build_cycle(finance, program=program, claim_year=2026)
    with timed("build batch", results):
        batch = actions.create_batch(finance, cycle, layout=layout)
    with timed("release (second person)", results):
        actions.release_batch(approver, batch)
    with timed("export bank file", results):
        data = actions.export_batch(finance, batch)
    (out / f"{batch.number}.{layout}").write_bytes(data)
    with timed("export again (same bytes)", results):
        again = actions.export_batch(finance, batch)
    assert again == data
    built = sum(s for label, s in results[:4])
    print(f"  => cycle built and exported: {built:.2f} s "
          f"({batch.line_count:,} lines, {len(data) / 1e6:.1f} MB)", flush=True)

    failed = {}
    returned = set()
    refs = (PaymentLine.objects.filter(batch=batch).order_by("seq")
            .values_list("seq", flat=True).iterator(50000))
    for seq in refs:
        ref = f"{batch.number}-{seq:06d}"
        if seq % 100 == 7:
            failed[ref] = "账户已冻结"
        elif seq % 500 == 11:
            failed[ref] = "账户已销户，资金退回"
            returned.add(ref)
    ret = actions.sample_return(batch, failed, returned)
    (out / f"{batch.number}-return.csv").write_bytes(ret)
    with timed("import return", results):
        counts = actions.import_return(finance, batch, ret)
    print(f"     {counts}", flush=True)
    with timed("import the same return again", results):
        counts = actions.import_return(finance, batch, ret)
    with timed("reconcile", results):
        report = reconcile.reconcile(cycle)
    print(f"  reconciliation: {'no variance' if report.all_ok else report.variances[:5]}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS of this process: {peak:,.0f} MB")
    print(f"RESULT n={n} build+export={built:.2f}s import={results[5][1]:.2f}s")


if __name__ == "__main__":
    main()
