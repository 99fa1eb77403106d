"""Crash safety: the worker is killed (SIGKILL) at random moments while it builds a batch and
while it imports a bank return; after each kill, and after running the step again, nobody is
paid twice, nobody is lost, and the books balance.

The worker is the ``huimin payments …`` command in a subprocess against the test database, so
PostgreSQL only (the test data must be committed for the subprocess to see it).
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, Sum

from huimin.payments import actions as pay
from huimin.payments import ledger, reconcile
from huimin.payments.models import (
    BankReturn,
    Entitlement,
    LineStatus,
    PaymentBatch,
    PaymentCycle,
    PaymentLine,
    waiting,
)
from huimin.payments.synth import approved_cases
from huimin.programs.models import Program
from tests.conftest import COUNTY, make_user

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]
CASES = 300
ROUNDS = int(os.environ.get("HUIMIN_CRASH_ROUNDS", "12"))  # two kills a round; more by hand
SEED = int(os.environ.get("HUIMIN_CRASH_SEED", "20261123"))


@pytest.fixture(autouse=True)
def needs_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the worker runs in another process or session and must "
                    "see committed data; SQLite serialises writers")
    import importlib

    from django.apps import apps

    from huimin.registry.areas import load_county
    from huimin.registry.models import Area

    if not Area.objects.filter(code=COUNTY).exists():
        load_county("445224")
    importlib.import_module("huimin.programs.migrations.0002_seed_programs").seed(apps, None)


@dataclass
class Worker:
    env: dict[str, str]
    exe: list[str]

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([*self.exe, *args], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def run(self, *args: str) -> tuple[float, subprocess.CompletedProcess[bytes]]:
        proc = self.start(*args)
        started = wait_started(proc)
        out, err = proc.communicate(timeout=120)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        return time.perf_counter() - started, done


def wait_started(proc: subprocess.Popen[bytes]) -> float:
    """Block until the worker says it begins the work (after its start-up)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    assert ready, "the worker did not start"
    line = proc.stdout.readline().decode()
    assert line.startswith("开始") or proc.poll() is not None, line
    return time.perf_counter()


def kill_at_random(worker: Worker, rng: random.Random, window: float, *args: str) -> str:
    proc = worker.start(*args)
    wait_started(proc)
    time.sleep(rng.uniform(0, window))
    outcome = "finished" if proc.poll() is not None else "killed"
    if outcome == "killed":
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    wait_for_orphans()
    return outcome


def wait_for_orphans() -> None:
    """Wait until the server is done with the dead worker's session: a COMMIT it had sent
    still completes, anything else is rolled back. Only then is the outcome settled. The
    worker names its session (libpq's PGAPPNAME), so another test's connection lingering on
    the same database does not count."""
    deadline = time.monotonic() + 60
    with connection.cursor() as cur:
        while True:
            cur.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND pid <> pg_backend_pid() "
                        "AND backend_type = 'client backend' AND application_name = %s",
                        [WORKER_APP])
            row = cur.fetchone()
            if row is None or row[0] == 0:
                return
            assert time.monotonic() < deadline, "the dead worker's session did not end"
            time.sleep(0.02)


WORKER_APP = "huimin-crash-worker"


def worker_env() -> Worker:
    db = connection.settings_dict
    url = (f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}")
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "huimin.settings",
           "HUIMIN_DATA_KEY": settings.DATA_KEY, "PGAPPNAME": WORKER_APP}
    # `huimin payments …`, started as its module: the same commands, a quicker start-up.
    return Worker(env, [sys.executable, "-m", "huimin.payments.cli"])


