"""The `huimin` command line, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq


def huimin(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "huimin.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_check_ids_prints_a_verdict_per_line(tmp_path: Path) -> None:
    f = tmp_path / "ids.txt"
    f.write_text("11010519491231002X\n440524188001010014\n110105194912310021\n12345\n",
                 encoding="utf-8")
    result = huimin("registry", "check-ids", str(f))
    lines = result.stdout.splitlines()
    assert lines[:2] == ["VALID", "VALID"]
    assert lines[2].startswith("INVALID ") and "校验码" in lines[2]
    assert lines[3].startswith("INVALID ") and "长度" in lines[3]
    assert result.returncode == 1


def test_check_ids_all_valid_exits_zero(tmp_path: Path) -> None:
    f = tmp_path / "ids.txt"
    f.write_text("11010519491231002X\n", encoding="utf-8")
    result = huimin("registry", "check-ids", str(f))
    assert result.returncode == 0 and result.stdout == "VALID\n"


def test_check_ids_missing_file(tmp_path: Path) -> None:
    result = huimin("registry", "check-ids", str(tmp_path / "nope.txt"))
    assert result.returncode == 2 and "无法读取" in result.stderr


def test_generate_parquet_only_is_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        r = huimin("registry", "generate", "--persons", "300", "--seed", "5", "--no-db",
                   "--as-of", "2026-11-23", "--parquet", str(tmp_path / name))
        assert r.returncode == 0, r.stderr
    a = pq.read_table(tmp_path / "a" / "persons.parquet")
    assert a.num_rows >= 300
    assert a.equals(pq.read_table(tmp_path / "b" / "persons.parquet"))
