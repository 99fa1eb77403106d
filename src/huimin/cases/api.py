"""API: cases (the online channel records applications here), notices and objections."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from huimin.accounts.access import cases_for, get_case_for_user, get_person_for_user, require_role
from huimin.accounts.models import Role
from huimin.api_params import (
    ClaimYear,
    Code,
    Day,
    Id,
    Page,
    Version,
    keyset_page,
    line,
    note,
)
from huimin.cases import actions as case_actions
from huimin.cases.models import Case, CaseDocument, Level, Notice, Objection, ObjectionStatus
from huimin.cases.notice_views import get_notice_for_user, notices_for
from huimin.cases.reasons import REJECT_REASONS
from huimin.cases.states import State
from huimin.cases.worklist import deadline, waiting
from huimin.errors import ActionError
from huimin.programs.entitlement import CHILDCARE
from huimin.programs.models import DocumentType, Program

router = Router(tags=["cases"])


if TYPE_CHECKING:
    ReasonCode = str
else:  # the closed set of reason codes, as an enum in the document
    ReasonCode = Literal[tuple(REJECT_REASONS)]
AwaitingRole = Role | Literal[""]
Comment = Annotated[str, note()]


class FactsIn(Schema):
    policy_status_confirmed: bool | None = None
    child_disability_grade: int | None = Field(None, ge=1, le=4, description="子女残疾等级 1–4")


class CaseIn(Schema):
    program: Code = CHILDCARE
    subject_id: Id
    applicant_id: Id | None = None
    claim_year: ClaimYear
    facts: FactsIn | None = None
    record_rejected: bool = False


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
    state: State
    state_label: str
    level: Level
    awaiting_role: AwaitingRole
    ready_on: date | None
    due_on: date | None
    eligible: bool
    months: int
    amount_fen: int
    version: int
    stopped_on: date | None = Field(None, description="暂停或停发的起始日")
    stop_reason: str = Field("", description="暂停或停发的原因")
    breakdown: str
    criteria: list[CriterionOut]


#: the JSON a case list does not answer (the explanation gives breakdown and criteria)
CASE_LIST_DEFER = ("facts",)


def _case(c: Case) -> CaseOut:
    return CaseOut(
        id=c.pk, number=c.number, program=c.program.code, subject_id=c.subject_id,
        applicant_id=c.applicant_id, claim_year=c.claim_year, state=State(c.state),
        state_label=c.state_label, level=Level(c.level),
        awaiting_role=Role(c.awaiting_role) if c.awaiting_role else "",
        ready_on=c.ready_on, due_on=c.due_on, eligible=c.eligible, months=c.months,
        amount_fen=c.amount_fen, version=c.version, stopped_on=c.stopped_on,
        stop_reason=c.stop_reason,
        breakdown=c.explanation.get("breakdown", ""),
        criteria=[CriterionOut(**{k: x[k] for k in ("code", "label", "passed", "detail")})
                  for x in c.explanation.get("criteria", [])],
    )


@router.get("/cases", response=list[CaseOut])
def list_cases(request: HttpRequest, response: HttpResponse, page: Query[Page],
               state: State | None = None, program: Code = "") -> list[CaseOut]:
    """Cases in the caller's scope by id. Deep pages: pass the last id seen as ``after``
    (an index range), not a large ``offset`` (which the database must count through)."""
    qs = cases_for(request.user).select_related("program").defer(*CASE_LIST_DEFER)
    if state:
        qs = qs.filter(state=state)
    if program:
        qs = qs.filter(program__code=program)
    return [_case(c) for c in keyset_page(request, response, qs.order_by("id"), page)]


@router.post("/cases", response={201: CaseOut})
def create_case(request: HttpRequest, payload: CaseIn) -> Status[CaseOut]:
    subject = get_person_for_user(request.user, payload.subject_id)
    applicant = (get_person_for_user(request.user, payload.applicant_id)
                 if payload.applicant_id is not None else None)
    try:
        program = Program.objects.get(code=payload.program, active=True)
    except Program.DoesNotExist:
        raise ActionError(f"program：未知项目 {payload.program}") from None
    if program.code == CHILDCARE and (
            applicant is None or not subject.parent_links.filter(parent=applicant).exists()):
        raise ActionError("申请人须为该儿童的父母或监护人")
    payee = applicant or subject
    account = payee.bank_accounts.filter(active=True).order_by("id").first()
    facts = payload.facts.dict(exclude_none=True) if payload.facts else {}
    case = case_actions.submit_application(
        request.user, program=program, subject=subject, claim_year=payload.claim_year,
        applicant=applicant, bank_account=account, facts=facts,
        record_rejected=payload.record_rejected)
    return Status(201, _case(case))


@router.get("/cases/{case_id}", response=CaseOut)
def get_case(request: HttpRequest, case_id: int) -> CaseOut:
    from huimin.audit.events import record

    case = get_case_for_user(request.user, case_id)
    record(request.user, "case.view", case, person_id=case.subject_id, case_id=case.pk,
           area_code=case.area.code, via="api")
    return _case(case)


class ReviewIn(Schema):
    approve: bool
    comment: Comment = ""
    override_reason: Comment = ""  # why the approval goes on with a required document missing
    reason_codes: list[ReasonCode] = Field([], max_length=len(REJECT_REASONS))
    version: Version | None = None


@router.post("/cases/{case_id}/township-review", response=CaseOut)
def township_review(request: HttpRequest, case_id: Id, payload: ReviewIn) -> CaseOut:
    case = get_case_for_user(request.user, case_id, write=True, roles=[Role.TOWNSHIP_REVIEWER])
    return _case(case_actions.township_review(
        request.user, case, approve=payload.approve, comment=payload.comment,
        reason_codes=payload.reason_codes, expected_version=payload.version,
        override_reason=payload.override_reason))


@router.post("/cases/{case_id}/county-confirm", response=CaseOut)
def county_confirm(request: HttpRequest, case_id: Id, payload: ReviewIn) -> CaseOut:
    case = get_case_for_user(request.user, case_id, write=True, roles=[Role.COUNTY_APPROVER])
    return _case(case_actions.county_confirm(
        request.user, case, approve=payload.approve, comment=payload.comment,
        reason_codes=payload.reason_codes, expected_version=payload.version,
        override_reason=payload.override_reason))


class DecisionIn(Schema):
    action: Literal["approve", "reject", "return"]
    reason_codes: list[ReasonCode] = Field([], max_length=len(REJECT_REASONS))
    comment: Comment = ""
    override_reason: Comment = ""  # why the approval goes on with a required document missing
    version: Version | None = None


@router.post("/cases/{case_id}/decide", response=CaseOut)
def decide(request: HttpRequest, case_id: Id, payload: DecisionIn) -> CaseOut:
    """Approve, reject (reason codes + comment) or return for correction at the case's level."""
    case = get_case_for_user(request.user, case_id, write=True, roles=case_actions.REVIEW_ROLES)
    return _case(case_actions.decide(request.user, case, payload.action,
                                     reason_codes=payload.reason_codes, comment=payload.comment,
                                     expected_version=payload.version,
                                     override_reason=payload.override_reason))


