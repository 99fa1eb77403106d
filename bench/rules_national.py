"""Benchmark: the national 育儿补贴 cycle on DuckDB over a Parquet registry snapshot.

    python bench/rules_national.py --n 30000000 [--year 2025] [--dir /tmp/huimin-bench]

Generates N synthetic children to Parquet (once; reused while the file exists), then runs, in
a fresh process, read → evaluate (national programme with the attached local schemes) →
write entitlements with their reasons to Parquet, and reports wall time, CPU time, rows/s and
the measuring process's peak resident memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CHUNK = 2_000_000
# county codes: ordinary counties plus Panzhihua (5104xx) and Hohhot (1501xx) ones
COUNTIES = ["445224", "440524", "110105", "510402", "510411", "150102", "150105", "320506",
            "420111", "610113", "530102", "370202"]


#: the key of the synthetic keyed hash of each child's identity (``person_key``)
PERSON_KEY_SALT = 0x5DEECE66D2B7E151


def person_keys(index: np.ndarray) -> np.ndarray:
    """The synthetic ``person_key`` (int64) of the children at ``index``: a keyed bijective
    mix of the row index, standing in for the first 64 bits of a keyed hash (HMAC) of the
    ID number by which a national register identifies a person."""
    x = index.astype(np.uint64) ^ np.uint64(PERSON_KEY_SALT)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return (x ^ (x >> np.uint64(31))).view(np.int64)


def generate(path: Path, n: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    epoch = dt.date(1970, 1, 1)
    lo = (dt.date(2021, 1, 1) - epoch).days
    hi = (dt.date(2025, 12, 31) - epoch).days
    pool = pa.array([f"{c}{t:03d}{v:03d}" for c in COUNTIES for t in (1, 101, 201)
                     for v in (1, 201, 202)])

    def pick(idx: np.ndarray) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), pool).dictionary_decode()

    schema = pa.schema([
        ("person_id", pa.string()), ("birth_date", pa.date32()), ("death_date", pa.date32()),
        ("hukou_area_code", pa.string()), ("hukou_type", pa.string()),
        ("birth_order", pa.int64()), ("parent1_hukou_area_code", pa.string()),
        ("parent2_hukou_area_code", pa.string()), ("claim_date", pa.date32()),
        ("person_key", pa.int64()),
    ])
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            ids = pc.binary_join_element_wise(
                "C", pc.utf8_lpad(pa.array(np.arange(start, start + m)).cast(pa.string()), 10,
                                  "0"), "")
            births = rng.integers(lo, hi, m).astype("int32")
            dead = rng.random(m) < 0.001
            death = np.where(dead, births + rng.integers(1, 400, m).astype("int32"), 0)
            areas = pick(rng.integers(0, len(pool), m))
            parent_same = rng.random(m) < 0.9
            parent1 = pc.if_else(pa.array(parent_same), areas,
                                 pick(rng.integers(0, len(pool), m)))
            two_parents = rng.random(m) < 0.85
            parent2 = pc.if_else(pa.array(two_parents), parent1, pa.scalar(None, pa.string()))
            batch = pa.record_batch([
                ids,
                pa.array(births, pa.int32()).cast(pa.date32()),
                pa.array(death, pa.int32(), mask=~dead).cast(pa.date32()),
                areas,
                pa.array(np.where(rng.random(m) < 0.45, "rural", "urban")),
                pa.array(rng.choice([1, 2, 3, 4], m, p=[0.55, 0.35, 0.08, 0.02])),
                parent1,
                parent2,
                pa.nulls(m, pa.date32()),
                pa.array(person_keys(np.arange(start, start + m)), pa.int64()),
            ], schema=schema)
            writer.write_batch(batch, row_group_size=1_000_000)
    tmp.rename(path)


def measure(src: Path, out: Path, year: int, threads: int | None) -> dict[str, float]:
    from huimin.rules import load_programs
    from huimin.rules.engines import eval_duckdb_parquet

    t0 = time.perf_counter()
    c0 = time.process_time()
    program = load_programs().for_year("childcare-subsidy", year)
    n = eval_duckdb_parquet(program, year, src, out, threads=threads)
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": n, "seconds": round(secs, 3), "cpu_seconds": round(cpu, 3),
            "rows_per_second": round(n / secs), "peak_rss_mib": round(peak_kib / 1024, 1),
            "output_mib": round(out.stat().st_size / 2**20, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30_000_000)
    ap.add_argument("--year", type=int, default=2025)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/huimin-bench"))
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    src = args.dir / f"children-{args.n}.parquet"
    out = args.dir / f"entitlements-{args.n}-{args.year}.parquet"
    if args.measure:
        print(json.dumps(measure(src, out, args.year, args.threads)))
        return
    if not src.exists():
        t0 = time.perf_counter()
        generate(src, args.n)
        print(f"generated {args.n:,} children → {src} in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
    cmd = [sys.executable, __file__, "--measure", "--n", str(args.n), "--year", str(args.year),
           "--dir", str(args.dir)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    print(f"rows            {res['rows']:,}")
    print(f"wall time       {res['seconds']} s  (read, evaluate, write with reasons)")
    print(f"cpu time        {res['cpu_seconds']} s  (all threads; compare runs on a busy machine)")
    print(f"throughput      {res['rows_per_second']:,} rows/s")
    print(f"peak memory     {res['peak_rss_mib']} MiB (RSS of the measuring process)")
    print(f"output          {out} ({res['output_mib']} MiB)")


if __name__ == "__main__":
    main()
