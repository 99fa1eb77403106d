"""Rules on a Spark standalone cluster beside DuckDB, on the same generated Parquet file.

    PYTHONPATH=src .venv/bin/python bench/rules_spark.py --n 10000000

Generates N children (the generator of bench/rules_national.py) unless the file exists,
starts one master and two workers on loopback (tools/spark_cluster.py), runs
read → evaluate → write with reasons on the cluster, then DuckDB on the same file, each in
its own process, and prints wall times (Spark's twice: the first run in a new session, then
the same run again in it, as a standing session on a cluster would run it), the totals
(which must agree) and the driver's peak memory (VmHWM of the driver's Python process and of
its JVM).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tools"))


def peak_rss_mib(pid: int | str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def measure_spark(src: Path, out: Path, year: int, master: str) -> dict[str, object]:
    from huimin.rules import load_programs
    from huimin.rules import spark as spark_engine

    program = load_programs().for_year("childcare-subsidy", year)
    t0 = time.perf_counter()
    session = spark_engine.session(master, {
        "spark.driver.host": "127.0.0.1", "spark.executor.memory": "1g",
        "spark.driver.memory": "512m"})
    t1 = time.perf_counter()
    totals = spark_engine.evaluate_uri(program, year, str(src), str(out), spark=session)
    t2 = time.perf_counter()
    # the same run again in the same session: what a long-running session (a Spark Connect
    # server, a province's standing driver) pays once the JVMs are warm
    again = out.with_name(out.name.replace(".parquet", "-warm.parquet"))
    shutil.rmtree(again, ignore_errors=True)
    warm_totals = spark_engine.evaluate_uri(program, year, str(src), str(again), spark=session)
    t3 = time.perf_counter()
    shutil.rmtree(again, ignore_errors=True)
    assert warm_totals == totals
    jvm = session.sparkContext._gateway.proc.pid
    res = {"rows": totals.rows, "eligible": totals.eligible, "amount_fen": totals.amount_fen,
           "session_seconds": round(t1 - t0, 2), "seconds": round(t2 - t1, 2),
           "warm_seconds": round(t3 - t2, 2),
           "driver_python_peak_mib": peak_rss_mib("self"),
           "driver_jvm_peak_mib": peak_rss_mib(jvm)}
    session.stop()
    return res


def measure_duckdb(src: Path, out: Path, year: int) -> dict[str, object]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from huimin.rules import load_programs
    from huimin.rules.engines import eval_duckdb_parquet

    program = load_programs().for_year("childcare-subsidy", year)
    t0 = time.perf_counter()
    n = eval_duckdb_parquet(program, year, src, out)
    secs = time.perf_counter() - t0
    t = pq.read_table(out, columns=["eligible", "amount_yuan"])
    return {"rows": n, "seconds": round(secs, 2),
            "eligible": int(pc.sum(t["eligible"].cast("int64")).as_py()),
            "amount_fen": int(pc.sum(t["amount_yuan"]).as_py() * 100),
            "peak_mib": peak_rss_mib("self")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--year", type=int, default=2025)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/huimin-bench"))
    ap.add_argument("--worker-memory", default="1500m")
    ap.add_argument("--measure", choices=("spark", "duckdb"), help=argparse.SUPPRESS)
    ap.add_argument("--master", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    src = args.dir / f"children-{args.n}.parquet"
    spark_out = args.dir / f"spark-entitlements-{args.n}.parquet"
    duck_out = args.dir / f"duck-entitlements-{args.n}.parquet"
    if args.measure == "spark":
        print(json.dumps(measure_spark(src, spark_out, args.year, args.master)))
        return
    if args.measure == "duckdb":
        print(json.dumps(measure_duckdb(src, duck_out, args.year)))
        return
    if not src.exists():
        from rules_national import generate

        t0 = time.perf_counter()
        generate(src, args.n)
        print(f"generated {args.n:,} children → {src} in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
    from spark_cluster import Cluster

    shutil.rmtree(spark_out, ignore_errors=True)
    base = [sys.executable, __file__, "--n", str(args.n), "--year", str(args.year),
            "--dir", str(args.dir)]
    t0 = time.perf_counter()
    cluster = Cluster(workers=2, worker_memory=args.worker_memory).start()
    up = time.perf_counter() - t0
    try:
        spark = json.loads(subprocess.run([*base, "--measure", "spark", "--master", cluster.url],
                                          check=True, capture_output=True, text=True).stdout)
    finally:
        cluster.stop()
    duck = json.loads(subprocess.run([*base, "--measure", "duckdb"], check=True,
                                     capture_output=True, text=True).stdout)
    shutil.rmtree(spark_out, ignore_errors=True)
    duck_out.unlink(missing_ok=True)
    same = all(spark[k] == duck[k] for k in ("rows", "eligible", "amount_fen"))
    print(f"rows                {spark['rows']:,}  (totals agree with DuckDB: {same})")
    print(f"cluster start       {up:.1f} s  (master + 2 workers, not counted below)")
    print(f"spark session       {spark['session_seconds']} s")
    print(f"spark run           {spark['seconds']} s  (read, evaluate, write with reasons)")
    print(f"spark run, warm     {spark['warm_seconds']} s  (the same again in the same session)")
    print(f"duckdb run          {duck['seconds']} s  (same file, same run)")
    print(f"ratio               {float(spark['seconds']) / float(duck['seconds']):.1f}× cold, "
          f"{float(spark['warm_seconds']) / float(duck['seconds']):.1f}× warm")
    print(f"driver peak RSS     python {spark['driver_python_peak_mib']} MiB, "
          f"jvm {spark['driver_jvm_peak_mib']} MiB")
    print(f"duckdb peak RSS     {duck['peak_mib']} MiB")
    print(f"load average        {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not same:
        raise SystemExit("Spark and DuckDB totals differ")


if __name__ == "__main__":
    main()