class CommentIn(Schema):
    comment: Comment = ""
    version: Version | None = None
    facts: FactsIn | None = None


@router.post("/cases/{case_id}/resubmit", response=CaseOut)
def resubmit(request: HttpRequest, case_id: Id, payload: CommentIn) -> CaseOut:
    case = get_case_for_user(request.user, case_id, write=True, roles=case_actions.INTAKE_ROLES)
    facts = payload.facts.dict(exclude_none=True) if payload.facts else None
    return _case(case_actions.resubmit(request.user, case, comment=payload.comment, facts=facts,
                                       expected_version=payload.version))


@router.post("/cases/{case_id}/review-request", response=CaseOut)
def review_request(request: HttpRequest, case_id: Id, payload: CommentIn) -> CaseOut:
    """复核: a rejected family asks for review; the case reopens with its history."""
    case = get_case_for_user(request.user, case_id, write=True, roles=case_actions.REVIEW_ROLES)
    return _case(case_actions.request_review(request.user, case, comment=payload.comment,
                                             expected_version=payload.version))


class ResumeIn(Schema):
    reason: Annotated[str, note(200)] = Field(description="复核结论（必填）")
    version: Version | None = None


class StopIn(Schema):
    stopped_on: Day = Field(description="自何日起不再符合条件（不晚于今天）")
    reason: Annotated[str, note(200)] = Field(description="终止原因（必填）")
    version: Version | None = None


