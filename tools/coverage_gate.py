"""The branch-coverage gate: every line and branch of the gated modules is taken by a test.

The gated files are `[tool.coverage.run] include` in pyproject.toml (a package's files by a
pattern, so a module added to it is gated too). Reads coverage's JSON report of the SQLite
pass and fails when a gated module

- has a missed line or branch that `tests/coverage_exceptions.txt` does not list, or
- is missing from the report (never imported by any test), or when
- an exception no longer matches anything missed (delete it: the list only shrinks).

An exception names a module and the text of one source line (stripped of indentation), so
it survives edits above it; it covers that line and the branches leaving or reaching it.

    python tools/coverage_gate.py test-artifacts/coverage.json
"""

from __future__ import annotations

import json
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
EXCEPTIONS = ROOT / "tests" / "coverage_exceptions.txt"
SEP = " :: "


@dataclass(frozen=True)
class Entry:
    module: str  # path under src/, e.g. huimin/payments/holds.py
    text: str  # the source line, stripped
    reason: str
    lineno: int  # in the exceptions file


def gated_files() -> list[str]:
    """Paths under src/ of every file the gate covers, from pyproject's coverage include."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    files: set[str] = set()
    for pattern in config["tool"]["coverage"]["run"]["include"]:
        files.update(p.relative_to(SRC).as_posix() for p in ROOT.glob(pattern))
    return sorted(files)


def read_exceptions(path: Path = EXCEPTIONS) -> tuple[list[Entry], list[str]]:
    found: list[Entry] = []
    problems: list[str] = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        parts = raw.split(SEP)
        if len(parts) != 3 or not all(p.strip() for p in parts):
            problems.append(f"{path.name}:{n}: 格式应为 模块{SEP}源代码行{SEP}理由：{raw!r}")
            continue
        module, text, reason = (p.strip() for p in parts)
        found.append(Entry(module, text, reason, n))
    return found, problems


def _key(filename: str) -> str:
    """The report's file name as a path under src/ (the report may hold it either way)."""
    p = Path(filename)
    if p.is_absolute():
        p = p.relative_to(SRC)
    parts = p.parts
    if parts and parts[0] == "src":
        p = Path(*parts[1:])
    return p.as_posix()


def check(report: dict[str, object], exceptions: list[Entry]) -> list[str]:
    files = {_key(name): data for name, data in report["files"].items()}  # type: ignore[attr-defined]
    failures: list[str] = []
    used: set[Entry] = set()
    for module in gated_files():
        data = files.get(module)
        if data is None:
            failures.append(f"{module}: 不在覆盖率报告里（没有测试导入它）")
            continue
        source = (SRC / module).read_text(encoding="utf-8").splitlines()

        def text(line: int, source: list[str] = source) -> str:
            return source[line - 1].strip() if 0 < line <= len(source) else ""

        def excused(line: int, module: str = module) -> bool:
            hit = [e for e in exceptions if e.module == module and e.text == text(line)]
            used.update(hit)
            return bool(hit)

        for line in data["missing_lines"]:
            if not excused(line):
                failures.append(f"{module}:{line}: 未执行的行  {text(line)}")
        for start, end in data.get("missing_branches", []):
            if not (excused(start) or (end > 0 and excused(end))):
                to = "exit" if end < 0 else str(end)
                failures.append(f"{module}:{start}->{to}: 未走过的分支  {text(start)}")
    gated = set(gated_files())
    for e in exceptions:
        if e.module not in gated:
            failures.append(f"{EXCEPTIONS.name}:{e.lineno}: {e.module} 不是受检模块，删去此条")
        elif e not in used:
            failures.append(
                f"{EXCEPTIONS.name}:{e.lineno}: 例外已不再适用（该行已被测试覆盖或已不存在），"
                f"删去此条：{e.module}{SEP}{e.text}"
            )
    return failures


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    report = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    exceptions, problems = read_exceptions()
    failures = problems + check(report, exceptions)
    if failures:
        print(f"覆盖率门槛未通过（{len(failures)} 处）：", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    print(f"覆盖率门槛通过：{len(gated_files())} 个受检文件，{len(exceptions)} 条例外")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
