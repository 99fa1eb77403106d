"""One household, one file (一户一档): everything done for a household, in order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q

from huimin.audit.events import ACTION_LABELS, BATCH_ACTIONS
from huimin.audit.models import AuditEvent
from huimin.cases.models import Case
from huimin.cases.reasons import reason_labels
from huimin.cases.states import LEVEL_LABELS, State
from huimin.lib.money import format_yuan
from huimin.registry.models import Household, Person

#: reading a record is logged, but it is not something done for the household
NOT_IN_FILE = ("person.view", "case.document_view", "case.letter", "notice.print",
               # reads, not steps of the file
               "person.list", "person.search", "case.search", "case.view",
               "recovery.list", "recovery.view", "recovery.export", "change.evidence_view",
               "handover.download")


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
    if d.get("number") and str(d["number"]).startswith("BG"):  # a change request
        parts.append(f"变更申请 {d['number']}")
    for change in d.get("changes") or []:  # register changes: old → new, masked at source
        if isinstance(change, dict):
            parts.append(f"{change.get('field', '')}：{change.get('old') or '（空）'} → "
                         f"{change.get('new') or '（空）'}")
    if d.get("reason_codes"):
        parts.append("理由：" + "；".join(reason_labels(list(d["reason_codes"]))))
    for key, label in (("comment", "意见"), ("content", "异议"), ("finding", "核实情况"),
                       ("name", "文件")):
        if d.get(key):
            parts.append(f"{label}：{d[key]}")
    if "amount_fen" in d and isinstance(d["amount_fen"], int):
        parts.append(f"金额 {format_yuan(d['amount_fen'])}")
    if d.get("start_on") and d.get("end_on"):
        parts.append(f"公示期 {d['start_on']} 至 {d['end_on']}")
    if d.get("status") in ("upheld", "dismissed"):
        parts.append("异议成立" if d["status"] == "upheld" else "异议不成立")
    if d.get("batch"):
        parts.append(f"批次 {d['batch']}")
    return "；".join(parts)


#: a case's payment steps, by the bank's result of its line
LINE_RESULT_ACTION = {"paid": "case.paid", "failed": "case.payment_failed",
                      "returned": "case.payment_returned"}


def _actor(ev: AuditEvent) -> str:
    return str(ev.actor) if ev.actor else "系统"


def freeze_entries(cases: dict[int, Case], names: dict[int, str]) -> list[Entry]:
    """Each case's entitlement: building a cycle is one audit event (``cycle.build``) for
    all the cases it froze; a case's part is its entitlement (cycle, cut-off, amount, and
    why it is held if it is)."""
    from huimin.payments.models import Entitlement, EntitlementStatus

    ents = list(Entitlement.objects.filter(case_id__in=list(cases)).select_related("cycle")
                .order_by("frozen_at", "id"))
    if not ents:
        return []
    builds: dict[int, list[AuditEvent]] = {}
    for build in (AuditEvent.objects.filter(
            action="cycle.build", object_type="paymentcycle",
            object_id__in=sorted({str(e.cycle_id) for e in ents}))
            .select_related("actor").order_by("at", "id")):
        builds.setdefault(int(build.object_id), []).append(build)
    out = []
    for e in ents:
        # the build that froze it: the one stamped with its time (older events: the first
        # build of its cycle at or after it)
        stamp = e.frozen_at.isoformat()
        evs = builds.get(e.cycle_id, [])
        ev: AuditEvent | None = next(
            (x for x in evs if (x.data or {}).get("at") == stamp), None) or next(
            (x for x in evs if x.at >= e.frozen_at), None)
        case = cases[e.case_id]
        detail = (f"发放周期 {e.cycle.number}（截止日 {e.cycle.cut_off:%Y-%m-%d}）；"
                  f"冻结金额 {format_yuan(e.amount_fen)}")
        if e.status == EntitlementStatus.HELD:
            detail += f"；暂停发放：{e.get_held_reason_display()}"
            if e.held_note:
                detail += f"（{e.held_note}）"
        out.append(Entry(ev.at if ev else e.frozen_at, _actor(ev) if ev else "系统",
                         "case.freeze", ACTION_LABELS["case.freeze"],
                         names.get(case.subject_id, ""), case, detail))
    return out


def payment_entries(cases: dict[int, Case], names: dict[int, str]) -> list[Entry]:
    """Each case's payment steps. A batch and a bank return are one audit event each for all
    their lines; a case's part of it is its line (batch, sequence, amount, the bank's result)."""
    from huimin.payments.models import PaymentLine

    lines = list(PaymentLine.objects.filter(case_id__in=list(cases))
                 .select_related("batch").order_by("batch_id", "seq", "id"))
    if not lines:
        return []
    events = (AuditEvent.objects.filter(action__in=BATCH_ACTIONS, object_type="paymentbatch",
                                        object_id__in=sorted({str(ln.batch_id) for ln in lines}))
              .select_related("actor"))
    created: dict[int, AuditEvent] = {}
    settled: dict[int, AuditEvent] = {}
    for ev in events:
        if ev.action == "batch.create":
            created[int(ev.object_id)] = ev
        elif isinstance((ev.data or {}).get("bank_return"), int):
            settled[int(ev.data["bank_return"])] = ev
    out = []
    for ln in lines:
        case = cases[ln.case_id]
        person = names.get(case.subject_id, "")
        where = f"批次 {ln.batch.number}；序号 {ln.seq}；金额 {format_yuan(ln.amount_fen)}"
        added = created.get(ln.batch_id)
        if added is not None:
            out.append(Entry(added.at, _actor(added), "case.add_to_batch",
                             ACTION_LABELS["case.add_to_batch"], person, case, where))
        result = settled.get(ln.settled_by_id or 0)
        if result is not None and ln.status in LINE_RESULT_ACTION:
            action = LINE_RESULT_ACTION[ln.status]
            detail = where + (f"；银行说明：{ln.bank_reason}" if ln.bank_reason else "")
            out.append(Entry(result.at, _actor(result), action, ACTION_LABELS[action], person,
                             case, detail))
    return out


def case_entries(cases: dict[int, Case], names: dict[int, str],
                 person_ids: list[int] | None = None) -> list[Entry]:
    """Everything done for these cases (and persons), in order, payment steps included."""
    who = Q(case_id__in=list(cases))
    if person_ids:
        who |= Q(person_id__in=person_ids)
    events = (AuditEvent.objects.filter(who).exclude(action__in=NOT_IN_FILE)
              .select_related("actor").order_by("at", "id"))
    out = []
    for ev in events:
        case = cases.get(ev.case_id) if ev.case_id else None
        person = names.get(ev.person_id or 0, "") or (names.get(case.subject_id, "")
                                                      if case else "")
        out.append(Entry(ev.at, _actor(ev), ev.action,
                         ACTION_LABELS.get(ev.action, ev.action), person, case, describe(ev)))
    out.extend(freeze_entries(cases, names))
    out.extend(payment_entries(cases, names))
    out.sort(key=lambda e: e.at)  # stable: events keep their order within one moment
    return out


def household_timeline(household: Household, members: list[Person]) -> list[Entry]:
    ids = [p.pk for p in members]
    names = {p.pk: p.name for p in members}
    cases = {c.pk: c for c in Case.objects.filter(subject_id__in=ids).select_related("program")}
    return case_entries(cases, names, ids)
