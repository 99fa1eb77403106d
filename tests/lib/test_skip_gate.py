"""A test skipped in CI fails the run unless tests/allowed_skips.txt lists it with a reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ALLOWED_SKIPS, ROOT, allowed_skips, skip_is_allowed

PROBE = "tests/lib/test_skip_gate.py::test_probe_skips_when_asked"


def test_probe_skips_when_asked() -> None:
    """Passes in a normal run; skips only inside the runs below."""
    if os.environ.get("HUIMIN_SKIP_PROBE") == "1":
        pytest.skip("asked to skip")


def _run(tmp_path: Path, ci: str, listed: str = "") -> subprocess.CompletedProcess[str]:
    allow = tmp_path / "allowed.txt"
    allow.write_text("# none\n" + listed, encoding="utf-8")
    env = {**os.environ, "CI": ci, "HUIMIN_SKIP_PROBE": "1", "HUIMIN_ALLOWED_SKIPS": str(allow)}
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-p", "no:randomly", "-q", PROBE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_an_unlisted_skip_fails_the_run_in_ci(tmp_path: Path) -> None:
    run = _run(tmp_path, "true")
    assert run.returncode == 1, run.stdout
    assert "skipped in CI without being listed" in run.stdout and PROBE in run.stdout


def test_a_listed_skip_passes_in_ci(tmp_path: Path) -> None:
    listed = _run(tmp_path, "true", f"{PROBE} | any | a probe of the gate\n")
    assert listed.returncode == 0 and "1 skipped" in listed.stdout, listed.stdout


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
