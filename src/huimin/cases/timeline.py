"""One household, one file (一户一档): everything done for a household, in order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q

from huimin.audit.events import ACTION_LABELS
from huimin.audit.models import AuditEvent
from huimin.cases.models import Case
from huimin.cases.reasons import reason_labels
from huimin.cases.states import LEVEL_LABELS, State
from huimin.lib.money import format_yuan
from huimin.registry.models import Household, Person

#: reading a record is logged, but it is not something done for the household
NOT_IN_FILE = ("person.view", "case.document_view", "case.letter", "notice.print")


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: str
    action: str
    label: str
    person: str
    case: Case | None
    detail: str


def _state(value: object) -> str:
    return State(str(value)).label if value in State.values else str(value or "")


def describe(ev: AuditEvent) -> str:
    d: dict[str, Any] = ev.data or {}
    parts: list[str] = []
    if d.get("level"):
        parts.append(LEVEL_LABELS.get(str(d["level"]), str(d["level"])))
    if "old" in d and "new" in d:
        parts.append(f"{_state(d['old'])} → {_state(d['new'])}")
    if d.get("reason_codes"):
        parts.append("理由：" + "；".join(reason_labels(list(d["reason_codes"]))))
    for key, label in (("comment", "意见"), ("content", "异议"), ("finding", "核实情况"),
                       ("name", "文件")):
        if d.get(key):
            parts.append(f"{label}：{d[key]}")
    if "amount_fen" in d and isinstance(d["amount_fen"], int):
        parts.append(f"金额 {format_yuan(d['amount_fen'])} 元")
    if d.get("start_on") and d.get("end_on"):
        parts.append(f"公示期 {d['start_on']} 至 {d['end_on']}")
    if d.get("status") in ("upheld", "dismissed"):
        parts.append("异议成立" if d["status"] == "upheld" else "异议不成立")
    if d.get("batch"):
        parts.append(f"批次 {d['batch']}")
    return "；".join(parts)


def household_timeline(household: Household, members: list[Person]) -> list[Entry]:
    ids = [p.pk for p in members]
    names = {p.pk: p.name for p in members}
    cases = {c.pk: c for c in Case.objects.filter(subject_id__in=ids).select_related("program")}
    events = (AuditEvent.objects.filter(Q(person_id__in=ids) | Q(case_id__in=list(cases)))
              .exclude(action__in=NOT_IN_FILE).select_related("actor").order_by("at", "id"))
    out = []
    for ev in events:
        case = cases.get(ev.case_id) if ev.case_id else None
        person = names.get(ev.person_id or 0, "") or (names.get(case.subject_id, "")
                                                      if case else "")
        out.append(Entry(ev.at, str(ev.actor) if ev.actor else "系统", ev.action,
                         ACTION_LABELS.get(ev.action, ev.action), person, case, describe(ev)))
    return out
