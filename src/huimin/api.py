"""The REST API (OpenAPI document at /api/openapi.json, browsable at /api/docs)."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import File, NinjaAPI, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from ninja.security import django_auth

from huimin.accounts.access import (
    batches_for,
    cases_for,
    get_batch_for_user,
    get_case_for_user,
    get_person_for_user,
    persons_for,
)
from huimin.accounts.models import Role
from huimin.audit.events import record_view
from huimin.cases import actions as case_actions
from huimin.errors import ActionError, FileRejected
from huimin.payments import actions as pay_actions
from huimin.programs.models import Program
from huimin.registry.crypto import id_hash

api = NinjaAPI(title="惠民 API", version="1", auth=django_auth, urls_namespace="api")


@api.exception_handler(ActionError)
def on_action_error(request: HttpRequest, exc: ActionError) -> HttpResponse:
    body: dict[str, object] = {"detail": exc.message}
    if isinstance(exc, FileRejected):
        body["errors"] = [{"row": e.row, "column": e.column, "reason": e.reason}
                          for e in exc.errors]
    return api.create_response(request, body, status=exc.status)


@api.exception_handler(PermissionDenied)
def on_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "无权操作"}, status=403)


class PersonOut(Schema):
    id: int
    name: str
    id_masked: str
    sex: str
    birth_date: date
    death_date: date | None
    area_code: str
    hukou_type: str


def _person(p: object) -> PersonOut:
    from huimin.registry.models import Person

    assert isinstance(p, Person)
    return PersonOut(id=p.pk, name=p.name, id_masked=p.id_masked, sex=p.sex,
                     birth_date=p.birth_date, death_date=p.death_date, area_code=p.area.code,
                     hukou_type=p.hukou_type)


@api.get("/persons", response=list[PersonOut], tags=["registry"])
def list_persons(request: HttpRequest, q: str = "", limit: int = 50, offset: int = 0
                 ) -> list[PersonOut]:
    qs = persons_for(request.user).order_by("id")
    if q:
        qs = qs.filter(id_hash=id_hash(q.upper())) if len(q) == 18 else qs.filter(name__contains=q)
    return [_person(p) for p in qs[offset: offset + min(limit, 500)]]


@api.get("/persons/{person_id}", response=PersonOut, tags=["registry"])
def get_person(request: HttpRequest, person_id: int) -> PersonOut:
    person = get_person_for_user(request.user, person_id)
    record_view(request.user, person)
    return _person(person)


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


@api.get("/cases", response=list[CaseOut], tags=["cases"])
def list_cases(request: HttpRequest, state: str = "", limit: int = 50, offset: int = 0
               ) -> list[CaseOut]:
    qs = cases_for(request.user).order_by("id")
    if state:
        qs = qs.filter(state=state)
    return [_case(c) for c in qs[offset: offset + min(limit, 500)]]


@api.post("/cases", response={201: CaseOut}, tags=["cases"])
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


@api.get("/cases/{case_id}", response=CaseOut, tags=["cases"])
def get_case(request: HttpRequest, case_id: int) -> CaseOut:
    return _case(get_case_for_user(request.user, case_id))


class ReviewIn(Schema):
    approve: bool
    comment: str = ""
    reason_codes: list[str] = []
    version: int | None = None


@api.post("/cases/{case_id}/township-review", response=CaseOut, tags=["cases"])
def township_review(request: HttpRequest, case_id: int, payload: ReviewIn) -> CaseOut:
    case = get_case_for_user(request.user, case_id, write=True, roles=[Role.TOWNSHIP_REVIEWER])
    return _case(case_actions.township_review(
        request.user, case, approve=payload.approve, comment=payload.comment,
        reason_codes=payload.reason_codes, expected_version=payload.version))


@api.post("/cases/{case_id}/county-confirm", response=CaseOut, tags=["cases"])
def county_confirm(request: HttpRequest, case_id: int, payload: ReviewIn) -> CaseOut:
    case = get_case_for_user(request.user, case_id, write=True, roles=[Role.COUNTY_APPROVER])
    return _case(case_actions.county_confirm(
        request.user, case, approve=payload.approve, comment=payload.comment,
        reason_codes=payload.reason_codes, expected_version=payload.version))


class BatchIn(Schema):
    program: str = "childcare-subsidy"
    claim_year: int


class BatchOut(Schema):
    id: int
    number: str
    program: str
    claim_year: int
    state: str
    line_count: int
    total_fen: int
    file_sha256: str


def _batch(b: object) -> BatchOut:
    from huimin.payments.models import PaymentBatch

    assert isinstance(b, PaymentBatch)
    return BatchOut(id=b.pk, number=b.number, program=b.program.code, claim_year=b.claim_year,
                    state=b.state, line_count=b.line_count, total_fen=b.total_fen,
                    file_sha256=b.file_sha256)


@api.get("/batches", response=list[BatchOut], tags=["payments"])
def list_batches(request: HttpRequest) -> list[BatchOut]:
    return [_batch(b) for b in batches_for(request.user)[:200]]


@api.post("/batches", response={201: BatchOut}, tags=["payments"])
def create_batch(request: HttpRequest, payload: BatchIn) -> Status[BatchOut]:
    if getattr(request.user, "role", None) != Role.FINANCE_OFFICER:
        raise PermissionDenied("只有财务人员可以办理发放")
    try:
        program = Program.objects.get(code=payload.program)
    except Program.DoesNotExist:
        raise ActionError(f"program：未知项目 {payload.program}") from None
    batch = pay_actions.create_batch(request.user, program=program,
                                     claim_year=payload.claim_year)
    return Status(201, _batch(batch))


@api.get("/batches/{batch_id}", response=BatchOut, tags=["payments"])
def get_batch(request: HttpRequest, batch_id: int) -> BatchOut:
    return _batch(get_batch_for_user(request.user, batch_id))


@api.get("/batches/{batch_id}/bank-file", tags=["payments"])
def bank_file(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_batch_for_user(request.user, batch_id, write=True,
                               roles=[Role.FINANCE_OFFICER])
    data = pay_actions.export_batch(request.user, batch)
    resp = HttpResponse(data, content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{batch.number}.csv"'
    return resp


class ReturnOut(Schema):
    paid: int
    failed: int
    unchanged: int


@api.post("/batches/{batch_id}/return", response=ReturnOut, tags=["payments"])
def bank_return(request: HttpRequest, batch_id: int, file: File[UploadedFile]
                ) -> dict[str, int]:
    batch = get_batch_for_user(request.user, batch_id, write=True,
                               roles=[Role.FINANCE_OFFICER])
    return pay_actions.import_return(request.user, batch, file.read())