def check_books(cycle: PaymentCycle, *, full: bool = False) -> None:
    """Nobody paid twice, nobody lost, every batch whole, the ledger balanced (and, in full,
    the whole reconciliation: the ledger rebuilt from the events, the bank, the vouchers)."""
    lines = PaymentLine.objects.filter(batch__cycle=cycle)
    twice = (lines.filter(status=LineStatus.PAID).values("case").annotate(n=Count("id"))
             .filter(n__gt=1))
    assert not twice.exists(), "a case paid twice"
    live = (lines.filter(status__in=[LineStatus.PENDING, LineStatus.PAID]).values("case")
            .annotate(n=Count("id")).filter(n__gt=1))
    assert not live.exists(), "a case in two live lines"
    payable = Entitlement.objects.filter(cycle=cycle, status="payable")
    accounted = (waiting(payable).count()
                 + lines.filter(Q(status__in=[LineStatus.PENDING, LineStatus.PAID])
                                | Q(correction__isnull=True)).count())
    assert accounted == payable.count() == cycle.payable_count, (
        "an entitlement lost", waiting(payable).count(), lines.count(),
        list(lines.values_list("status", "correction").annotate(n=Count("id")).order_by()))
    for b in PaymentBatch.objects.filter(cycle=cycle):
        got = b.lines.aggregate(n=Count("id"), s=Sum("amount_fen"))
        assert (got["n"], got["s"] or 0) == (b.line_count, b.total_fen), "a partial batch"
        pending = b.lines.filter(status=LineStatus.PENDING).count()
        assert pending in (0, b.line_count), "a partly applied return"
    stored = ledger.balances(cycle)
    assert sum(stored.values()) == 0 and ledger.unbalanced_entries(cycle) == []
    assert stored == reconcile.detail_balances(cycle), "the ledger disagrees with the lines"
    if full:
        report = reconcile.reconcile(cycle)
        assert [v for v in report.variances if "资金在途" not in v.cause] == []