@router.post("/cases/{case_id}/resume", response=CaseOut)
def resume(request: HttpRequest, case_id: Id, payload: ResumeIn) -> CaseOut:
    """恢复发放: a suspended case back where it was; its held payment waits for the next
    batch. County approver of the case's county; 409 if the case is no longer suspended or
    ``version`` is stale."""
    case = get_case_for_user(request.user, case_id, write=True,
                             roles=case_actions.CHANGE_ROLES)
    return _case(case_actions.resume_case(request.user, case, reason=payload.reason,
                                          expected_version=payload.version))


@router.post("/cases/{case_id}/stop", response=CaseOut)
def stop(request: HttpRequest, case_id: Id, payload: StopIn) -> CaseOut:
    """终止发放: re-verification confirmed that a suspended case lost its entitlement from
    ``stopped_on``. County approver; 409 if the case is no longer suspended."""
    case = get_case_for_user(request.user, case_id, write=True,
                             roles=case_actions.CHANGE_ROLES)
    return _case(case_actions.stop_suspended(request.user, case, stopped_on=payload.stopped_on,
                                             reason=payload.reason,
                                             expected_version=payload.version))


class DocumentOut(Schema):
    id: int
    doc_type: str
    name: str
    content_type: str
    size: int
    sha256: str


def _doc(d: CaseDocument) -> DocumentOut:
    return DocumentOut(id=d.pk, doc_type=d.doc_type.code, name=d.original_name,
                       content_type=d.content_type, size=d.size, sha256=d.sha256)


@router.get("/cases/{case_id}/documents", response=list[DocumentOut])
def list_documents(request: HttpRequest, case_id: Id) -> list[DocumentOut]:
    case = get_case_for_user(request.user, case_id)
    return [_doc(d) for d in case.documents.select_related("doc_type")]


@router.post("/cases/{case_id}/documents", response={201: DocumentOut})
def upload_document(request: HttpRequest, case_id: Id, doc_type: Form[Code],
                    file: File[UploadedFile]) -> Status[DocumentOut]:
    case = get_case_for_user(request.user, case_id, write=True, roles=case_actions.REVIEW_ROLES)
    kind = DocumentType.objects.filter(program=case.program, code=doc_type).first()
    if kind is None:
        raise ActionError(f"doc_type：本项目没有材料 {doc_type}")
    doc = case_actions.add_document(request.user, case, doc_type=kind, data=file.read(),
                                    filename=file.name or "")
    return Status(201, _doc(doc))


class WorkItemOut(Schema):
    case: CaseOut
    deadline_status: str
    deadline_text: str


@router.get("/worklist", response=list[WorkItemOut])
def my_worklist(request: HttpRequest, response: HttpResponse,
                page: Query[Page]) -> list[WorkItemOut]:
    """What waits for the caller, oldest first, with deadline warnings."""
    today = case_actions.local_today()
    out = []
    for c in keyset_page(request, response, waiting(request.user, today), page):
        d = deadline(c, today)
        out.append(WorkItemOut(case=_case(c), deadline_status=d.status, deadline_text=d.text))
    return out


class NoticeIn(Schema):
    program: Code
    start_on: Day
    objection_info: Annotated[str, note(500)]


