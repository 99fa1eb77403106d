"""The branch-coverage gate (tools/coverage_gate.py) on made-up coverage reports: an unlisted
miss fails, a listed one passes, a stale exception fails, a gated file missing fails."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

SPEC = importlib.util.spec_from_file_location("coverage_gate", ROOT / "tools" / "coverage_gate.py")
assert SPEC is not None and SPEC.loader is not None
gate: Any = importlib.util.module_from_spec(SPEC)
sys.modules.setdefault("coverage_gate", gate)
SPEC.loader.exec_module(gate)

HOLDS = "huimin/payments/holds.py"


def line_of(module: str, text: str) -> int:
    lines = (ROOT / "src" / module).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip() == text)


def report(**missing: Any) -> dict[str, Any]:
    """Every gated file fully covered, except ``missing`` {module: (lines, branches)}."""
    files = {}
    for module in gate.gated_files():
        lines, branches = missing.get(module, ([], []))
        files[f"src/{module}"] = {"missing_lines": lines, "missing_branches": branches}
    return {"files": files}


def exc(module: str, text: str, n: int = 1) -> Any:
    return gate.Entry(module, text, "理由", n)


def test_the_gated_files_include_every_module_of_a_gated_package() -> None:
    files = gate.gated_files()
    assert "huimin/accounts/access.py" in files and "huimin/verification/apply.py" in files
    assert {"huimin/payments/actions/__init__.py", "huimin/payments/actions/returns.py",
            "huimin/cases/actions/life.py"} <= set(files)
    assert "huimin/payments/models.py" not in files


def test_a_miss_fails_unless_listed_and_a_listed_line_takes_its_branches() -> None:
    text = 'raise ActionError("暂停起始日：须为日期")'
    line = line_of(HOLDS, text)
    r = report(**{HOLDS: ([line], [[line - 1, line]])})
    failures = gate.check(r, [])
    assert failures == [f"{HOLDS}:{line}: 未执行的行  {text}",
                        f"{HOLDS}:{line - 1}->{line}: 未走过的分支  "
                        "if not isinstance(from_date, date):"]
    assert gate.check(r, [exc(HOLDS, text)]) == []


def test_a_branch_to_the_exit_is_named() -> None:
    start = line_of(HOLDS, "if not reason:")
    failures = gate.check(report(**{HOLDS: ([], [[start, -1]])}), [])
    assert failures == [f"{HOLDS}:{start}->exit: 未走过的分支  if not reason:"]


def test_an_exception_no_longer_needed_fails() -> None:
    failures = gate.check(report(), [exc(HOLDS, "return 0", 7)])
    assert len(failures) == 1 and "coverage_exceptions.txt:7: 例外已不再适用" in failures[0]
    failures = gate.check(report(), [exc("huimin/payments/models.py", "pass", 3)])
    assert "不是受检模块" in failures[0]


def test_a_gated_file_missing_from_the_report_fails() -> None:
    r = report()
    del r["files"][f"src/{HOLDS}"]
    assert gate.check(r, []) == [f"{HOLDS}: 不在覆盖率报告里（没有测试导入它）"]


def test_the_exceptions_file_is_well_formed_and_each_has_a_reason(tmp_path: Path) -> None:
    found, problems = gate.read_exceptions()
    assert problems == []
    assert all(e.reason for e in found)
    bad = tmp_path / "exceptions.txt"
    bad.write_text("# comment\nhuimin/payments/holds.py :: return 0\n", encoding="utf-8")
    found, problems = gate.read_exceptions(bad)
    assert found == [] and "格式应为" in problems[0]


def test_the_command_line_fails_and_prints_each_miss(tmp_path: Path) -> None:
    text = 'raise ActionError("暂停起始日：须为日期")'
    line = line_of(HOLDS, text)
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps(report(**{HOLDS: ([line], [])})), encoding="utf-8")
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "coverage_gate.py"), str(path)],
                         capture_output=True, text=True, check=False)
    # the exceptions file lists other lines than this one: they no longer apply either
    assert run.returncode == 1
    assert f"{HOLDS}:{line}: 未执行的行" in run.stderr
