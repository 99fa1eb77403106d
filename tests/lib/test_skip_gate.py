"""A test skipped in CI fails the run unless tests/allowed_skips.txt lists it with a reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ALLOWED_SKIPS, ROOT, allowed_skips, skip_is_allowed

PROBE = "tests/lib/test_skip_gate.py::test_probe_skips_when_asked"
PROBE_2 = "tests/lib/test_skip_gate.py::test_second_probe_skips_when_asked"
# bin/test runs the suite under pytest-xdist: the gate must hold there too, where the tests run
# in a worker process and the controller only hears their reports. The probe runs need none
# of schemathesis' plugin (a second or so of start-up each).
PLAIN = ["-p", "no:schemathesis"]
XDIST = [*PLAIN, "-p", "xdist", "-n", "1"]

if os.environ.get("HUIMIN_SKIP_PROBE") == "module":  # only inside the runs below
    pytest.skip("asked to skip the whole module", allow_module_level=True)


def test_probe_skips_when_asked() -> None:
    """Passes in a normal run; skips only inside the runs below."""
    if os.environ.get("HUIMIN_SKIP_PROBE") == "1":
        pytest.skip("asked to skip")


def test_second_probe_skips_when_asked() -> None:
    """Passes in a normal run; skips only inside the runs below."""
    if os.environ.get("HUIMIN_SKIP_PROBE") == "1":
        pytest.skip("asked to skip too")


def _run(tmp_path: Path, ci: str, listed: str = "", runner: list[str] = PLAIN,
         probe: str = "1", targets: tuple[str, ...] = (PROBE,)
         ) -> subprocess.CompletedProcess[str]:
    allow = tmp_path / "allowed.txt"
    allow.write_text("# none\n" + listed, encoding="utf-8")
    env = {**os.environ, "CI": ci, "HUIMIN_SKIP_PROBE": probe,
           "HUIMIN_ALLOWED_SKIPS": str(allow)}
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-p", "no:randomly", *runner, "-q", *targets], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _reported(run: subprocess.CompletedProcess[str]) -> str:
    """The section of the summary that names the unlisted skips ("" when there is none)."""
    head = "skipped in CI without being listed"
    return run.stdout.split(head, 1)[1].split("short test summary")[0] if head in run.stdout else ""


def test_an_unlisted_skip_fails_the_run_in_ci(tmp_path: Path) -> None:
    run = _run(tmp_path, "true")
    assert run.returncode == 1, run.stdout
    assert PROBE in _reported(run), run.stdout


def test_a_listed_skip_passes_in_ci(tmp_path: Path) -> None:
    listed = _run(tmp_path, "true", f"{PROBE} | any | a probe of the gate\n")
    assert listed.returncode == 0 and "1 skipped" in listed.stdout, listed.stdout
    assert _reported(listed) == "", listed.stdout


def test_the_gate_holds_under_xdist(tmp_path: Path) -> None:
    """Both probes skip in the worker; the controller fails the run for the unlisted one
    and names it alone."""
    run = _run(tmp_path, "true", f"{PROBE_2} | any | a probe of the gate\n", runner=XDIST,
               targets=(PROBE, PROBE_2))
    assert run.returncode == 1 and "2 skipped" in run.stdout, run.stdout
    assert "bringing up nodes" in run.stdout, run.stdout  # the tests really ran in a worker
    assert PROBE in _reported(run) and PROBE_2 not in _reported(run), run.stdout


def test_a_module_skipped_at_collection_fails_the_run_in_ci(tmp_path: Path) -> None:
    """A module-level skip is a collection report (sent on by the xdist worker) and leaves
    no test collected (pytest's exit 5): still a failure, naming the module."""
    module = PROBE.split("::")[0]
    run = _run(tmp_path, "true", runner=XDIST, probe="module", targets=(module,))
    assert run.returncode == 1, run.stdout
    assert module in _reported(run), run.stdout


def test_the_allow_list_needs_a_reason_and_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("tests/web/test_x.py::* | sqlite\n", encoding="utf-8")
    with pytest.raises(pytest.UsageError, match="第 1 行"):
        allowed_skips(bad)
    bad.write_text("tests/web/test_x.py::* | mysql | no reason to be here\n", encoding="utf-8")
    with pytest.raises(pytest.UsageError, match="第 1 行"):
        allowed_skips(bad)


def test_the_shipped_allow_list() -> None:
    rules = allowed_skips(ALLOWED_SKIPS)
    assert rules and all(reason for _, _, reason in rules)
    crash = "tests/web/test_payments_crash.py::test_sigkill"
    assert skip_is_allowed(crash, rules, "sqlite")
    assert not skip_is_allowed(crash, rules, "postgresql")  # there it must run
    assert not skip_is_allowed("tests/rules/test_engines.py::test_spark", rules, "sqlite")
