"""API: the registry.

Persons are listed with their masked identity number and an age, never the birth date: the
birth date is the identity number's middle eight characters. Names are searched with
``GET /api/persons?q=``; identity numbers only with ``POST /api/persons/search`` (a number in
a URL stays in every server log). Every person listed is a logged read.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, File, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from huimin.accounts.access import get_household_for_user, get_person_for_user, require_role
from huimin.api_params import Id, Page, keyset_page, line, note
from huimin.audit.events import actor_area_code, record, record_reads, record_view
from huimin.errors import ActionError
from huimin.lib.masking import age_label, age_parts
from huimin.registry import changes, search
from huimin.registry.models import ChangeKind, ChangeRequest

router = Router(tags=["registry"])


class PersonOut(Schema):
    id: int
    name: str
    id_masked: str
    sex: str
    age: int
    age_text: str
    death_date: date | None
    area_code: str
    hukou_type: str
    #: a duplicate record merged into another: the kept record's id (such a record is left
    #: out of the name list and takes no new case or change)
    merged_into: int | None = None


class IdSearchIn(Schema):
    id_number: str


def person_out(p: object) -> PersonOut:
    from huimin.registry.models import Person

    assert isinstance(p, Person)
    on = p.death_date or timezone.localdate()
    return PersonOut(id=p.pk, name=p.name, id_masked=p.id_masked, sex=p.sex,
                     age=age_parts(p.birth_date, on)[0], age_text=age_label(p.birth_date, on),
                     death_date=p.death_date, area_code=p.area.code, hukou_type=p.hukou_type,
                     merged_into=p.merged_into_id)


@router.get("/persons", response=list[PersonOut])
def list_persons(request: HttpRequest, response: HttpResponse, page: Query[Page],
                 q: str = "") -> list[PersonOut]:
    """Persons in the caller's areas by id, by name (``q``); an identity number in ``q`` is
    refused with 400: search it with ``POST /api/persons/search``. Deep pages: ``after``."""
    offset = page.offset
    q = q.strip()
    if search.looks_like_id(q):
        raise ActionError("q：身份证号码不能放在网址中，请用 POST /api/persons/search"
                          "（号码放在请求体的 id_number 中）查询")
    qs = search.by_name(request.user, q).select_related("area").order_by("id")
    persons = keyset_page(request, response, qs, page)
    if q:
        record(request.user, "person.search", request.user,
               area_code=actor_area_code(request.user), by="name", q=q, found=len(persons),
               via="api")
    record_reads(request.user, "person.list", persons, via="api", q=q, offset=offset)
    return [person_out(p) for p in persons]


@router.post("/persons/search", response=list[PersonOut])
def search_persons(request: HttpRequest, payload: IdSearchIn) -> list[PersonOut]:
    """The person (none or one) in the caller's areas with this identity number, sent in
    the body so that it stays out of URLs and logs."""
    found = search.by_id_number(request.user, payload.id_number, via="api")
    record_reads(request.user, "person.list", found, via="api_id_search")
    return [person_out(p) for p in found]


@router.get("/persons/{person_id}", response=PersonOut)
def get_person(request: HttpRequest, person_id: int) -> PersonOut:
    person = get_person_for_user(request.user, person_id)
    record_view(request.user, person)
    return person_out(person)


# ------------------------------------------------------------------------ change requests

if TYPE_CHECKING:
    ChangeKindCode = str
    ChangeFilter = str
else:  # the closed sets, as enums in the document
    ChangeKindCode = Literal[tuple(ChangeKind.values)]
    ChangeFilter = Literal["pending", "submitted", "confirmed", "rejected", "all"]


class EvidenceIn(Schema):
    """A scan or photo (PDF, JPG, PNG), base64-encoded; stored sealed."""

    name: str = Field(max_length=200, description="文件名，扩展名须为 .pdf/.jpg/.jpeg/.png")
    content_base64: str = Field(description="文件内容（base64）")


class ChangeIn(Schema):
    """A change request. ``values`` are the type's fields as text, as on the web form:

    - identity: name, birth_date (YYYY-MM-DD), sex (男/女), id_number — any of them; blank or
      absent is unchanged; evidence required
    - death: death_date, source, certificate
    - move: to_code (12-digit division code), moved_on, whole_household ("1" = 全户)
    - split: members (person ids, comma-separated), address; merge: into (户号)
    - head / member_remove: person (person id); member_add: id_number
    - parent_link: parent_id_number, relation (父亲/母亲/监护人); parent_unlink: link (id)
    - account_add: account_kind (card, the default, or passbook), bank_name, account (a
      card's number is Luhn-checked, a passbook's is not), verified_how;
      account_replace: the same and account_id; account_deactivate: account_id

    Person types take ``person_id``; household types (split, merge, head, member_add,
    member_remove) take ``household_id``."""

    kind: ChangeKindCode
    person_id: Id | None = None
    household_id: Id | None = None
    reason: Annotated[str, note(500)]
    applicant: Annotated[str, line(50)] = ""
    values: dict[str, str] = Field(default_factory=dict)
    evidence: EvidenceIn | None = None


class ChangeItemOut(Schema):
    field: str
    old: str
    new: str


class ChangeOut(Schema):
    id: int
    number: str
    kind: str
    kind_label: str
    status: str
    status_label: str
    person_id: int | None
    household_id: int | None
    area_code: str
    confirm_level: str = Field(description="township：乡镇审核员或以上；village：村级专干或以上")
    applicant: str
    reason: str
    changes: list[ChangeItemOut] = Field(description="原登记 → 变更后（身份证号码、账号已脱敏）")
    evidence_name: str
    evidence_sha256: str
    submitted_by: str
    submitted_at: datetime
    decided_by: str
    decided_at: datetime | None
    decision_reason: str


class RejectIn(Schema):
    reason: Annotated[str, note(500)]


def change_out(r: ChangeRequest) -> ChangeOut:
    return ChangeOut(
        id=r.pk, number=r.number, kind=r.kind, kind_label=r.get_kind_display(),
        status=r.status, status_label=r.get_status_display(), person_id=r.person_id,
        household_id=r.household_id, area_code=r.area.code, confirm_level=r.confirm_level,
        applicant=r.applicant, reason=r.reason,
        changes=[ChangeItemOut(**c) for c in changes.changes_of(r)],
        evidence_name=r.evidence_name, evidence_sha256=r.evidence_sha256,
        submitted_by=r.submitted_by.username, submitted_at=r.submitted_at,
        decided_by=r.decided_by.username if r.decided_by else "", decided_at=r.decided_at,
        decision_reason=r.decision_reason)


def _change(request: HttpRequest, change_id: int) -> ChangeRequest:
    found = changes.changes_for(request.user).filter(pk=change_id).first()
    if found is None:
        raise Http404("记录不存在或不在您的管辖范围内")
    return found


@router.post("/registry/changes", response={201: ChangeOut})
def submit_change(request: HttpRequest, payload: ChangeIn) -> Status[ChangeOut]:
    """Submit a change request; nothing in the register changes until another user confirms
    it. Every error names the field (``values`` keys by their Chinese label)."""
    require_role(request.user, changes.SUBMIT_ROLES)
    kind = changes.kind_of(payload.kind)
    target: dict[str, Any] = {}
    if kind.target == "person":
        if payload.person_id is None:
            raise ActionError("person_id：该类型须指定人员")
        target["person"] = get_person_for_user(request.user, payload.person_id)
    else:
        if payload.household_id is None:
            raise ActionError("household_id：该类型须指定户")
        target["household"] = get_household_for_user(request.user, payload.household_id)
    evidence = None
    if payload.evidence is not None:
        from huimin.cases.actions import max_upload_bytes

        if len(payload.evidence.content_base64) > max_upload_bytes() * 4 // 3 + 4:
            raise ActionError("evidence：文件过大")
        try:
            data = base64.b64decode(payload.evidence.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ActionError("evidence.content_base64：不是有效的 base64") from None
        evidence = (data, payload.evidence.name)
    req = changes.submit_change(request.user, kind=payload.kind, reason=payload.reason,
                                applicant=payload.applicant, values=payload.values,
                                evidence=evidence, **target)
    return Status(201, change_out(req))


@router.get("/registry/changes", response=list[ChangeOut])
def list_changes(request: HttpRequest, response: HttpResponse, page: Query[Page],
                 status: ChangeFilter = "pending") -> list[ChangeOut]:
    """Change requests in the caller's areas; ``pending`` (the default): those the caller may
    confirm (their role's level, not their own)."""
    qs = (changes.pending_for(request.user) if status == "pending"
          else changes.changes_for(request.user))
    if status not in ("pending", "all"):
        qs = qs.filter(status=status)
    return [change_out(r) for r in keyset_page(request, response, qs, page)]


class BulkConfirmIn(Schema):
    ids: Annotated[list[Id], Field(min_length=1, max_length=changes.BULK_MAX,
                                   description="变更申请 id")]
    preview: bool = Field(description="true：只预览将发生的变更，不作任何变更；"
                                      "false：一并确认（全部生效或全部不生效）")


class BulkConfirmOut(Schema):
    preview: bool
    count: int
    changes: list[ChangeOut] = Field(description="预览时为待确认的申请（原登记 → 变更后），"
                                                 "确认后为已生效的申请")


@router.post("/registry/changes/confirm", response=BulkConfirmOut)
def confirm_changes(request: HttpRequest, payload: BulkConfirmIn) -> BulkConfirmOut:
    """Confirm several requests at once after a preview: with ``preview: true`` nothing
    changes and the answer shows what each request will change; with ``preview: false``
    all are applied in one transaction, or none. 404 if an id is not in the caller's areas;
    403 naming every request the caller may not decide (their own, a level above their role)
    and 409 one decided already — nothing is applied then; 400 naming the request the
    register no longer allows."""
    require_role(request.user, changes.DECIDE_ROLES)
    ids = list(dict.fromkeys(payload.ids))
    found = {r.pk: r for r in changes.changes_for(request.user).filter(pk__in=ids)}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise Http404(f"变更申请 {'、'.join(missing)} 不存在或不在您的管辖范围内")
    chosen = sorted(found.values(), key=lambda r: (r.submitted_at, r.pk))
    if payload.preview:
        changes.check_changes(request.user, chosen)
        return BulkConfirmOut(preview=True, count=len(chosen),
                              changes=[change_out(r) for r in chosen])
    done = changes.confirm_changes(request.user, chosen)
    return BulkConfirmOut(preview=False, count=len(done), changes=[change_out(r) for r in done])


@router.get("/registry/changes/{change_id}", response=ChangeOut)
def get_change(request: HttpRequest, change_id: Id) -> ChangeOut:
    return change_out(_change(request, change_id))


@router.post("/registry/changes/{change_id}/confirm", response=ChangeOut)
def confirm_change(request: HttpRequest, change_id: Id) -> ChangeOut:
    """Confirm and apply (403 for the submitter, a role below the request's level, or another
    area's user; 409 if already decided; 400 if the register no longer allows it)."""
    return change_out(changes.confirm_change(request.user, _change(request, change_id)))


@router.post("/registry/changes/{change_id}/reject", response=ChangeOut)
def reject_change(request: HttpRequest, change_id: Id, payload: RejectIn) -> ChangeOut:
    return change_out(changes.reject_change(request.user, _change(request, change_id),
                                            reason=payload.reason))


class HandoverCaseOut(Schema):
    number: str | None = None
    program: str | None = None
    program_name: str | None = None
    claim_year: int | None = None
    amount_fen: int | None = None
    stopped_on: str | None = None


class HandoverImportOut(Schema):
    person: PersonOut
    household: str
    cases: list[HandoverCaseOut]


@router.post("/registry/handovers/import", response={201: HandoverImportOut})
def import_handover(request: HttpRequest,
                    file: File[UploadedFile]) -> Status[HandoverImportOut]:
    """迁入登记: register a person handed over by another county, from its record (the JSON or
    the Excel file it downloaded), in the village ``to_code`` names, which must be the
    user's. Village cadres and township reviewers; the cases it lists are returned for the
    office to take in again under its own rules. 400 names the field, sheet or row at fault;
    409 when the number is already registered here."""
    from huimin.lib.sheets import read_upload
    from huimin.registry import handover as handovers

    require_role(request.user, handovers.IMPORT_ROLES)
    person, summary = handovers.import_handover(request.user,
                                                read_upload(file, handovers.MAX_BYTES))
    return Status(201, HandoverImportOut(
        person=person_out(person), household=summary["household"],
        cases=[HandoverCaseOut(**c) for c in summary["cases"]]))


@router.get("/registry/handovers/{handover_id}")
def get_handover(request: HttpRequest, handover_id: Id) -> HttpResponse:
    """The hand-over record (迁出移交) of a person who moved out of the county, as the JSON the
    receiving county imports (``huimin-handover/1``). It carries the full identity number:
    village cadres, township reviewers and county approvers of the person's area only; each
    taking is logged (``handover.download``)."""
    from huimin.registry import handover as handovers

    item = handovers.get_handover_for_user(request.user, handover_id)
    return HttpResponse(handovers.taken(request.user, item, "json"),
                        content_type="application/json")
