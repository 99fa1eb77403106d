"""Benchmark: duplicate persons in a 1-million-person register, duplicate claims over a
national snapshot of 30 million children, and the matcher's quality on the damaged set.

    python bench/duplicates.py [--persons 1000000] [--children 30000000] [--dir /tmp/huimin-bench]

1. Builds the damaged register (``damage.build_region``: five counties, seed 11; the model was
   trained on seed 1) to Parquet with its true pairs, once; then, in a fresh process, what
   ``huimin registry duplicates --input --output`` does (read, derive, block, score, write
   CSV), reporting wall time and the peak resident memory; then precision and recall of the
   pairs at 0.9 or more against the true pairs, and the set's make-up.
2. Takes the national children snapshot of ``bench/rules_national.py`` (generated if absent),
   adds 30,000 duplicate claims (half the same child in another county, half the same child
   by a second claimant), and times ``claims.national`` over both files in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def build_register(d: Path, persons: int) -> tuple[Path, Path, Path]:
    from huimin.identity.match import damage

    src, truth, makeup = (d / f"dup-register-{persons}.parquet",
                          d / f"dup-truth-{persons}.parquet", d / f"dup-makeup-{persons}.json")
    if not src.exists():
        t0 = time.perf_counter()
        ts = damage.build_region(persons, seed=11)
        pq.write_table(ts.table, src)
        a, b = zip(*sorted(ts.truth), strict=True)
        pq.write_table(pa.table({"a": list(a), "b": list(b)}), truth)
        makeup.write_text(json.dumps(ts.makeup, ensure_ascii=False, indent=1))
        print(f"built {ts.table.num_rows:,} rows → {src} in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
    return src, truth, makeup


def measure_register(src: Path, out: Path) -> dict[str, float]:
    import duckdb

    from huimin.identity.match import pairs, prepare

    t0 = time.perf_counter()
    con = duckdb.connect()
    n_rows = prepare.load(con, src)
    t1 = time.perf_counter()
    n = pairs.score(con, ["people"], 0.5)
    pairs.write_csv(con, str(out))
    secs = time.perf_counter() - t0
    return {"rows": n_rows, "pairs": n, "seconds": round(secs, 2),
            "prepare_seconds": round(t1 - t0, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def quality(out: Path, truth: Path, threshold: float = 0.9) -> dict[str, float]:
    import duckdb

    con = duckdb.connect()
    q = f"""SELECT count(*) FILTER (WHERE t.a IS NOT NULL), count(*)
            FROM read_csv_auto('{out}') p LEFT JOIN read_parquet('{truth}') t
            ON t.a = p.person_id_a AND t.b = p.person_id_b
            WHERE p.match_probability >= {threshold}"""
    tp, found = con.execute(q).fetchall()[0]
    n_true = con.execute(f"SELECT count(*) FROM read_parquet('{truth}')").fetchall()[0][0]
    return {"threshold": threshold, "pairs": found, "true_pairs": n_true, "found_true": tp,
            "precision": round(tp / max(found, 1), 4), "recall": round(tp / n_true, 4)}


def build_claims(d: Path, children: int) -> tuple[Path, Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import rules_national

    src = d / f"children-{children}.parquet"
    if not src.exists():
        rules_national.generate(src, children)
    extra = d / f"claims-extra-{children}.parquet"
    if not extra.exists():
        rng = np.random.default_rng(5)
        idx = rng.choice(children, 30_000, replace=False)
        keys = rules_national.person_keys(idx)
        # 15,000 children claimed again in another county; 15,000 claimed twice more in
        # one county by two different claimants (both parents)
        pk = np.concatenate([keys[:15_000], keys[15_000:], keys[15_000:]])
        area = ["440524101001"] * 15_000 + ["445224101001"] * 30_000
        pq.write_table(pa.table({
            "person_key": pa.array(pk, pa.int64()),
            "hukou_area_code": pa.array(area),
            "claimant_key": pa.array(rng.integers(1, 2**62, 45_000), pa.int64()),
        }), extra)
    return src, extra


def measure_claims(src: Path, extra: Path) -> dict[str, float]:
    import duckdb

    from huimin.identity.match import claims

    t0 = time.perf_counter()
    con = duckdb.connect()
    n = claims.national(con, [src, extra])
    secs = time.perf_counter() - t0
    kinds = dict(con.execute("SELECT kind, count(*) FROM dup_claims GROUP BY 1").fetchall())
    rows = con.execute("SELECT count(*) FROM claims").fetchall()[0][0]
    return {"rows": rows, "duplicate_persons": n, "kinds": kinds, "seconds": round(secs, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def _fresh(*args: str) -> dict[str, object]:
    cmd = [sys.executable, __file__, *args]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--children", type=int, default=30_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/huimin-bench"))
    ap.add_argument("--measure", choices=["register", "claims"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    d = args.dir
    d.mkdir(parents=True, exist_ok=True)
    out = d / f"dup-pairs-{args.persons}.csv"
    if args.measure == "register":
        print(json.dumps(measure_register(d / f"dup-register-{args.persons}.parquet", out)))
        return
    if args.measure == "claims":
        src, extra = d / f"children-{args.children}.parquet", d / \
            f"claims-extra-{args.children}.parquet"
        print(json.dumps(measure_claims(src, extra)))
        return
    _, truth, makeup = build_register(d, args.persons)
    common = ["--persons", str(args.persons), "--children", str(args.children), "--dir", str(d)]
    reg = _fresh("--measure", "register", *common)
    print(f"register        {reg['rows']:,} rows → {reg['pairs']:,} pairs ≥ 0.5")
    print(f"wall time       {reg['seconds']} s (of which reading and deriving "
          f"{reg['prepare_seconds']} s)")
    print(f"peak memory     {reg['peak_rss_mib']} MiB (RSS of the measuring process)")
    print(f"quality         {json.dumps(quality(out, truth))}")
    print(f"test set        {makeup.read_text()}")
    build_claims(d, args.children)
    cl = _fresh("--measure", "claims", *common)
    print(f"claims          {cl['rows']:,} rows → {cl['duplicate_persons']:,} persons with a "
          f"duplicate claim {cl['kinds']}")
    print(f"wall time       {cl['seconds']} s; peak memory {cl['peak_rss_mib']} MiB")


if __name__ == "__main__":
    main()