def test_sigkill_while_building_batches_and_importing_returns(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    finance = make_user("finance", "finance_officer", COUNTY)
    county = make_user("county", "county_approver", COUNTY)
    program = Program.objects.get(code="childcare-subsidy")
    approved_cases(CASES, program=program, county="445224", claim_year=2026, actor=finance,
                   explanation={"rule_version": "childcare-subsidy@test"}, amount_fen=360000,
                   months=12)
    cycle = pay.build_cycle(finance, program=program, claim_year=2026)
    assert cycle.payable_count == CASES
    worker = worker_env()
    outcomes: dict[str, list[str]] = {"batch": [], "return": []}

    # Calibrate: how long each step takes once the worker has started.
    t_batch, done = worker.run("create-batch", "--user", "finance", "--cycle", str(cycle.pk))
    assert done.returncode == 0, done.stderr.decode()
    batch = PaymentBatch.objects.get(cycle=cycle)
    t_return = _send_and_return(worker, finance, county, batch, rng, tmp_path, calibrate=True)

    for _ in range(ROUNDS):
        before = set(waiting(Entitlement.objects.filter(cycle=cycle)).values_list("id", flat=True))
        assert before
        n_batches = PaymentBatch.objects.filter(cycle=cycle).count()
        outcomes["batch"].append(kill_at_random(
            worker, rng, t_batch * 1.1, "create-batch", "--user", "finance", "--cycle",
            str(cycle.pk)))
        check_books(cycle)
        batches = PaymentBatch.objects.filter(cycle=cycle).order_by("-id")
        if batches.count() == n_batches:  # killed before it committed: nothing left behind
            assert set(waiting(Entitlement.objects.filter(cycle=cycle))
                       .values_list("id", flat=True)) == before
            pay.create_batch(finance, cycle)  # run it again
        batch = batches.first()
        assert batch is not None
        assert set(batch.lines.values_list("entitlement_id", flat=True)) == before
        _send_and_return(worker, finance, county, batch, rng, tmp_path, window=t_return,
                         outcomes=outcomes["return"])
    assert len(outcomes["batch"]) == len(outcomes["return"]) == ROUNDS
    # Both kinds of trial saw kills mid-work, not only before or after it.
    least = max(2, ROUNDS // 3)
    assert outcomes["batch"].count("killed") >= least
    assert outcomes["return"].count("killed") >= least
    check_books(cycle, full=True)
    assert PaymentLine.objects.filter(batch__cycle=cycle, status="paid").count() == len(
        set(PaymentLine.objects.filter(batch__cycle=cycle, status="paid")
            .values_list("case_id", flat=True)))


def _send_and_return(worker: Worker, finance: Any, county: Any, batch: PaymentBatch,
                     rng: random.Random, tmp_path: Path, *, calibrate: bool = False,
                     window: float = 0.0, outcomes: list[str] | None = None) -> float:
    """Release and export the batch, then import a bank return under fire; returns the time
    the import took when calibrating."""
    pay.release_batch(county, batch)
    pay.export_batch(finance, batch)
    refs = [ln.reference for ln in batch.lines.select_related("batch").order_by("seq")]
    # Most lines fail and come back for the next round; a few are paid or returned.
    paid = set(rng.sample(refs, k=min(len(refs), 6)))
    returned = set(rng.sample(sorted(set(refs) - paid), k=min(len(refs) - len(paid), 20)))
    failed = {r: ("账户已销户" if r in returned else "银行系统故障") for r in refs if r not in paid}
    data = pay.sample_return(batch, failed, returned)
    path = tmp_path / f"{batch.number}.csv"
    path.write_bytes(data)
    args = ("import-return", str(path), "--user", "finance", "--batch", str(batch.pk))
    took = 0.0
    if calibrate:
        took, done = worker.run(*args)
        assert done.returncode == 0, done.stderr.decode()
    else:
        assert outcomes is not None
        outcomes.append(kill_at_random(worker, rng, window * 1.1, *args))
        check_books(batch.cycle)  # type: ignore[arg-type]
        applied = BankReturn.objects.filter(batch=batch).exists()
        statuses = set(batch.lines.values_list("status", flat=True))
        assert statuses == ({"paid", "failed", "returned"} if applied else {"pending"})
        counts = pay.import_return(finance, batch, data)  # run it again
        assert counts["unchanged"] == (len(refs) if applied else 0)
    assert pay.import_return(finance, batch, data)["unchanged"] == len(refs)
    assert PaymentLine.objects.filter(batch=batch, status="paid").count() == len(paid)
    pay.recheck_batch(finance, batch, note="银行系统故障，经核实账户无误")
    return took


def test_a_cycle_is_locked_while_it_is_built(tmp_path: Path) -> None:
    """While one session builds (holds the cycle), a second is refused at once, not queued."""
    import threading

    from django.db import connections, transaction

    from huimin.errors import Conflict

    finance = make_user("finance", "finance_officer", COUNTY)
    program = Program.objects.get(code="childcare-subsidy")
    approved_cases(5, program=program, county="445224", claim_year=2026, actor=finance,
                   explanation={"rule_version": "childcare-subsidy@test"}, amount_fen=360000,
                   months=12)
    cycle = pay.build_cycle(finance, program=program, claim_year=2026)
    holding, release = threading.Event(), threading.Event()

    def builder() -> None:
        try:
            with transaction.atomic():
                PaymentCycle.objects.select_for_update().get(pk=cycle.pk)
                holding.set()
                release.wait(20)
        finally:
            connections.close_all()

    thread = threading.Thread(target=builder)
    thread.start()
    assert holding.wait(20)
    try:
        with pytest.raises(Conflict, match="正在由他人处理"):
            pay.create_batch(finance, cycle)
        with pytest.raises(Conflict, match="正在由他人处理"):
            pay.build_cycle(finance, program=program, claim_year=2026)
    finally:
        release.set()
        thread.join(20)
    assert PaymentBatch.objects.filter(cycle=cycle).count() == 0
    assert pay.create_batch(finance, cycle).line_count == 5