class NoticeEntryOut(Schema):
    seq: int
    case_id: int
    name: str
    id_number: str
    village: str
    amount_fen: int
    withdrawn: bool


class NoticeOut(Schema):
    id: int
    number: str
    title: str
    program: str
    area_code: str
    level: Level
    start_on: date
    end_on: date
    objection_info: str
    entries: list[NoticeEntryOut]


def _notice(n: Notice, entries: bool = True) -> NoticeOut:
    rows = [NoticeEntryOut(seq=e.seq, case_id=e.case_id, name=e.name_masked,
                           id_number=e.id_masked, village=e.village, amount_fen=e.amount_fen,
                           withdrawn=e.withdrawn_at is not None)
            for e in n.entries.order_by("seq")] if entries else []
    return NoticeOut(id=n.pk, number=n.number, title=n.title, program=n.program.code,
                     area_code=n.area.code, level=Level(n.level), start_on=n.start_on,
                     end_on=n.end_on, objection_info=n.objection_info, entries=rows)


@router.get("/notices", response=list[NoticeOut])
def list_notices(request: HttpRequest, response: HttpResponse,
                 page: Query[Page]) -> list[NoticeOut]:
    qs = notices_for(request.user).order_by("-start_on", "-id")
    return [_notice(n, entries=False) for n in keyset_page(request, response, qs, page)]


@router.post("/notices", response={201: NoticeOut})
def publish_notice(request: HttpRequest, payload: NoticeIn) -> Status[NoticeOut]:
    require_role(request.user, case_actions.REVIEW_ROLES)
    program = Program.objects.filter(code=payload.program, active=True).first()
    if program is None:
        raise ActionError(f"program：未知项目 {payload.program}")
    notice = case_actions.publish_notice(request.user, program=program,
                                         start_on=payload.start_on,
                                         objection_info=payload.objection_info)
    return Status(201, _notice(notice))


@router.get("/notices/{notice_id}", response=NoticeOut)
def get_notice(request: HttpRequest, notice_id: Id) -> NoticeOut:
    return _notice(get_notice_for_user(request.user, notice_id))


class ObjectionIn(Schema):
    content: Annotated[str, note()]
    objector: Annotated[str, line(50)] = ""
    contact: Annotated[str, line(50)] = ""


class ObjectionOut(Schema):
    id: int
    case_id: int
    notice_id: int
    received_on: date
    content: str
    status: ObjectionStatus
    finding: str


def _objection(o: Objection) -> ObjectionOut:
    return ObjectionOut(id=o.pk, case_id=o.case_id, notice_id=o.entry.notice_id,
                        received_on=o.received_on, content=o.content,
                        status=ObjectionStatus(o.status), finding=o.finding)


@router.post("/cases/{case_id}/objections", response={201: ObjectionOut})
def record_objection(request: HttpRequest, case_id: Id,
                     payload: ObjectionIn) -> Status[ObjectionOut]:
    case = get_case_for_user(request.user, case_id, write=True, roles=case_actions.REVIEW_ROLES)
    return Status(201, _objection(case_actions.record_objection(
        request.user, case, content=payload.content, objector=payload.objector,
        contact=payload.contact)))


class ResolveIn(Schema):
    upheld: bool
    finding: Annotated[str, note()]
    version: Version | None = None


def _get_objection(user: Any, pk: int) -> Objection:
    objection = Objection.objects.filter(pk=pk, case__in=cases_for(user).values("pk")).first()
    if objection is None:
        raise Http404("异议不存在或不在您的管辖范围内")
    return objection


@router.post("/objections/{objection_id}/resolve", response=ObjectionOut)
def resolve_objection(request: HttpRequest, objection_id: Id,
                      payload: ResolveIn) -> ObjectionOut:
    objection = _get_objection(request.user, objection_id)
    require_role(request.user, case_actions.REVIEW_ROLES)
    return _objection(case_actions.resolve_objection(
        request.user, objection, upheld=payload.upheld, finding=payload.finding,
        expected_version=payload.version))
