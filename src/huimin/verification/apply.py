"""Confirming or dismissing proposed effects (a county approver, for the county).

A confirmed effect goes through the actions of the app it changes: the register
(``registry.actions.record_death`` / ``move_person``, with ``via="feed"``), the case
(``cases.actions.stop_case`` …) and payments (``payments.holds.hold_case`` for what was not
yet sent, ``payments.recoveries.open_recovery`` for what was paid for a period without
entitlement). Confirming several is one transaction: all are applied or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from huimin.accounts.access import area_q, in_user_area
from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.cases import actions as case_actions
from huimin.cases.models import Case
from huimin.cases.states import State
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.lib.money import format_yuan
from huimin.payments.actions.recoveries import paid_fen
from huimin.verification.models import Effect, EffectKind, EffectStatus, Kind

CONFIRM_ROLES = (Role.COUNTY_APPROVER, Role.ADMIN)
READ_ROLES = frozenset(Role.values)
#: at most this many effects confirmed in one go
BULK_MAX = 1000


def effects_for(user: Any) -> QuerySet[Effect]:
    if not getattr(user, "is_authenticated", False) or user.role not in READ_ROLES:
        return Effect.objects.none()
    return (Effect.objects.filter(area_q(user, "area_code"))
            .select_related("person", "subject", "case", "program", "row", "decided_by"))


def get_effect_for_user(user: Any, pk: object) -> Effect:
    try:
        return effects_for(user).get(pk=int(str(pk)))
    except (Effect.DoesNotExist, ValueError, TypeError):
        raise Http404("记录不存在或不在您的管辖范围内") from None


@dataclass(frozen=True)
class Step:
    effect: Effect
    what: str  # what confirming will do, in words
    recover_fen: int


def preview(effects: list[Effect]) -> list[Step]:
    """What confirming each effect will change (nothing is changed here)."""
    steps = []
    for e in effects:
        recover = 0
        if e.kind == EffectKind.RECORD:
            what = e.summary
        elif e.kind in (EffectKind.OFFER,):
            what = "列入村级免申即享名单，由村级专干联系家庭申请"
        elif e.kind == EffectKind.ENROL:
            what = f"自动建立案件（{e.program.name if e.program else ''} {e.claim_year} 年度）"
        else:
            assert e.case is not None
            paid = paid_fen(e.case)
            if e.kind in (EffectKind.STOP, EffectKind.RECALCULATE):
                recover = max(0, paid - e.new_amount_fen)
            label = EffectKind(e.kind).label
            what = (f"案件 {e.case.number} {label}（自 {e.from_date} 起）；"
                    f"{format_yuan(e.old_amount_fen)} → {format_yuan(e.new_amount_fen)}；"
                    "未发放的款项暂停发放")
            if recover:
                what += f"；已发放 {format_yuan(paid)}，应追回 {format_yuan(recover)}"
        steps.append(Step(e, what, recover))
    return steps


def _check(actor: Any, effect: Effect) -> None:
    if getattr(actor, "role", None) not in CONFIRM_ROLES:
        raise Forbidden("只有县级审批员可以确认或驳回比对处理事项")
    if not in_user_area(actor, effect.area_code):
        raise Forbidden(f"事项 {effect.pk} 不在您的管辖范围内")


def _lock(effect: Effect) -> Effect:
    locked = (Effect.objects.select_for_update(of=("self",))
              .select_related("person__area", "case", "program", "subject", "row")
              .get(pk=effect.pk))
    if locked.status != EffectStatus.PROPOSED:
        raise Conflict(f"事项 {locked.pk} 已{EffectStatus(locked.status).label}")
    return locked


@transaction.atomic
def confirm(actor: Any, effects: list[Effect], *, note: str = "") -> list[Effect]:
    if not effects:
        raise ActionError("没有选择要确认的事项")
    if len(effects) > BULK_MAX:
        raise ActionError(f"一次最多确认 {BULK_MAX} 项")
    for e in effects:
        _check(actor, e)
    # the register first (a death, a move), then the cases that follow from it: a case
    # effect's register step is confirmed by then, or (not chosen) with it
    ordered = sorted(effects, key=lambda e: (e.kind != EffectKind.RECORD, e.pk))
    return [_confirm_one(actor, _lock(e), note) for e in ordered]


def _confirm_one(actor: Any, e: Effect, note: str) -> Effect:
    applied: dict[str, Any] = {}
    if e.kind == EffectKind.RECORD:
        applied.update(_register(actor, e))
    else:
        _register_first(actor, e)
        applied.update(_apply_case(actor, e))
    e.status = EffectStatus.CONFIRMED
    e.decided_by, e.decided_at, e.note = actor, timezone.now(), note[:500]
    e.applied = applied
    e.save(update_fields=["status", "decided_by", "decided_at", "note", "applied"])
    record(actor, "feed.effect_confirm", e, person_id=(e.subject_id or e.person_id),
           case_id=e.case_id, area_code=e.area_code, kind=e.kind, summary=e.summary,
           comment=note, effect=e.pk, **applied)
    return e


def _register_first(actor: Any, e: Effect) -> None:
    """The event's register step, when it is still waiting: confirming what follows from a
    death confirms the death."""
    signature = (e.params or {}).get("signature", "")  # every proposed effect has one
    step = (Effect.objects.select_for_update(of=("self",))
            .filter(key=f"{signature}:record").first())
    if step is not None and step.status == EffectStatus.DISMISSED:
        raise Conflict(f"事项 {e.pk}：该事件的登记变更（事项 {step.pk}）已驳回，不能据此变更案件")
    if step is not None and step.status == EffectStatus.PROPOSED:
        _check(actor, step)
        _confirm_one(actor, step, "随关联事项确认")


def _register(actor: Any, e: Effect) -> dict[str, Any]:
    from huimin.registry import actions as registry_actions

    params = e.params or {}
    person = e.person
    if e.event_kind == Kind.DEATH:
        registry_actions.record_death(
            actor, person, death_date=date.fromisoformat(params["death_date"]),
            source=str(params.get("source", "")), certificate=str(params.get("certificate", "")),
            via="feed", note=e.summary)
        return {"register": "death"}
    if e.event_kind == Kind.MOVE:
        registry_actions.move_person(
            actor, person, to_code=str(params["to_code"]),
            moved_on=date.fromisoformat(params["moved_on"]), via="feed", note=e.summary)
        return {"register": "move"}
    raise ActionError(f"事项 {e.pk} 不是登记变更")


def _hold(actor: Any, case: Case, held_reason: str, reason: str, from_date: date) -> int:
    from huimin.payments.holds import hold_case

    return hold_case(actor, case, held_reason=held_reason, reason=reason[:200],
                     from_date=from_date)


def _recover(actor: Any, case: Case, amount: int, e: Effect) -> int | None:
    if amount <= 0:
        return None
    from huimin.payments.recoveries import open_recovery

    assert e.from_date is not None
    recovery = open_recovery(actor, case=case, amount_fen=amount, cause=e.summary[:200],
                             period_start=e.from_date,
                             period_end=date(case.claim_year, 12, 31),
                             event_ref=f"feed-effect:{e.pk}")
    return int(recovery.pk)


def _apply_case(actor: Any, e: Effect) -> dict[str, Any]:
    from huimin.payments.models import HeldReason

    if e.kind == EffectKind.OFFER:
        return {}
    if e.kind == EffectKind.ENROL:
        assert e.program is not None and e.subject is not None and e.claim_year is not None
        case = case_actions.enrol_case(actor, program=e.program, subject=e.subject,
                                       claim_year=e.claim_year, reason=e.summary)
        return {"enrolled_case": case.pk}
    assert e.case is not None
    case = Case.objects.select_related("area", "program").get(pk=e.case.pk)
    reason = e.summary
    held_reason = HeldReason.DIED if e.event_kind == Kind.DEATH and \
        case.subject_id == e.person_id else HeldReason.INELIGIBLE
    out: dict[str, Any] = {}
    assert e.from_date is not None
    facts = None
    if e.event_kind == Kind.DISABILITY:
        facts = {"child_disability_grade": (e.params or {}).get("grade")}
    if e.kind == EffectKind.STOP:
        paid = paid_fen(case)
        out["held"] = _hold(actor, case, held_reason, reason, e.from_date)
        case = case_actions.stop_case(actor, case, stopped_on=e.from_date, reason=reason[:200],
                                      facts=facts)
        out["recovery"] = _recover(actor, case, paid - case.amount_fen, e)
    elif e.kind == EffectKind.RECALCULATE:
        paid = paid_fen(case)
        case = case_actions.recalculate_case(actor, case, reason=reason, facts=facts)
        out["amount_fen"] = case.amount_fen
        if paid and paid > case.amount_fen:
            out["recovery"] = _recover(actor, case, paid - case.amount_fen, e)
    elif e.kind in (EffectKind.SUSPEND, EffectKind.REVERIFY):
        # held as suspended, so that resuming the case releases the payments with it
        out["held"] = _hold(actor, case, HeldReason.SUSPENDED, reason, e.from_date)
        case_actions.suspend_case(actor, case, from_date=e.from_date, reason=reason[:200])
    elif e.kind == EffectKind.MOVE:
        case.refresh_from_db()
        if case.state == State.TRANSFERRED:
            out["held"] = _hold(actor, case, HeldReason.MOVED, reason, e.from_date)
        elif (case.state not in case_actions.ENDED_STATES and case.state != State.IN_PAYMENT
              and e.new_amount_fen != e.old_amount_fen):  # a local scheme at the destination
            case = case_actions.recalculate_case(actor, case, reason=reason)
            out["amount_fen"] = case.amount_fen
    return out


@transaction.atomic
def dismiss(actor: Any, effect: Effect, *, note: str = "") -> Effect:
    """Nothing changes but the effect's status (and the audit trail)."""
    _check(actor, effect)
    e = _lock(effect)
    e.status = EffectStatus.DISMISSED
    e.decided_by, e.decided_at, e.note = actor, timezone.now(), note[:500]
    e.save(update_fields=["status", "decided_by", "decided_at", "note"])
    record(actor, "feed.effect_dismiss", e, person_id=(e.subject_id or e.person_id),
           case_id=e.case_id, area_code=e.area_code, kind=e.kind, summary=e.summary,
           comment=note, effect=e.pk)
    return e
