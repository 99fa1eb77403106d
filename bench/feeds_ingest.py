"""Benchmark: a county's death and move feeds loaded through the same ingest the web UI and
CLI use (issue 13: 10,000 events against a million persons, effects proposed, under 10 s).

    # once, untimed (a few minutes): the register, in an empty database
    DATABASE_URL=postgresql://huimin@127.0.0.1:55432/hm_feeds_bench HUIMIN_DEV_KEYS=1 \\
        python bench/county_register.py --persons 1000000 --cases 50000
    # then, as often as wanted (each run's events are new):
    DATABASE_URL=postgresql://huimin@127.0.0.1:55432/hm_feeds_bench HUIMIN_DEV_KEYS=1 \\
        python bench/feeds_ingest.py --events 10000
    # SQLite, register and run in one go:
    HUIMIN_VAR_DIR=$(mktemp -d) HUIMIN_DEV_KEYS=1 \\
        python bench/feeds_ingest.py --persons 30000 --cases 3000 --events 2000

Without a register in the database, ``--persons``/``--cases`` build one first
(``bench/county_register.py``, untimed). Then ``--events`` living, not moved-out persons are
picked — a fifth of them subjects of open cases, a fifth parents of such children, the rest
anyone — and written as a death file (70 %) and a move file (30 %; half within the county,
half to another county). Timed: ``verification.ingest.ingest_file`` for both — reading,
checking, matching by keyed hash, storing every row sealed and proposing the effects the rules
engine finds. ``--profile`` writes a cProfile of the timed part to ``feeds_ingest.prof``.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import os
import random
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _pick(events: int, seed: int) -> list[Any]:
    from huimin.cases.models import Case
    from huimin.registry.models import ParentChild, Person
    from huimin.verification.effects import CLOSED_STATES

    alive = Person.objects.filter(death_date=None, moved_out_on=None)
    subjects = list(Case.objects.exclude(state__in=CLOSED_STATES)
                    .values_list("subject_id", flat=True).order_by("?")[:events // 5])
    parents = list(ParentChild.objects.filter(child_id__in=subjects[:events // 5])
                   .values_list("parent_id", flat=True).order_by("?")[:events // 5])
    chosen = list(dict.fromkeys(subjects + parents))
    rest = list(alive.exclude(pk__in=chosen).values_list("id", flat=True)
                .order_by("?")[:events - len(chosen)])
    ids = chosen + rest
    random.Random(seed).shuffle(ids)
    by_id = {p.pk: p for p in alive.filter(pk__in=ids).select_related("area")}
    return [by_id[i] for i in ids if i in by_id]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=3000)
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huimin.settings")
    import django

    django.setup()
    from county_register import build_register
    from django.core.management import call_command
    from django.utils import timezone

    from huimin.accounts.models import User
    from huimin.registry.models import Area, Person
    from huimin.verification import ingest

    call_command("migrate", interactive=False, verbosity=0)
    if not Person.objects.exists():
        start = time.perf_counter()
        stats = build_register(args.persons, cases=args.cases, seed=args.seed)
        print(f"register built in {time.perf_counter() - start:.1f} s: {stats}")
    print(f"register: {Person.objects.count()} persons")
    county = User.objects.get(username="county")
    people = _pick(args.events, args.seed + int(time.time()))
    today = timezone.localdate()
    rng = random.Random(args.seed)
    inside = list(Area.objects.filter(level="village", code__startswith="445224")
                  .values_list("code", flat=True))
    outside = sorted(c for c in ingest._snapshot_villages() if c[:6] in ("445222", "445281"))[:9]
    tag = f"{time.time_ns():x}"
    files: dict[str, list[list[str]]] = {
        "death": [["event_id", "id_number", "name", "death_date"]],
        "move": [["event_id", "id_number", "name", "moved_on", "to_code"]]}
    for i, p in enumerate(people):
        day = max(p.birth_date, date(today.year, 1, 1)).isoformat()
        if i % 10 < 7:
            files["death"].append([f"B{tag}-{i}", p.id_number, p.name, day])
        else:
            to = rng.choice(inside if i % 2 else outside)
            if to == p.area.code:
                to = inside[0] if to != inside[0] else inside[1]
            files["move"].append([f"B{tag}-{i}", p.id_number, p.name, day, to])
    profiler = cProfile.Profile() if args.profile else None
    total_rows = total_effects = 0
    total = 0.0
    for kind, rows in files.items():
        buf = io.StringIO()
        csv.writer(buf).writerows(rows)
        data = buf.getvalue().encode()
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        summary = ingest.ingest_file(county, data, f"bench-{kind}.csv", kind=kind, via="cli")
        if profiler:
            profiler.disable()
        took = time.perf_counter() - start
        f = summary.file
        total += took
        total_rows += f.rows_read
        total_effects += summary.effects
        print(f"{f.rows_read} {kind} rows ingested in {took:.2f} s "
              f"({1000 * took / max(f.rows_read, 1):.2f} ms a row): matched {f.matched}, "
              f"quarantined {f.quarantined}, effects proposed {summary.effects}")
    print(f"total: {total_rows} events in {total:.2f} s "
          f"({1000 * total / max(total_rows, 1):.2f} ms a row), {total_effects} effects")
    if profiler:
        profiler.dump_stats("feeds_ingest.prof")


if __name__ == "__main__":
    main()
