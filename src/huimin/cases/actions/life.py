"""Changes of life of a case: stopped, suspended, resumed or recalculated after a death,
a move or another register change; moved or handed over with its person; paid into a
replaced account. Atomic and audited like the rest of ``huimin.cases.actions``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.db import transaction

from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.audit.models import AuditEvent
from huimin.cases.actions import (
    _actor_level,
    _bump,
    _check_area,
    _check_scope,
    _decide_row,
    _evaluate,
    _lock,
    _store_entitlement,
    _wait_for,
    clean_facts,
    local_today,
)
from huimin.cases.models import (
    Case,
    Outcome,
)
from huimin.cases.states import (
    State,
)
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.lib.cells import control_problem
from huimin.programs import entitlement
from huimin.programs.models import Program
from huimin.registry.models import Area, BankAccount, Person

# Changes of life
# A death, a move or another change of the register, confirmed by the county (usually from
# a civil-data feed, huimin.verification): the case is stopped, suspended while it is
# verified again, resumed, or its amount recalculated by the rules engine on the register
# as it now stands. Payments not yet sent are held by the caller (payments.holds).

CHANGE_ROLES = (Role.COUNTY_APPROVER, Role.ADMIN)
#: cases a change of life no longer touches
ENDED_STATES = (State.REJECTED, State.STOPPED, State.TRANSFERRED)


def _changing(actor: Any, case: Case, expected_version: int | None) -> Case:
    if getattr(actor, "role", None) not in CHANGE_ROLES:
        raise Forbidden("只有县级审批员可以确认停发、暂停或重新核定")
    _check_area(actor, case)
    locked = _lock(case.pk, expected_version)
    if locked.state in ENDED_STATES:
        raise Conflict(f"案件 {locked.number} 已{State(locked.state).label}，不能再变更")
    if locked.state == State.IN_PAYMENT:
        raise Conflict(f"案件 {locked.number} 发放中（银行文件已导出），待回盘后再确认")
    return locked


def _reevaluate(case: Case) -> tuple[dict[str, Any], entitlement.Entitlement]:
    subject = Person.objects.select_related("area").get(pk=case.subject_id)
    ent = entitlement.evaluate(case.program.code, subject, case.claim_year, local_today(),
                               case_facts=case.facts)
    return _store_entitlement(case, ent), ent


def _merge_facts(case: Case, facts: Mapping[str, object] | None) -> None:
    kept = dict(case.facts or {})
    if facts:
        if "child_disability_grade" in facts and facts["child_disability_grade"] is None:
            kept.pop("child_disability_grade", None)
        kept.update(clean_facts({k: v for k, v in facts.items() if v is not None}))
    case.facts = kept


@transaction.atomic
def stop_case(actor: Any, case: Case, *, stopped_on: date, reason: str,
              facts: Mapping[str, object] | None = None,
              expected_version: int | None = None) -> Case:
    """Entitlement ends from ``stopped_on`` (the first day without it): the amount is
    evaluated again on the register as it now stands (a child's months up to its death),
    with ``facts`` (a new disability grade …) merged into the case facts."""
    locked = _changing(actor, case, expected_version)
    old_state = locked.state
    _merge_facts(locked, facts)
    old, ent = _reevaluate(locked)
    locked.state = State.STOPPED
    locked.stopped_on, locked.stop_reason = stopped_on, reason[:200]
    locked.awaiting_role = locked.pending_posting = ""
    locked.ready_on = locked.due_on = None
    _bump(locked, "state", "stopped_on", "stop_reason", "awaiting_role", "pending_posting",
          "ready_on", "due_on", "facts", "eligible", "months", "amount_fen", "explanation")
    record(actor, "case.stop", locked, person_id=locked.subject_id, case_id=locked.pk,
           area_code=locked.area.code, old=old_state, new=locked.state,
           stopped_on=stopped_on.isoformat(), comment=reason, old_amount_fen=old["amount_fen"],
           amount_fen=ent.amount_fen, months=ent.months)
    return locked


@transaction.atomic
def suspend_case(actor: Any, case: Case, *, from_date: date, reason: str,
                 expected_version: int | None = None) -> Case:
    """Payments wait while the case is verified again (``resume_case`` lifts it)."""
    locked = _changing(actor, case, expected_version)
    if locked.state == State.SUSPENDED:
        return locked
    old_state = locked.state
    locked.state = State.SUSPENDED
    locked.stopped_on, locked.stop_reason = from_date, reason[:200]
    _bump(locked, "state", "stopped_on", "stop_reason")
    record(actor, "case.suspend", locked, person_id=locked.subject_id, case_id=locked.pk,
           area_code=locked.area.code, old=old_state, new=locked.state,
           stopped_on=from_date.isoformat(), comment=reason)
    return locked


def _conclusion(text: str, field: str, example: str) -> str:
    """The county's written finding on a suspension: required, one line of at most 200."""
    found = (text or "").strip() if isinstance(text, str) else ""
    if not found:
        raise ActionError(f"{field}：请填写{example}")
    problem = control_problem(found)
    if problem:  # a line break, a NUL (which PostgreSQL's JSON refuses), …
        raise ActionError(f"{field}：{problem}")
    if len(found) > 200:
        raise ActionError(f"{field}：最多 200 个字（现为 {len(found)} 个）")
    return found


def _still_suspended(locked: Case, what: str) -> None:
    if locked.state != State.SUSPENDED:
        raise Conflict(f"案件 {locked.number} 已不是暂停状态（现为「{locked.state_label}」），"
                       f"不能{what}，请刷新后查看")


@transaction.atomic
def resume_case(actor: Any, case: Case, *, reason: str,
                expected_version: int | None = None) -> Case:
    """A suspended case back in the state it was suspended from; a payment held for the
    suspension (``HeldReason.SUSPENDED``) is released with it, in the same transaction.
    ``reason`` is the county's finding (复核结论), required."""
    if getattr(actor, "role", None) not in CHANGE_ROLES:
        raise Forbidden("只有县级审批员可以恢复发放")
    _check_area(actor, case)
    reason = _conclusion(reason, "复核结论", "恢复发放的依据（如：经核实未迁出，信息有误）")
    locked = _lock(case.pk, expected_version)
    _still_suspended(locked, "恢复发放")
    last = (AuditEvent.objects.filter(case_id=locked.pk, action="case.suspend")
            .order_by("-at", "-id").first())
    previous = str((last.data or {}).get("old", State.APPROVED)) if last else State.APPROVED
    locked.state = previous
    locked.stopped_on, locked.stop_reason = None, ""
    _bump(locked, "state", "stopped_on", "stop_reason")
    record(actor, "case.resume", locked, person_id=locked.subject_id, case_id=locked.pk,
           area_code=locked.area.code, old=State.SUSPENDED, new=previous, comment=reason)
    from huimin.payments.holds import release_case
    from huimin.payments.models import Entitlement, EntitlementStatus, HeldReason

    if Entitlement.objects.filter(case_id=locked.pk, status=EntitlementStatus.HELD,
                                  held_reason=HeldReason.SUSPENDED).exists():
        release_case(actor, locked, reason=reason)
    return locked


@transaction.atomic
def stop_suspended(actor: Any, case: Case, *, stopped_on: date, reason: str,
                   expected_version: int | None = None) -> Case:
    """Re-verification confirmed that a suspended case lost its entitlement: it is stopped
    from ``stopped_on`` (``stop_case``). A payment held for the suspension stays held (it
    was never sent), now held as 不再符合条件 with ``reason``; one not yet held is held;
    what was paid beyond the amount to ``stopped_on`` becomes a recovery (cause: this stop,
    ``event_ref`` ``case-stop:<case id>``), all in this transaction."""
    if getattr(actor, "role", None) not in CHANGE_ROLES:
        raise Forbidden("只有县级审批员可以终止发放")
    _check_area(actor, case)
    reason = _conclusion(reason, "终止原因", "复核确认不再符合条件的依据（如：经核实已迁出本县）")
    if not isinstance(stopped_on, date):
        raise ActionError("终止日期：请填写日期 YYYY-MM-DD")
    today = local_today()
    if stopped_on > today:
        raise ActionError(f"终止日期：{stopped_on.isoformat()} 晚于今天，须为已不符合条件的日期")
    locked = _lock(case.pk, expected_version)
    _still_suspended(locked, "终止发放")
    if stopped_on.year < locked.claim_year:
        raise ActionError(f"终止日期：{stopped_on.isoformat()} 早于申领年度 "
                          f"{locked.claim_year} 年")
    from huimin.payments.holds import hold_case, reword_hold
    from huimin.payments.models import HeldReason
    from huimin.payments.recoveries import open_recovery, paid_fen

    paid = paid_fen(locked)
    hold_case(actor, locked, held_reason=HeldReason.INELIGIBLE, reason=reason,
              from_date=stopped_on)
    done = stop_case(actor, locked, stopped_on=stopped_on, reason=reason)
    reword_hold(actor, done, held_reason=HeldReason.INELIGIBLE, reason=reason)
    if paid > done.amount_fen:
        open_recovery(actor, case=done, amount_fen=paid - done.amount_fen,
                      cause=f"复核终止：{reason}"[:200], period_start=stopped_on,
                      period_end=date(done.claim_year, 12, 31),
                      event_ref=stop_ref(done))
    return done


def stop_ref(case: Case) -> str:
    """The ``event_ref`` of the recovery a stop after re-verification opens."""
    return f"case-stop:{case.pk}"


@transaction.atomic
def recalculate_case(actor: Any, case: Case, *, reason: str,
                     facts: Mapping[str, object] | None = None,
                     expected_version: int | None = None) -> Case:
    """The amount evaluated again on the register as it now stands, with ``facts`` (a new
    disability grade …) merged into the case facts; ``child_disability_grade: None`` removes
    the grade."""
    locked = _changing(actor, case, expected_version)
    _merge_facts(locked, facts)
    kept = locked.facts
    old, ent = _reevaluate(locked)
    _bump(locked, "facts", "eligible", "months", "amount_fen", "explanation")
    record(actor, "case.recalculate", locked, person_id=locked.subject_id, case_id=locked.pk,
           area_code=locked.area.code, comment=reason, old_amount_fen=old["amount_fen"],
           amount_fen=ent.amount_fen, months=ent.months, eligible=ent.eligible, facts=kept)
    return locked


@transaction.atomic
def enrol_case(actor: Any, *, program: Program, subject: Person, claim_year: int,
               reason: str) -> Case:
    """Automatic enrolment (免申即享) of a program whose rules say so: the case is recorded
    for the family, without an application, and goes through the program's review chain."""
    if getattr(actor, "role", None) not in CHANGE_ROLES:
        raise Forbidden("只有县级审批员可以确认自动纳入")
    _check_scope(actor, subject)
    today = local_today()
    rules = entitlement.resolve(program.code, subject.area.code, claim_year, today)
    if not any(c.doc.enrolment == "automatic" for c in rules.components):
        raise ActionError(f"{program.name} 在该地区不是自动纳入（免申即享）的项目")
    if Case.objects.filter(program=program, subject=subject, claim_year=claim_year).exists():
        raise Conflict(f"{subject.name} 的 {claim_year} 年度{program.name}已有案件")
    parents = [link.parent for link in subject.parent_links.select_related("parent")
               .exclude(relation="guardian").order_by("relation", "id")]
    applicant = next((p for p in parents if p.bank_accounts.filter(active=True).exists()),
                     parents[0] if parents else None)
    if applicant is None:
        raise ActionError(f"{subject.name} 未登记父母，不能自动纳入")
    account = applicant.bank_accounts.filter(active=True).order_by("-id").first()
    ent = _evaluate(program, subject, claim_year, {})
    case = Case(program=program, subject=subject, applicant=applicant, bank_account=account,
                area=subject.area, claim_year=claim_year, state=State.SUBMITTED, facts={},
                review_chain=[lv.to_dict() for lv in rules.review_chain], created_by=actor)
    _store_entitlement(case, ent)
    _wait_for(case, 0, start=today)
    case.save()
    _decide_row(actor, case, _actor_level(actor), Outcome.SUBMITTED, "", comment=reason)
    record(actor, "case.enrol", case, person_id=subject.pk, case_id=case.pk,
           area_code=case.area.code, program=program.code, claim_year=claim_year,
           eligible=ent.eligible, amount_fen=ent.amount_fen, comment=reason)
    return case


# Moves
# A person's move, applied by ``registry.actions.move_person``: within the county their open
# cases follow them to the new village with their whole history; out of it the open cases
# end (已迁出移交) on a hand-over record the receiving county imports.

MOVE_ROLES = (Role.VILLAGE_CADRE, Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER, Role.ADMIN)
#: cases a move leaves where they are
ENDED_FOR_MOVES = (State.REJECTED, State.STOPPED, State.TRANSFERRED)


def _moving(actor: Any, case: Case) -> Case:
    if getattr(actor, "role", None) not in MOVE_ROLES:
        raise Forbidden("您的角色不能办理案件迁移")
    _check_area(actor, case)
    locked = _lock(case.pk, None)
    if locked.state in ENDED_FOR_MOVES:
        raise Conflict(f"案件 {locked.number} 已{State(locked.state).label}，不随迁移变更")
    return locked


@transaction.atomic
def move_case(actor: Any, case: Case, *, to_area: Area, moved_on: date, note: str = "") -> Case:
    """The case follows its subject to another village of the county: same state, same
    history, the new village's offices act on it from now on."""
    locked = _moving(actor, case)
    if to_area.level != "village" or to_area.code[:6] != locked.area.code[:6]:
        raise ActionError("迁往地：须为本县的村（居）委会")
    if to_area.pk == locked.area_id:
        return locked
    old = locked.area
    locked.area = to_area
    _bump(locked, "area")
    record(actor, "case.move", locked, person_id=locked.subject_id, case_id=locked.pk,
           area_code=to_area.code, from_code=old.code, to_code=to_area.code,
           moved_on=moved_on.isoformat(), comment=note,
           changes=[{"field": "户籍地", "old": old.full_name(), "new": to_area.full_name()}])
    return locked


def check_transferable(case: Case) -> None:
    """A case whose bank file is out cannot be handed over until the bank's return is in."""
    if case.state == State.IN_PAYMENT:
        raise Conflict(f"案件 {case.number} 发放中（银行文件已导出），待回盘后再办理迁出")


@transaction.atomic
def transfer_out(actor: Any, case: Case, *, moved_on: date, to_code: str,
                 note: str = "") -> Case:
    """The subject moved out of the county: the case ends as 已迁出移交 from ``moved_on``;
    the receiving county takes it on from the hand-over record."""
    locked = _moving(actor, case)
    check_transferable(locked)
    old_state = locked.state
    locked.state = State.TRANSFERRED
    locked.stopped_on = moved_on
    locked.stop_reason = (note or f"迁出至 {to_code}")[:200]
    locked.awaiting_role = locked.pending_posting = ""
    locked.ready_on = locked.due_on = None
    _bump(locked, "state", "stopped_on", "stop_reason", "awaiting_role", "pending_posting",
          "ready_on", "due_on")
    record(actor, "case.transfer_out", locked, person_id=locked.subject_id, case_id=locked.pk,
           area_code=locked.area.code, old=old_state, new=locked.state, to_code=to_code,
           stopped_on=moved_on.isoformat(), comment=locked.stop_reason)
    return locked


# Accounts
# An account replaced through a register change: the open cases paid into it are paid into
# the new one from now on (lines already made keep theirs; payments corrects a failed line).

@transaction.atomic
def change_account(actor: Any, case: Case, account: BankAccount, *, note: str = "") -> Case:
    if getattr(actor, "role", None) not in MOVE_ROLES:
        raise Forbidden("您的角色不能更改案件的收款账户")
    _check_area(actor, case)
    locked = _lock(case.pk, None)
    if account.person_id not in (locked.subject_id, locked.applicant_id) or not account.active:
        raise ActionError("收款账户：须为申请人或补贴对象的有效账户")
    old = locked.bank_account
    locked.bank_account = account
    _bump(locked, "bank_account")
    record(actor, "case.account", locked, person_id=locked.subject_id, case_id=locked.pk,
           area_code=locked.area.code, comment=note,
           changes=[{"field": "收款账户", "old": old.account_masked if old else "",
                     "new": account.account_masked}])
    return locked
