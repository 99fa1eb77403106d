"""Benchmark: a payment cycle of N entitlements built and exported, and an N-line return imported.

    DATABASE_URL=postgresql://huimin@127.0.0.1:55433/postgres \\
        python bench/payments.py --n 1000000

Creates a fresh database ``huimin_bench_payments`` on that server (dropping an old one),
migrates it, loads the demo county's areas, writes N approved 育儿补贴 cases with accounts
(COPY, untimed), then times, through the same actions the web UI and CLI use:
freezing the cycle, building the batch, the county approver's release, exporting the bank file
(CSV, UTF-8), importing the bank's N-line return (1 % failed, 0.2 % returned), importing the
same return again (changes nothing), and reconciling the cycle.

With ``--reuse-setup`` the database as it stands after the untimed setup is kept as a template
(``huimin_bench_payments_seed_N``) and later runs start from a copy of it, migrated to the
current code, instead of writing the N cases again.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

#: the bench database; another name lets several checkouts share one server
BENCH_DB = os.environ.get("HUIMIN_BENCH_DB", "huimin_bench_payments")


def _seed_name(n: int) -> str:
    return f"{BENCH_DB}_seed_{n}"


def _fresh_database(url: str, seed: str | None = None) -> tuple[str, bool]:
    """Recreate the bench database, from the seed template when it exists; returns its URL
    and whether it was copied from the seed."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        copied = seed is not None and conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [seed]).fetchone() is not None
        conn.execute(f"CREATE DATABASE {BENCH_DB}"
                     + (f" TEMPLATE {seed} STRATEGY FILE_COPY" if copied else ""))
    base, _, _ = url.rpartition("/")
    return f"{base}/{BENCH_DB}", copied


def _save_seed(url: str, seed: str) -> None:
    import psycopg
    from django.db import connection

    connection.close()  # a template database must have no other sessions
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {seed}")
        conn.execute(f"CREATE DATABASE {seed} TEMPLATE {BENCH_DB}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/huimin-bench-payments"))
    parser.add_argument("--layout", default="standard-csv")
    parser.add_argument("--reuse-setup", action="store_true",
                        help="keep the set-up database as a template and start from it")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL server (any database on it)")
    seed = _seed_name(args.n) if args.reuse_setup else None
    os.environ["DATABASE_URL"], copied = _fresh_database(url, seed)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huimin.settings")
    import django

    django.setup()
    run(args.n, args.out, args.layout, seed_from=None if copied or seed is None else (url, seed))


#: server settings that change the figures; a preloaded auto_explain with log_analyze times
#: every plan node of every statement and makes the large statements much slower
_SETTINGS = ("fsync", "synchronous_commit", "shared_buffers", "work_mem",
             "max_parallel_workers_per_gather", "jit", "shared_preload_libraries",
             "session_preload_libraries")


def server_settings() -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s) "
                    "ORDER BY name", [list(_SETTINGS)])
        rows = cur.fetchall()
    def shown(value: str, unit: str | None) -> str:
        if not value:
            return "''"
        if unit in ("8kB", "kB") and value.isdigit():  # sizes in MB
            return f"{int(value) * (8 if unit == '8kB' else 1) // 1024}MB"
        return value + (unit or "")

    text = ", ".join(f"{name}={shown(value, unit)}" for name, value, unit in rows)
    if any(value and name.endswith("preload_libraries") for name, value, _ in rows):
        text += "  (preloaded libraries: figures may include their overhead)"
    return text


def _cpu_seconds() -> float:
    """CPU time of this process plus, when the server runs on this machine, of the database
    session's backend (steadier than wall time on a shared machine)."""
    from django.db import connection

    total = time.process_time()
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return total
    return total + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(label: str, results: list[tuple[str, float]]) -> Any:
    class Timer:
        def __enter__(self) -> None:
            self.c0 = _cpu_seconds()
            self.t0 = time.perf_counter()

        def __exit__(self, *exc: object) -> None:
            seconds = time.perf_counter() - self.t0
            cpu = _cpu_seconds() - self.c0
            results.append((label, seconds))
            print(f"  {label:<34} {seconds:8.2f} s   (cpu {cpu:6.2f} s)", flush=True)

    return Timer()


def run(n: int, out: Path, layout: str, seed_from: tuple[str, str] | None = None) -> None:
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
    seeded = User.objects.filter(username="bench_finance").exists()
    if not seeded:
        load_county("445224")
        county = Area.objects.get(code="445224000000")
        for name, role in (("bench_finance", Role.FINANCE_OFFICER),
                           ("bench_county", Role.COUNTY_APPROVER)):
            user = User.objects.create_user(username=name, role=role, password="x" * 12)
            user.areas.set([county])
    finance = User.objects.get(username="bench_finance")
    approver = User.objects.get(username="bench_county")
    program = Program.objects.get(code="childcare-subsidy")
    print(f"PostgreSQL {connection.pg_version}, {os.cpu_count()} CPUs; N = {n:,}", flush=True)
    print(f"  server: {server_settings()}", flush=True)
    t0 = time.perf_counter()
    if not seeded:
        approved_cases(n, program=program, county="445224", claim_year=2026, actor=finance,
                       explanation={"rule_version": "childcare-subsidy@2025-07-28",
                                    "months": 12},
                       amount_fen=360000, months=12)
    with connection.cursor() as cur:  # as a live database is: vacuumed since the cases came
        cur.execute("VACUUM ANALYZE")
    if seed_from is not None:
        _save_seed(*seed_from)
    print(f"  (setup: {n:,} approved cases {'copied' if seeded else 'written'} in "
          f"{time.perf_counter() - t0:.1f} s)", flush=True)

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
