"""Every state change of a case: atomic, audited, checked against the transition table."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from huimin.accounts.access import in_user_area
from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.cases.models import Case, Decision, Level, Outcome
from huimin.cases.states import State, Transition, allowed
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.programs import entitlement
from huimin.programs.models import Program
from huimin.registry.models import BankAccount, Person

INTAKE_ROLES = (Role.VILLAGE_CADRE, Role.TOWNSHIP_REVIEWER)


def local_today() -> date:
    return timezone.localdate()


def _check_scope(actor: Any, person: Person) -> None:
    if not in_user_area(actor, person.area.code):
        raise Forbidden(f"{person.name} 的户籍不在您的管辖范围内")


@transaction.atomic
def submit_application(
    actor: Any,
    *,
    program: Program,
    subject: Person,
    claim_year: int,
    applicant: Person | None = None,
    bank_account: BankAccount | None = None,
) -> Case:
    """Record an application; the entitlement is evaluated and kept with the case."""
    if actor.role not in INTAKE_ROLES:
        raise Forbidden("只有村级专干或乡镇审核员可以受理申请")
    _check_scope(actor, subject)
    if applicant is not None and applicant.pk == subject.pk:
        raise ActionError("申请人不能是补贴对象本人")
    if bank_account is not None and applicant is not None and bank_account.person_id not in (
        applicant.pk, subject.pk
    ):
        raise ActionError("收款账户须属于申请人或补贴对象")
    existing = Case.objects.filter(program=program, subject=subject, claim_year=claim_year).first()
    if existing is not None:
        raise Conflict(
            f"{subject.name} 的 {claim_year} 年度{program.name}已有申请（案件 {existing.number}）"
        )
    ent = entitlement.evaluate(program.code, subject, claim_year, local_today())
    try:
        with transaction.atomic():
            case = Case.objects.create(
                program=program, subject=subject, applicant=applicant, bank_account=bank_account,
                area=subject.area, claim_year=claim_year, state=State.SUBMITTED,
                eligible=ent.eligible, months=ent.months, amount_fen=ent.amount_fen,
                explanation=ent.to_dict(), created_by=actor,
            )
    except IntegrityError:
        raise Conflict(f"{subject.name} 的 {claim_year} 年度{program.name}已有申请") from None
    Decision.objects.create(case=case, level=Level.VILLAGE if actor.role == Role.VILLAGE_CADRE
                            else Level.TOWNSHIP, outcome=Outcome.SUBMITTED, actor=actor)
    record(actor, "case.submit", case, person_id=subject.pk, case_id=case.pk,
           area_code=case.area.code, program=program.code, claim_year=claim_year,
           eligible=ent.eligible, amount_fen=ent.amount_fen)
    return case


def _lock(case_id: int, expected_version: int | None) -> Case:
    case = Case.objects.select_for_update().select_related("area", "program").get(pk=case_id)
    if expected_version is not None and case.version != expected_version:
        raise Conflict(f"案件已被他人处理，当前状态：{case.state_label}")
    return case


def _apply(
    actor: Any,
    case: Case,
    transition: str,
    *,
    expected_version: int | None,
    level: str,
    outcome: str,
    reason_codes: list[str] | None = None,
    comment: str = "",
) -> Case:
    locked = _lock(case.pk, expected_version)
    rule = allowed(locked.state, transition)
    if rule is None:
        raise Conflict(
            f"案件当前状态为「{locked.state_label}」，不能执行「{Transition(transition).label}」"
        )
    to_state, roles = rule
    if actor.role not in roles:
        raise Forbidden(f"您的角色不能执行「{Transition(transition).label}」")
    if not in_user_area(actor, locked.area.code):
        raise Forbidden("该案件不在您的管辖范围内")
    if outcome == Outcome.APPROVED and not locked.eligible:
        raise ActionError("该申请不符合条件，不能审核通过：" + "；".join(
            c["detail"] for c in locked.explanation.get("criteria", []) if not c["passed"]))
    if outcome == Outcome.REJECTED and not (reason_codes or comment.strip()):
        raise ActionError("不通过时须填写理由")
    old = locked.state
    locked.state = to_state
    locked.version += 1
    locked.save(update_fields=["state", "version", "updated_at"])
    Decision.objects.create(case=locked, level=level, outcome=outcome,
                            reason_codes=reason_codes or [], comment=comment, actor=actor)
    action = "case.reject" if outcome == Outcome.REJECTED else (
        "case.township_review" if level == Level.TOWNSHIP else "case.county_confirm")
    record(actor, action, locked, person_id=locked.subject_id, case_id=locked.pk,
           area_code=locked.area.code, old=old, new=to_state,
           reason_codes=reason_codes or [], comment=comment)
    return locked


@transaction.atomic
def township_review(
    actor: Any, case: Case, *, approve: bool, reason_codes: list[str] | None = None,
    comment: str = "", expected_version: int | None = None,
) -> Case:
    return _apply(
        actor, case,
        Transition.TOWNSHIP_APPROVE if approve else Transition.TOWNSHIP_REJECT,
        expected_version=expected_version, level=Level.TOWNSHIP,
        outcome=Outcome.APPROVED if approve else Outcome.REJECTED,
        reason_codes=reason_codes, comment=comment,
    )


@transaction.atomic
def county_confirm(
    actor: Any, case: Case, *, approve: bool, reason_codes: list[str] | None = None,
    comment: str = "", expected_version: int | None = None,
) -> Case:
    return _apply(
        actor, case,
        Transition.COUNTY_APPROVE if approve else Transition.COUNTY_REJECT,
        expected_version=expected_version, level=Level.COUNTY,
        outcome=Outcome.APPROVED if approve else Outcome.REJECTED,
        reason_codes=reason_codes, comment=comment,
    )
