"""API: cases (the online channel records applications here)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.responses import Status

from huimin.accounts.access import cases_for, get_case_for_user, get_person_for_user
from huimin.accounts.models import Role
from huimin.cases import actions as case_actions
from huimin.errors import ActionError
from huimin.programs.models import Program

router = Router(tags=["cases"])


class CaseIn(Schema):
    program: str = "childcare-subsidy"
    subject_id: int
    applicant_id: int
    claim_year: int


class CriterionOut(Schema):
    code: str
    label: str
    passed: bool
    detail: str


class CaseOut(Schema):
    id: int
    number: str
    program: str
    subject_id: int
    applicant_id: int | None
    claim_year: int
    state: str
    state_label: str
    eligible: bool
    months: int
    amount_fen: int
    version: int
    breakdown: str
    criteria: list[CriterionOut]


def _case(c: object) -> CaseOut:
    from huimin.cases.models import Case

    assert isinstance(c, Case)
    return CaseOut(
        id=c.pk, number=c.number, program=c.program.code, subject_id=c.subject_id,
        applicant_id=c.applicant_id, claim_year=c.claim_year, state=c.state,
        state_label=c.state_label, eligible=c.eligible, months=c.months,
        amount_fen=c.amount_fen, version=c.version,
        breakdown=c.explanation.get("breakdown", ""),
        criteria=[CriterionOut(**x) for x in c.explanation.get("criteria", [])],
    )


@router.get("/cases", response=list[CaseOut])
def list_cases(request: HttpRequest, state: str = "", limit: int = 50, offset: int = 0
               ) -> list[CaseOut]:
    qs = cases_for(request.user).order_by("id")
    if state:
        qs = qs.filter(state=state)
    return [_case(c) for c in qs[offset: offset + min(limit, 500)]]


@router.post("/cases", response={201: CaseOut})
def create_case(request: HttpRequest, payload: CaseIn) -> Status[CaseOut]:
    subject = get_person_for_user(request.user, payload.subject_id)
    applicant = get_person_for_user(request.user, payload.applicant_id)
    if not subject.parent_links.filter(parent=applicant).exists():
        raise ActionError("申请人须为该儿童的父母或监护人")
    try:
        program = Program.objects.get(code=payload.program, active=True)
    except Program.DoesNotExist:
        raise ActionError(f"program：未知项目 {payload.program}") from None
    account = applicant.bank_accounts.filter(active=True).order_by("id").first()
    case = case_actions.submit_application(
        request.user, program=program, subject=subject, claim_year=payload.claim_year,
        applicant=applicant, bank_account=account)
    return Status(201, _case(case))


@router.get("/cases/{case_id}", response=CaseOut)
def get_case(request: HttpRequest, case_id: int) -> CaseOut:
    return _case(get_case_for_user(request.user, case_id))


class ReviewIn(Schema):
    approve: bool
    comment: str = ""
    reason_codes: list[str] = []
    version: int | None = None


@router.post("/cases/{case_id}/township-review", response=CaseOut)
def township_review(request: HttpRequest, case_id: int, payload: ReviewIn) -> CaseOut:
    case = get_case_for_user(request.user, case_id, write=True, roles=[Role.TOWNSHIP_REVIEWER])
    return _case(case_actions.township_review(
        request.user, case, approve=payload.approve, comment=payload.comment,
        reason_codes=payload.reason_codes, expected_version=payload.version))


@router.post("/cases/{case_id}/county-confirm", response=CaseOut)
def county_confirm(request: HttpRequest, case_id: int, payload: ReviewIn) -> CaseOut:
    case = get_case_for_user(request.user, case_id, write=True, roles=[Role.COUNTY_APPROVER])
    return _case(case_actions.county_confirm(
        request.user, case, approve=payload.approve, comment=payload.comment,
        reason_codes=payload.reason_codes, expected_version=payload.version))
