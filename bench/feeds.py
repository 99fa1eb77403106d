"""Benchmark: a national feed of death and move events matched against a Parquet register on
DuckDB, with the effects on 育儿补贴 proposed.

    python bench/feeds.py [--n 30000000] [--events 1000000] [--years 2025,2026,2027]
                          [--dir /tmp/huimin-bench] [--threads N]

Uses the synthetic register of ``bench/rules_national.py`` (generated there, once; reused
while the file exists), generates the feed once (70 % deaths, 30 % moves, about 3 %
unmatched, 2 % quarantined, 1 % repeated rows), then runs, in a fresh process, read →
validate → match → re-evaluate each matched subject before and after its event for each
claim year → write the effects and the rejected events to Parquet, and reports wall time,
CPU time and the measuring process's peak resident memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
import rules_national  # the register generator

TODAY = dt.date(2026, 12, 1)
EPOCH = dt.date(1970, 1, 1)


def generate_events(register: Path, path: Path, n_register: int, n: int, seed: int = 13) -> None:
    rng = np.random.default_rng(seed)
    today = (TODAY - EPOCH).days
    reg = pq.read_table(register, columns=["birth_date", "death_date"])
    births = reg.column("birth_date").cast(pa.int32()).to_numpy()
    deaths = reg.column("death_date").cast(pa.int32()).to_numpy(zero_copy_only=False)
    del reg
    idx = rng.integers(0, n_register, n)
    unmatched = rng.random(n) < 0.03
    idx_known = np.where(unmatched, 0, idx)
    birth = births[idx_known]
    known_death = deaths[idx_known]
    # a date between birth and today (before a recorded death, for most)
    last = np.where(np.isnan(known_death), today, np.nan_to_num(known_death, nan=today))
    span = np.maximum(last.astype(np.int64) - birth, 0)
    day = birth + (rng.random(n) * (span + 1)).astype(np.int64)
    is_death = rng.random(n) < 0.7
    # a recorded death reported again: its own date (already recorded) for most
    day = np.where(is_death & ~np.isnan(known_death), np.nan_to_num(known_death), day)
    bad = rng.random(n)
    day = np.where(bad < 0.005, today + 1 + rng.integers(0, 300, n), day)  # future
    day = np.where((bad >= 0.005) & (bad < 0.01), birth - 1 - rng.integers(0, 300, n), day)
    codes = np.array([f"{c}{t:03d}{v:03d}" for c in rules_national.COUNTIES
                      for t in (1, 102, 203) for v in (1, 203, 204)])
    to_code = codes[rng.integers(0, len(codes), n)]
    to_code = np.where((bad >= 0.01) & (bad < 0.015), np.char.add(to_code, "9"), to_code)
    # the keys of a child not in the register for the unmatched ones
    who = np.where(unmatched, n_register + idx, idx)
    person = rules_national.person_keys(who)
    person_id = pc.binary_join_element_wise(
        "C", pc.utf8_lpad(pa.array(who).cast(pa.string()), 10, "0"), "")
    event_id = np.char.add("E", np.char.zfill(np.arange(n).astype(str), 9))
    dates = pa.array(day.astype(np.int32), pa.int32()).cast(pa.date32())
    table = pa.table({
        "event_id": event_id, "kind": np.where(is_death, "death", "move"),
        "person_key": pa.array(person, pa.int64()), "person_id": person_id,
        "death_date": pc.if_else(pa.array(is_death), dates, pa.scalar(None, pa.date32())),
        "moved_on": pc.if_else(pa.array(is_death), pa.scalar(None, pa.date32()), dates),
        "to_code": pc.if_else(pa.array(is_death), pa.scalar(None, pa.string()),
                              pa.array(to_code)),
    })
    # 1 % repeated rows; half of them with another date (a conflicting duplicate)
    rep = rng.choice(n, n // 100, replace=False)
    again = table.take(pa.array(rep))
    shift = pa.array(np.where(np.arange(len(rep)) % 2 == 0, 0, 1), pa.int32())
    again = again.set_column(4, "death_date", pc.cast(pc.add(
        pc.cast(again.column("death_date"), pa.int32()), shift), pa.date32()))
    table = pa.concat_tables([table, again])
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, compression="zstd", row_group_size=1_000_000)
    tmp.rename(path)


def measure(register: Path, events: Path, out: Path, rejects: Path, years: list[int],
            threads: int | None, key: str, memory_limit: str) -> dict[str, object]:
    from huimin.rules import load_programs
    from huimin.rules.feeds import propose_effects

    t0 = time.perf_counter()
    c0 = time.process_time()
    counts = propose_effects(register, events, out, catalog=load_programs(), years=years,
                             key=key, today=TODAY, rejects=rejects,
                             threads=threads, memory_limit=memory_limit or None)
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": round(secs, 3), "cpu_seconds": round(cpu, 3),
            "peak_rss_mib": round(peak_kib / 1024, 1), "counts": counts.to_dict(),
            "output_mib": round(out.stat().st_size / 2**20, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30_000_000, help="register rows")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--years", default="2025,2026,2027")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/huimin-bench"))
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--memory-limit", default="3GB",
                    help="DuckDB's memory limit ('' for its default, 80 %% of RAM)")
    ap.add_argument("--key", choices=["person_key", "person_id"], default="person_key",
                    help="match by the keyed hash (int64, default) or the text person_id")
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    register = args.dir / f"children-{args.n}.parquet"
    events = args.dir / f"feed-{args.events}-on-{args.n}.parquet"
    out = args.dir / f"effects-{args.events}-on-{args.n}.parquet"
    rejects = args.dir / f"rejects-{args.events}-on-{args.n}.parquet"
    years = [int(y) for y in args.years.split(",")]
    if args.measure:
        print(json.dumps(measure(register, events, out, rejects, years, args.threads,
                                 args.key, args.memory_limit)))
        return
    if register.exists() and "person_key" not in pq.read_schema(register).names:
        register.unlink()  # generated before the register had a person key
    if not register.exists():
        t0 = time.perf_counter()
        rules_national.generate(register, args.n)
        print(f"generated {args.n:,} children → {register} in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if events.exists() and "person_id" not in pq.read_schema(events).names:
        events.unlink()  # generated before the feed carried both keys
    if not events.exists():
        t0 = time.perf_counter()
        generate_events(register, events, args.n, args.events)
        print(f"generated {args.events:,} events → {events} in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    cmd = [sys.executable, __file__, "--measure", "--n", str(args.n), "--events",
           str(args.events), "--years", args.years, "--dir", str(args.dir), "--key", args.key,
           "--memory-limit", args.memory_limit]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    c = res["counts"]
    print(f"register        {args.n:,} subjects; claim years {args.years}; key {args.key}")
    print(f"events          read {c['read']:,}, distinct {c['events']:,}, "
          f"repeated rows {c['duplicates']:,}")
    print(f"                matched {c['matched']:,} (already recorded "
          f"{c['already_recorded']:,}), unmatched {c['unmatched']:,}, "
          f"quarantined {c['quarantined']:,} {c['quarantined_by_reason']}")
    print(f"effects         {c['effects']:,} {c['effects_by_kind']}")
    print(f"wall time       {res['seconds']} s  (read, validate, match, evaluate, write)")
    print(f"cpu time        {res['cpu_seconds']} s  (all threads)")
    print(f"peak memory     {res['peak_rss_mib']} MiB (RSS of the measuring process)")
    print(f"output          {out} ({res['output_mib']} MiB)")
    print(f"load            {os.getloadavg()[0]:.2f} (1-minute average after the run)")


if __name__ == "__main__":
    main()
