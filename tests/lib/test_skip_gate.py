"""A test skipped in CI fails the run unless tests/allowed_skips.txt lists it with a reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ALLOWED_SKIPS, ROOT, allowed_skips, skip_is_allowed

PROBE = "tests/lib/test_skip_gate.py::test_probe_skips_when_asked"
# bin/test runs the suite under pytest-xdist: the gate must hold there too, where the tests run
# in worker processes and the controller only hears their reports.
PLAIN, XDIST = [], ["-p", "xdist", "-n", "2"]
RUNNERS = pytest.mark.parametrize("runner", [PLAIN, XDIST], ids=["plain", "xdist"])

if os.environ.get("HUIMIN_SKIP_PROBE") == "module":  # only inside the runs below
    pytest.skip("asked to skip the whole module", allow_module_level=True)


def test_probe_skips_when_asked() -> None:
    """Passes in a normal run; skips only inside the runs below."""
    if os.environ.get("HUIMIN_SKIP_PROBE") == "1":
        pytest.skip("asked to skip")


def _run(tmp_path: Path, ci: str, listed: str = "", runner: list[str] = PLAIN,
         probe: str = "1", target: str = PROBE) -> subprocess.CompletedProcess[str]:
    allow = tmp_path / "allowed.txt"
    allow.write_text("# none\n" + listed, encoding="utf-8")
    env = {**os.environ, "CI": ci, "HUIMIN_SKIP_PROBE": probe,
           "HUIMIN_ALLOWED_SKIPS": str(allow)}
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-p", "no:randomly", *runner, "-q", target], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@RUNNERS
def test_an_unlisted_skip_fails_the_run_in_ci(tmp_path: Path, runner: list[str]) -> None:
    run = _run(tmp_path, "true", runner=runner)
    assert run.returncode == 1, run.stdout
    assert "skipped in CI without being listed" in run.stdout and PROBE in run.stdout
    assert "1 skipped" in run.stdout, run.stdout  # the probe ran (in a worker under xdist)


@RUNNERS
def test_a_listed_skip_passes_in_ci(tmp_path: Path, runner: list[str]) -> None:
    listed = _run(tmp_path, "true", f"{PROBE} | any | a probe of the gate\n", runner=runner)
    assert listed.returncode == 0 and "1 skipped" in listed.stdout, listed.stdout
    assert "skipped in CI without being listed" not in listed.stdout


@RUNNERS
def test_a_module_skipped_at_collection_fails_the_run_in_ci(tmp_path: Path,
                                                            runner: list[str]) -> None:
    module = PROBE.split("::")[0]
    run = _run(tmp_path, "true", runner=runner, probe="module", target=module)
    assert run.returncode == 1, run.stdout
    assert "skipped in CI without being listed" in run.stdout, run.stdout
    assert module in run.stdout.split("skipped in CI without being listed")[1], run.stdout


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
