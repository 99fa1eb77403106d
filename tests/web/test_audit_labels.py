"""Every audit action the code writes has a Chinese label for the timeline and the audit log."""

from __future__ import annotations

import re
from pathlib import Path

import huimin
from huimin.audit.events import ACTION_LABELS

ACTION = re.compile(
    r'"((?:case|batch|cycle|payment|person|registry|notice|objection|audit|programs|feed|recovery)\.[a-z_]+)"')


def test_every_written_action_has_a_label() -> None:
    root = Path(huimin.__file__).parent
    found = {m for f in root.rglob("*.py") if "migrations" not in f.parts
             for m in ACTION.findall(f.read_text(encoding="utf-8"))}
    assert len(found) > 20
    assert sorted(found - set(ACTION_LABELS)) == []
