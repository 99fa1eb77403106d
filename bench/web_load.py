"""Load test: a county on PostgreSQL served by a production WSGI server, simulated users of
each role, p50/p95/p99 per endpoint and role.

    DATABASE_URL=postgresql://huimin@127.0.0.1:55432/<db> HUIMIN_DEV_KEYS=1 \\
        python bench/web_load.py --persons 1000000 --cases 50000 --duration 120

1. **The county**: an empty database is filled by ``bench/county_register.py`` (``--persons``
   persons in whole households, ``--cases`` open 育儿补贴 cases, the demo users); a database
   that already holds persons is reused as it is (its size is reported).
2. **The server**: gunicorn with ``--workers`` synchronous workers (default 3) if it is
   installed (``pip install -e '.[bench]'``); otherwise a pre-forked server of the standard
   library (``wsgiref``, one request at a time per worker process, as a gunicorn sync worker).
   Settings as in production (no debug, persistent connections); plain HTTP on loopback and
   no second factor, since the simulated users come with ready sessions.
3. **The users**: ``--users`` per role (default 20) for the village cadre, the township
   reviewer and the county approver, each a session of its own, each waiting ``--wait``
   seconds on average (0.5–1.5 × the mean) between requests, each request one of its role's
   pages and API lists, drawn at random: the 工作台, the case list (first page, a state
   filter, a deep page by key), a case, the person list (first page, a deep page by offset,
   a name search), the notices and, on the API, cases and persons by key (deep cursors) and
   the worklist. With locust installed the users are locust users
   (``bench/web_load_locust.py``); otherwise a thread per user of the standard library
   (``http.client``). The report says which server and which driver ran.

Every answer but 200 counts as an error (and fails the run with ``--strict``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROLES = {"village_cadre": "cadre_a", "township_reviewer": "township",
         "county_approver": "county"}


# -- the county ------------------------------------------------------------------------------

def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huimin.settings")
    import django

    django.setup()


def ensure_county(persons: int, cases: int) -> dict[str, Any]:
    """Build the county into an empty database, or reuse the one there."""
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("web_load: DATABASE_URL 应指向 PostgreSQL 数据库")
    call_command("migrate", interactive=False, verbosity=0)
    from huimin.cases.models import Case
    from huimin.registry.models import Person

    built = None
    if not Person.objects.exists():
        sys.path.insert(0, str(ROOT / "bench"))
        from county_register import build_register

        start = time.perf_counter()
        stats = build_register(persons, cases=cases)
        built = round(time.perf_counter() - start, 1)
        print(f"county built in {built} s: {stats}", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {"persons": Person.objects.count(), "cases": Case.objects.count(),
            "built_s": built}


def plan(users: int, seed: int) -> dict[str, Any]:
    """Per role: the session cookies of its users and its requests (paths, with the ids,
    names and cursors to draw from, all within the role's areas)."""
    from django.test import Client

    from huimin import keyset
    from huimin.accounts.access import cases_for, persons_for
    from huimin.accounts.models import User

    rng = random.Random(seed)
    out: dict[str, Any] = {}
    for role, username in ROLES.items():
        user = User.objects.get(username=username)
        sessions = []
        for _ in range(users):
            c = Client()
            c.force_login(user)
            sessions.append(c.cookies["sessionid"].value)
        case_ids = list(cases_for(user).values_list("pk", flat=True).order_by("?")[:500])
        person_ids = list(persons_for(user).values_list("pk", flat=True).order_by("?")[:500])
        names = list(persons_for(user).values_list("name", flat=True).order_by("?")[:200])
        n_persons = persons_for(user).count()
        n_cases = cases_for(user).count()
        # cursors of the case list's default order (newest first) at random depths
        order = keyset.order_of(cases_for(user).order_by("-created_at", "-id"))
        deep = []
        for c in (cases_for(user).order_by("?")[:100]):
            deep.append(keyset.encode(order, keyset.values_of(c, order), page=2))
        person_pages = max(1, min(200, n_persons // 50))
        paths: dict[str, list[str]] = {
            "home /": ["/"],
            "cases /cases/": ["/cases/"],
            "cases ?state=submitted": ["/cases/?state=submitted"],
            "cases deep by key": [f"/cases/?after={d}" for d in deep] or ["/cases/"],
            "case /cases/<id>/": [f"/cases/{i}/" for i in case_ids] or ["/cases/"],
            "persons /registry/persons/": ["/registry/persons/"],
            "persons ?page=<1..200>": [f"/registry/persons/?page={rng.randint(1, person_pages)}"
                                       for _ in range(200)],
            "persons ?q=<name>": [f"/registry/persons/?q={n}" for n in names] or ["/"],
            "notices /notices/": ["/notices/"],
            "api /api/cases?after=<id>": [f"/api/cases?limit=50&after={i}"
                                         for i in case_ids] or ["/api/cases"],
            "api /api/persons?after=<id>": [f"/api/persons?limit=50&after={i}"
                                           for i in person_ids] or ["/api/persons"],
            "api /api/worklist": ["/api/worklist?limit=50"],
        }
        from urllib.parse import quote

        paths = {k: [quote(p, safe="/?=&%") for p in v] for k, v in paths.items()}
        out[role] = {"sessions": sessions, "paths": paths, "persons": n_persons,
                     "cases": n_cases}
    return out


# -- the server ------------------------------------------------------------------------------

def server_env(src: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"HUIMIN_DEBUG": "0", "HUIMIN_HTTPS": "0", "HUIMIN_TOTP_ROLES": "",
                "HUIMIN_DEV_KEYS": env.get("HUIMIN_DEV_KEYS", "1"),
                "DJANGO_SETTINGS_MODULE": "huimin.settings",
                "PYTHONPATH": os.pathsep.join([str(src), env.get("PYTHONPATH", "")])})
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def start_server(workers: int, src: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    port = _free_port()
    if _has("gunicorn"):
        cmd = [sys.executable, "-m", "gunicorn", "huimin.wsgi:application", "--workers",
               str(workers), "--bind", f"127.0.0.1:{port}", "--worker-class", "sync",
               "--timeout", "120", "--log-level", "warning"]
        name = f"gunicorn, {workers} sync workers"
    else:
        cmd = [sys.executable, __file__, "serve", "--port", str(port), "--workers",
               str(workers)]
        name = (f"built-in pre-fork wsgiref server, {workers} worker processes "
                "(gunicorn not installed)")
    proc = subprocess.Popen(cmd, env=server_env(src), cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/login/")
            if conn.getresponse().status == 200:
                return proc, port, name
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    raise SystemExit("web_load: 服务未能启动")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def serve(port: int, workers: int) -> None:
    """A pre-forked WSGI server of the standard library: one listening socket, ``workers``
    processes each answering one request at a time (like gunicorn's sync workers)."""
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(256)
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            from huimin.wsgi import application

            server = WSGIServer(("127.0.0.1", port), Quiet, bind_and_activate=False)
            server.socket.close()
            server.socket = listener
            server.server_address = listener.getsockname()
            server.server_name, server.server_port = "127.0.0.1", port
            server.setup_environ()
            server.set_app(application)
            try:
                server.serve_forever()
            finally:
                os._exit(0)
        children.append(pid)

    def stop(*_: Any) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    for pid in children:
        os.waitpid(pid, 0)


# -- the users -------------------------------------------------------------------------------

def drive_threads(port: int, roles: dict[str, Any], duration: float, wait: float,
                  seed: int) -> dict[tuple[str, str], dict[str, Any]]:
    """One thread per simulated user; latencies of every request by (role, endpoint)."""
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    errors: dict[tuple[str, str], int] = defaultdict(int)
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def user(role: str, session: str, rng: random.Random) -> None:
        paths = roles[role]["paths"]
        names = list(paths)
        time.sleep(rng.uniform(0, wait))  # the users arrive over the first wait
        while time.monotonic() < stop_at:
            name = rng.choice(names)
            path = rng.choice(paths[name])
            start = time.perf_counter()
            ok = False
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", path, headers={"Cookie": f"sessionid={session}",
                                                   "Accept-Language": "zh-hans"})
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
                conn.close()
            except OSError:
                ok = False
            took = time.perf_counter() - start
            with lock:
                times[(role, name)].append(took)
                if not ok:
                    errors[(role, name)] += 1
            time.sleep(rng.uniform(0.5 * wait, 1.5 * wait))

    threads = []
    rng = random.Random(seed)
    for role, spec in roles.items():
        for session in spec["sessions"]:
            t = threading.Thread(target=user, args=(role, session,
                                                    random.Random(rng.random())), daemon=True)
            threads.append(t)
            t.start()
    for t in threads:
        t.join(timeout=duration + 120)
    return {key: {"n": len(v), "errors": errors[key], **_percentiles(v)}
            for key, v in times.items()}


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        ms = values[0] * 1000 if values else 0.0
        return {"p50": ms, "p95": ms, "p99": ms}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": q[49] * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000}


def drive_locust(port: int, roles: dict[str, Any], duration: float, wait: float,
                 ) -> dict[tuple[str, str], dict[str, Any]]:
    """The same users as locust users (``bench/web_load_locust.py``), headless."""
    with tempfile.TemporaryDirectory() as tmp:
        plan_file = Path(tmp) / "plan.json"
        plan_file.write_text(json.dumps({"roles": roles, "wait": wait}), encoding="utf-8")
        users = sum(len(r["sessions"]) for r in roles.values())
        env = {**os.environ, "WEB_LOAD_PLAN": str(plan_file)}
        subprocess.run([sys.executable, "-m", "locust", "-f",
                        str(ROOT / "bench" / "web_load_locust.py"), "--headless",
                        "--host", f"http://127.0.0.1:{port}", "-u", str(users),
                        "-r", str(max(1, int(users / max(wait, 0.1)))),
                        "-t", f"{int(duration)}s", "--csv", str(Path(tmp) / "out"),
                        "--only-summary", "--loglevel", "WARNING"], env=env, check=False)
        out: dict[tuple[str, str], dict[str, Any]] = {}
        with open(Path(tmp) / "out_stats.csv", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["Name"] == "Aggregated" or "|" not in row["Name"]:
                    continue
                role, name = row["Name"].split("|", 1)
                out[(role, name)] = {"n": int(row["Request Count"]),
                                     "errors": int(row["Failure Count"]),
                                     "p50": float(row["50%"]), "p95": float(row["95%"]),
                                     "p99": float(row["99%"])}
        return out


# -- the report ------------------------------------------------------------------------------

def report(stats: dict[tuple[str, str], dict[str, Any]], duration: float) -> list[str]:
    lines = [f"{'role':<18} {'endpoint':<30} {'n':>6} {'err':>4} {'req/s':>6} "
             f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"]
    for role in ROLES:
        rows = {k[1]: v for k, v in stats.items() if k[0] == role}
        for name in sorted(rows):
            s = rows[name]
            lines.append(f"{role:<18} {name:<30} {s['n']:>6} {s['errors']:>4} "
                         f"{s['n'] / duration:>6.1f} {s['p50']:>7.0f} {s['p95']:>7.0f} "
                         f"{s['p99']:>7.0f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    srv = sub.add_parser("serve", help="(internal) the built-in pre-fork server")
    srv.add_argument("--port", type=int, required=True)
    srv.add_argument("--workers", type=int, default=3)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--users", type=int, default=20, help="simulated users per role")
    parser.add_argument("--wait", type=float, default=1.0,
                        help="mean seconds a user waits between requests")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--driver", choices=("auto", "threads", "locust"), default="auto")
    parser.add_argument("--src", type=Path, default=ROOT / "src",
                        help="the source the server runs (another checkout, to compare)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--strict", action="store_true", help="fail on any error answer")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.port, args.workers)
        return
    os.environ.setdefault("HUIMIN_DEV_KEYS", "1")
    _setup_django()
    county = ensure_county(args.persons, args.cases)
    print(f"county: {county['persons']:,} persons, {county['cases']:,} cases"
          + (" (reused)" if county["built_s"] is None else ""), flush=True)
    roles = plan(args.users, args.seed)
    from django.db import connection

    connection.close()
    driver = args.driver
    if driver == "auto":
        driver = "locust" if _has("locust") else "threads"
    load_before = os.getloadavg()
    proc, port, server = start_server(args.workers, args.src)
    if args.src != ROOT / "src":
        server += f", serving the code of {args.src}"
    try:
        print(f"server: {server}; driver: "
              + ("locust (headless)" if driver == "locust"
                 else "built-in thread per user (http.client; locust not installed)"
                 if not _has("locust") else "built-in thread per user (http.client)"),
              flush=True)
        print(f"load: {args.users} users per role × {len(ROLES)} roles for {args.duration:g} s,"
              f" mean wait {args.wait:g} s", flush=True)
        if driver == "locust":
            stats = drive_locust(port, roles, args.duration, args.wait)
        else:
            stats = drive_threads(port, roles, args.duration, args.wait, args.seed)
    finally:
        stop_server(proc)
    load_after = os.getloadavg()
    # the machine's load average (1, 5, 15 min) beside the figures: on a shared machine
    # other work inflates every latency
    print("load average before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(
        *load_before, *load_after))
    for role, spec in roles.items():
        print(f"  {role}: {spec['persons']:,} persons, {spec['cases']:,} cases in scope")
    lines = report(stats, args.duration)
    print("\n".join(lines))
    for role in ROLES:
        all_n = sum(v["n"] for k, v in stats.items() if k[0] == role)
        worst = max((v["p95"] for k, v in stats.items() if k[0] == role), default=0.0)
        print(f"{role}: {all_n / args.duration:.1f} req/s, worst endpoint p95 {worst:.0f} ms")
    errors = sum(v["errors"] for v in stats.values())
    print(f"errors: {errors}")
    if args.json:
        args.json.write_text(json.dumps({
            "county": county, "server": server, "driver": driver,
            "load_average": {"before": load_before, "after": load_after}, "args": {
                k: v for k, v in vars(args).items() if k not in ("json", "command")},
            "stats": [{"role": k[0], "endpoint": k[1], **v} for k, v in stats.items()],
        }, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    if args.strict and errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
