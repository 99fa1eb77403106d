"""Benchmark: a county death feed loaded through the same ingest the web UI and CLI use.

    HUIMIN_VAR_DIR=$(mktemp -d) HUIMIN_DEV_KEYS=1 \\
        python bench/feeds_ingest.py --persons 3000 --events 1000
    DATABASE_URL=postgresql://huimin@127.0.0.1:55432/<empty db> HUIMIN_DEV_KEYS=1 \\
        python bench/feeds_ingest.py --persons 3000 --events 1000

Builds the demo county (``huimin.demo.build``, untimed) in the configured database, writes a
death file for ``--events`` living persons picked at random, then times
``verification.ingest.ingest_file``: reading, checking, matching by keyed hash, storing every
row sealed and proposing the effects the rules engine finds (one row and its effects at a
time). Use an empty database: the demo county is written into it.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import time
from datetime import date


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=3000)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huimin.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from huimin.accounts.models import User
    from huimin.demo import build
    from huimin.registry.models import Person
    from huimin.verification import ingest

    call_command("migrate", interactive=False, verbosity=0)
    start = time.perf_counter()
    build(args.persons, args.seed, timezone.localdate())
    print(f"demo county of {args.persons} persons built in {time.perf_counter() - start:.1f} s")
    county = User.objects.get(username="county")
    people = list(Person.objects.filter(death_date=None).order_by("?")[:args.events])
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["event_id", "id_number", "name", "death_date"])
    today = timezone.localdate()
    for i, p in enumerate(people):
        died = max(p.birth_date, date(today.year, 1, 1))
        writer.writerow([f"BENCH-{i}", p.id_number, p.name, died.isoformat()])
    data = buf.getvalue().encode()
    start = time.perf_counter()
    summary = ingest.ingest_file(county, data, "bench.csv", kind="death", via="cli")
    took = time.perf_counter() - start
    f = summary.file
    print(f"{f.rows_read} death rows ingested in {took:.1f} s ({1000 * took / f.rows_read:.1f} ms"
          f" a row): matched {f.matched}, effects proposed {summary.effects}")


if __name__ == "__main__":
    main()
