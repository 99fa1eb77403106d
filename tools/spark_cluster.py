"""A Spark standalone cluster on loopback, from the pyspark package: one master and N
workers (``bin/spark-class org.apache.spark.deploy.master.Master`` / ``…worker.Worker``) on
free ports with small worker memory and a temporary work directory.

    python tools/spark_cluster.py start [--workers 2] [--worker-memory 1g]   # prints the URL
    python tools/spark_cluster.py stop --state DIR

Used by the test fixture (tests/rules/conftest.py) and bench/rules_spark.py via ``Cluster``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    workers: int = 2
    worker_memory: str = "1g"
    worker_cores: int = 1
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="huimin-spark-")))
    port: int = 0
    ui_port: int = 0
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1",
               "SPARK_LOG_DIR": str(self.workdir / "logs"),
               "SPARK_WORKER_DIR": str(self.workdir / "work")}
        log = (self.workdir / f"{name}.log").open("wb")
        cmd = [str(spark_home() / "bin" / "spark-class"), *args]
        # own process group: stop() ends the JVM and nothing else
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)

    def start(self, timeout: float = 90.0) -> Cluster:
        self.port, self.ui_port = free_port(), free_port()
        (self.workdir / "work").mkdir(parents=True, exist_ok=True)
        self.procs.append(self._spawn(
            "master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
            "--port", str(self.port), "--webui-port", str(self.ui_port)))
        self._wait(lambda s: s is not None, timeout, "master")
        for i in range(self.workers):
            self.procs.append(self._spawn(
                f"worker{i}", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                "--port", str(free_port()), "--webui-port", str(free_port()),
                "--cores", str(self.worker_cores), "--memory", self.worker_memory,
                "--work-dir", str(self.workdir / "work" / f"w{i}"), self.url))
        self._wait(lambda s: s is not None and sum(
            1 for w in s.get("workers", []) if w.get("state") == "ALIVE") >= self.workers,
            timeout, f"{self.workers} workers")
        return self

    def status(self) -> dict[str, object] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/",
                                        timeout=2) as r:
                data: dict[str, object] = json.loads(r.read())
                return data
        except (OSError, ValueError):
            return None

    def _wait(self, ok: object, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if callable(ok) and ok(self.status()):
                return
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"Spark standalone {what} not up within {timeout:.0f} s "
                           f"(logs in {self.workdir})")

    def jvm_pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("start", "stop"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker-memory", default="1g")
    ap.add_argument("--state", type=Path, help="state file written by start, read by stop")
    args = ap.parse_args()
    state = args.state or Path(tempfile.gettempdir()) / "huimin-spark-cluster.json"
    if args.action == "start":
        c = Cluster(workers=args.workers, worker_memory=args.worker_memory).start()
        state.write_text(json.dumps({"pids": c.jvm_pids(), "workdir": str(c.workdir),
                                     "url": c.url}))
        print(c.url)
        return
    data = json.loads(state.read_text())
    for pid in data["pids"]:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    shutil.rmtree(data["workdir"], ignore_errors=True)
    state.unlink()
    print("stopped", file=sys.stderr)


if __name__ == "__main__":
    main()
