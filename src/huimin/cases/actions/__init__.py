"""Every state change of a case: atomic, audited, checked against the transition table.

The review chain of a case (levels, role at each, posting after a level and its length,
deadline in official working days) is program data, copied onto the case at intake so that
a case in flight keeps the chain it started with.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from huimin.accounts.access import in_user_area
from huimin.accounts.models import Role
from huimin.audit.events import event, record
from huimin.audit.models import AuditEvent
from huimin.cases.models import (
    Case,
    CaseDocument,
    Decision,
    Notice,
    NoticeEntry,
    Objection,
    ObjectionStatus,
    Outcome,
)
from huimin.cases.reasons import REJECT_REASONS
from huimin.cases.states import (
    LEVEL_ALIASES,
    LEVEL_LABELS,
    LEVEL_OF_ROLE,
    REVIEW_STATES,
    ROLE_OF_LEVEL,
    State,
    Transition,
    level_index,
    review_target,
    state_after,
)
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.lib.calendar import add_working_days
from huimin.lib.masking import mask_id_number
from huimin.programs import entitlement
from huimin.programs.models import DocumentType, Program
from huimin.registry.merge import merged_message
from huimin.registry.models import Area, BankAccount, Person

INTAKE_ROLES = (Role.VILLAGE_CADRE, Role.TOWNSHIP_REVIEWER)
#: the audit action of an approval at each level
APPROVE_ACTIONS = {"village": "case.village_review", "township": "case.township_review",
                   "county": "case.county_confirm"}
REVIEW_ROLES = (Role.VILLAGE_CADRE, Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER)


def local_today() -> date:
    return timezone.localdate()


class Duplicate(Conflict):
    """An application for the same subject, program and claim year exists already."""

    def __init__(self, message: str, existing: Case) -> None:
        super().__init__(message)
        self.existing = existing


def _check_scope(actor: Any, person: Person) -> None:
    if not in_user_area(actor, person.area.code):
        raise Forbidden(f"{person.name} 的户籍不在您的管辖范围内")


def _actor_level(actor: Any) -> str:
    return LEVEL_OF_ROLE.get(actor.role, "county")


def _level(case: Case, level: str) -> dict[str, Any]:
    return dict(case.review_chain[level_index(case.review_chain, level)])


def _wait_for(case: Case, index: int, *, start: date | None) -> None:
    """Put the case in front of level ``index``: from ``start`` on (None: after a posting)."""
    lv = case.review_chain[index]
    case.level = str(lv["level"])
    case.awaiting_role = str(lv["role"])
    case.ready_on = start
    case.due_on = (add_working_days(start, int(lv["deadline_working_days"]))
                   if start is not None else None)


def _decide_row(actor: Any, case: Case, level: str, outcome: str, old: str,
                reason_codes: list[str] | None = None, comment: str = "") -> Decision:
    return Decision.objects.create(case=case, level=level, outcome=outcome,
                                   from_state=old, to_state=case.state,
                                   reason_codes=reason_codes or [], comment=comment, actor=actor)


def _evaluate(case_program: Program, subject: Person, claim_year: int,
              facts: Mapping[str, object]) -> entitlement.Entitlement:
    return entitlement.evaluate(case_program.code, subject, claim_year, local_today(),
                                case_facts=facts)


def _store_entitlement(case: Case, ent: entitlement.Entitlement) -> dict[str, Any]:
    old = {"eligible": case.eligible, "months": case.months, "amount_fen": case.amount_fen}
    case.eligible, case.months, case.amount_fen = ent.eligible, ent.months, ent.amount_fen
    case.explanation = ent.to_dict()
    return old


def clean_facts(facts: Mapping[str, object] | None) -> dict[str, Any]:
    """The case facts an application may record (nothing else is kept)."""
    out: dict[str, Any] = {}
    if not facts:
        return out
    if facts.get("policy_status_confirmed") is not None:
        out["policy_status_confirmed"] = bool(facts["policy_status_confirmed"])
    grade = facts.get("child_disability_grade")
    if grade not in (None, ""):
        try:
            value = int(str(grade))
        except ValueError:
            raise ActionError("子女残疾等级：应为 1–4 的数字") from None
        if not 1 <= value <= 4:
            raise ActionError("子女残疾等级：应为 1–4 的数字")
        out["child_disability_grade"] = value
    return out


def preview(program: Program, subject: Person, claim_year: int,
            facts: Mapping[str, object] | None = None) -> entitlement.Entitlement:
    """What intake would decide, without recording anything (for the intake form)."""
    return _evaluate(program, subject, claim_year, clean_facts(facts))


#: the first claim year huimin takes; the last is the year after today's
FIRST_CLAIM_YEAR = 2000


def check_claim_year(claim_year: object, today: date) -> int:
    """A claim year between 2000 and next year, or a Chinese message naming the field."""
    last = today.year + 1
    if (not isinstance(claim_year, int) or isinstance(claim_year, bool)
            or not FIRST_CLAIM_YEAR <= claim_year <= last):
        raise ActionError(f"申领年度：须为 {FIRST_CLAIM_YEAR}–{last} 之间的四位年份")
    return claim_year


@transaction.atomic
def submit_application(
    actor: Any,
    *,
    program: Program,
    subject: Person,
    claim_year: int,
    applicant: Person | None = None,
    bank_account: BankAccount | None = None,
    facts: Mapping[str, object] | None = None,
    record_rejected: bool = False,
    comment: str = "",
) -> Case:
    """Record an application; the entitlement is evaluated and kept with the case.

    With ``record_rejected``, an application found ineligible is recorded and refused at once
    (reason ``not_eligible``, the failing criteria kept), so the family gets a letter.
    """
    if actor.role not in INTAKE_ROLES:
        raise Forbidden("只有村级专干或乡镇审核员可以受理申请")
    _check_scope(actor, subject)
    for person in (subject, applicant):
        if person is not None and person.merged_into_id is not None:
            raise Conflict(merged_message(person))
    today = local_today()
    check_claim_year(claim_year, today)
    rules = entitlement.resolve(program.code, subject.area.code, claim_year, today)
    if rules.main.subject == "child":
        if applicant is None or applicant.pk == subject.pk:
            raise ActionError("申请人须为该儿童的父母或监护人，不能是补贴对象本人")
    elif applicant is None:
        applicant = subject
    if bank_account is not None and bank_account.person_id not in (applicant.pk, subject.pk):
        raise ActionError("收款账户须属于申请人或补贴对象")
    existing = Case.objects.filter(program=program, subject=subject, claim_year=claim_year).first()
    if existing is not None:
        raise Duplicate(
            f"{subject.name} 的 {claim_year} 年度{program.name}已有申请（案件 {existing.number}，"
            f"{existing.state_label}），不能重复申请", existing)
    kept = clean_facts(facts)
    ent = _evaluate(program, subject, claim_year, kept)
    chain = [lv.to_dict() for lv in rules.review_chain]
    case = Case(
        program=program, subject=subject, applicant=applicant, bank_account=bank_account,
        area=subject.area, claim_year=claim_year, state=State.SUBMITTED, facts=kept,
        review_chain=chain, created_by=actor,
    )
    _store_entitlement(case, ent)
    _wait_for(case, 0, start=today)
    try:
        with transaction.atomic():
            case.save()
    except IntegrityError:
        raise Conflict(f"{subject.name} 的 {claim_year} 年度{program.name}已有申请") from None
    _decide_row(actor, case, _actor_level(actor), Outcome.SUBMITTED, "", comment=comment)
    record(actor, "case.submit", case, person_id=subject.pk, case_id=case.pk,
           area_code=case.area.code, program=program.code, claim_year=claim_year,
           eligible=ent.eligible, amount_fen=ent.amount_fen, facts=kept)
    if record_rejected:
        if ent.eligible:
            raise ActionError("经核算符合条件，不能登记为不予通过")
        old = case.state
        case.state = State.REJECTED
        case.awaiting_role = ""
        case.ready_on = case.due_on = None
        case.save(update_fields=["state", "awaiting_role", "ready_on", "due_on", "updated_at"])
        _decide_row(actor, case, _actor_level(actor), Outcome.REJECTED, old, ["not_eligible"],
                    comment or "；".join(c.detail for c in ent.failing))
        record(actor, "case.reject", case, person_id=subject.pk, case_id=case.pk,
               area_code=case.area.code, old=old, new=case.state, level=_actor_level(actor),
               reason_codes=["not_eligible"], comment=comment)
    return case


def _lock(case_id: int, expected_version: int | None) -> Case:
    case = Case.objects.select_for_update().select_related("area", "program").get(pk=case_id)
    if expected_version is not None and case.version != expected_version:
        raise Conflict(f"案件已被他人处理，请刷新后再办理。当前状态：{case.state_label}")
    return case


def _bump(case: Case, *fields: str) -> None:
    case.version += 1
    case.save(update_fields=["version", "updated_at", *fields])


def _check_area(actor: Any, case: Case) -> None:
    if not in_user_area(actor, case.area.code):
        raise Forbidden("该案件不在您的管辖范围内")


def ready_problem(case: Case, today: date) -> str:
    """Why the level now holding the case cannot act yet ("" when it can)."""
    if case.state not in REVIEW_STATES:
        return ""
    i = level_index(case.review_chain, case.level)
    if i > 0 and case.review_chain[i - 1]["posting"]:
        prev = str(case.review_chain[i - 1]["level"])
        entry = (NoticeEntry.objects.filter(case=case, notice__level=prev, withdrawn_at=None)
                 .select_related("notice").order_by("-notice__end_on").first())
        if entry is None:
            return f"该案件{LEVEL_LABELS[prev]}审核通过后尚未公示，公示期满后方可审核"
        if today <= entry.notice.end_on:
            return (f"公示期至 {entry.notice.end_on:%Y-%m-%d} 结束，"
                    f"期满后（{entry.notice.end_on + timedelta(days=1):%Y-%m-%d} 起）方可审核")
    if case.objections.filter(status=ObjectionStatus.OPEN).exists():
        return "该案件有尚未核实的公示异议，须先核实处理"
    return ""


#: the decision's reason code when a reviewer approves with required documents missing
DOCUMENTS_OVERRIDE = "documents_override"


def documents_required() -> bool:
    """Whether approvals check the programs' required documents (``CASE_REQUIRED_DOCUMENTS``,
    on unless a deployment turns it off, e.g. while scans are still kept on paper)."""
    return bool(getattr(settings, "CASE_REQUIRED_DOCUMENTS", True))


def missing_documents(case: Case) -> list[DocumentType]:
    """The required (必交) documents of the case's program that the case does not carry."""
    have = set(case.documents.values_list("doc_type_id", flat=True))
    return [t for t in DocumentType.objects.filter(program_id=case.program_id, required=True)
            if t.pk not in have]


def registered_account(case: Case) -> BankAccount | None:
    """For a case taken in without an account: the active account registered since for its
    applicant (first) or its subject, which its approval then pays into."""
    applicant: int = case.applicant_id or case.subject_id
    accounts = {a.person_id: a for a in BankAccount.objects.filter(
        person_id__in=[applicant, case.subject_id], active=True).order_by("id")}  # newest wins
    return accounts.get(applicant) or accounts.get(case.subject_id)


def _check_documents(case: Case, override_reason: str) -> dict[str, Any]:
    """Refuse an approval with a required document missing, unless the reviewer says why;
    the override is returned for the decision and the audit event."""
    if not documents_required():
        return {}
    missing = missing_documents(case)
    if not missing:
        return {}
    names = "、".join(t.name for t in missing)
    if not override_reason.strip():
        raise ActionError(f"必交材料：缺少{names}，不能审核通过。请先上传材料，"
                          "或在「缺少必交材料时继续审核的理由」中写明理由")
    return {"documents_missing": [t.code for t in missing],
            "documents_override": override_reason.strip()[:500], "names": names}


def _review(
    actor: Any, case: Case, transition: str, *, expected_version: int | None,
    reason_codes: list[str] | None = None, comment: str = "", level: str | None = None,
    override_reason: str = "",
) -> Case:
    locked = _lock(case.pk, expected_version)
    label = Transition(transition).label
    if locked.state not in REVIEW_STATES or (level is not None and locked.level != level):
        raise Conflict(f"案件当前状态为「{locked.state_label}」，不能执行「{label}」")
    lv = _level(locked, locked.level)
    if actor.role != lv["role"]:
        raise Forbidden(f"该案件{locked.state_label}，应由{Role(str(lv['role'])).label}办理")
    _check_area(actor, locked)
    today = local_today()
    problem = ready_problem(locked, today)
    if problem:
        raise ActionError(problem)
    codes = [c for c in (reason_codes or []) if c]
    if transition == Transition.APPROVE and not locked.eligible:
        raise ActionError("该申请不符合条件，不能审核通过：" + "；".join(
            c["detail"] for c in locked.explanation.get("criteria", []) if not c["passed"]))
    if transition == Transition.REJECT:
        unknown = [c for c in codes if c not in REJECT_REASONS]
        if unknown:
            raise ActionError(f"未知的理由代码：{'、'.join(unknown)}")
        if not codes:
            raise ActionError("不予通过时须选择理由")
        if "other" in codes and not comment.strip():
            raise ActionError("理由为「其他」时须填写审核意见")
    if transition == Transition.RETURN and not comment.strip():
        raise ActionError("退回补正时须写明需要补正的内容")
    target = review_target(locked.review_chain, locked.state, locked.level, transition)
    if target is None:  # the stored state and level disagree (not left so by any action)
        raise Conflict(f"案件当前状态「{locked.state_label}」与待审级别不符，不能执行「{label}」")
    override: dict[str, Any] = {}
    attached: BankAccount | None = None
    if transition == Transition.APPROVE:
        override = _check_documents(locked, override_reason)
        if target == State.APPROVED and locked.bank_account_id is None:
            attached = registered_account(locked)
            if attached is None:
                payee = locked.applicant or locked.subject
                raise ActionError(f"收款账户：{payee.name} 尚未登记收款银行账户，不能审批通过。"
                                  "请先在人员档案中登记账户，再审批")
            locked.bank_account = attached
    old, at_level = locked.state, locked.level
    i = level_index(locked.review_chain, at_level)
    locked.state = target
    if transition == Transition.APPROVE:
        posting = bool(lv["posting"])
        locked.pending_posting = at_level if posting else ""
        if target == State.APPROVED:
            locked.awaiting_role = ""
            locked.ready_on = locked.due_on = None
        else:
            _wait_for(locked, i + 1, start=None if posting else today)
    else:
        locked.pending_posting = ""
        locked.due_on = None
        if transition == Transition.RETURN:  # back on the worklist of whoever took it in
            locked.awaiting_role = locked.created_by.role
            locked.ready_on = today
        else:
            locked.awaiting_role = ""
            locked.ready_on = None
    _bump(locked, "state", "level", "awaiting_role", "pending_posting", "ready_on", "due_on",
          *(["bank_account"] if attached is not None else []))
    outcome = {Transition.APPROVE: Outcome.APPROVED, Transition.REJECT: Outcome.REJECTED,
               Transition.RETURN: Outcome.RETURNED}[Transition(transition)]
    extra: dict[str, Any] = {}
    if override:
        codes = [*codes, DOCUMENTS_OVERRIDE]
        note = (f"缺少必交材料（{override['names']}），继续审核的理由："
                f"{override['documents_override']}")
        comment = f"{comment.strip()}；{note}" if comment.strip() else note
        extra = {k: override[k] for k in ("documents_missing", "documents_override")}
    if attached is not None:
        extra["bank_account"] = attached.pk
    _decide_row(actor, locked, at_level, outcome, old, codes, comment)
    action = {Transition.APPROVE: APPROVE_ACTIONS.get(at_level, "case.approve"),
              Transition.REJECT: "case.reject",
              Transition.RETURN: "case.return"}[Transition(transition)]
    record(actor, action, locked, person_id=locked.subject_id, case_id=locked.pk,
           area_code=locked.area.code, old=old, new=locked.state, level=at_level,
           reason_codes=codes, comment=comment, **extra)
    return locked


@transaction.atomic
def decide(
    actor: Any, case: Case, transition: str, *, reason_codes: list[str] | None = None,
    comment: str = "", expected_version: int | None = None, override_reason: str = "",
) -> Case:
    """Approve, reject (reason codes + comment) or return for correction at the case's level.

    The 育儿补贴 step names (``township_approve`` …) are accepted and bound to their level.
    An approval with a required document missing needs ``override_reason`` (recorded on the
    decision and the audit event, shown to the levels after); the final approval needs a
    payee account.
    """
    level = None
    if transition in LEVEL_ALIASES:
        transition, level = LEVEL_ALIASES[transition]
    if transition not in (Transition.APPROVE, Transition.REJECT, Transition.RETURN):
        raise ActionError("未知的审核操作")
    return _review(actor, case, transition, expected_version=expected_version,
                   reason_codes=reason_codes, comment=comment, level=level,
                   override_reason=override_reason)


def township_review(
    actor: Any, case: Case, *, approve: bool, reason_codes: list[str] | None = None,
    comment: str = "", expected_version: int | None = None, override_reason: str = "",
) -> Case:
    return decide(actor, case,
                  Transition.TOWNSHIP_APPROVE if approve else Transition.TOWNSHIP_REJECT,
                  reason_codes=reason_codes or ([] if approve else ["other"]),
                  comment=comment, expected_version=expected_version,
                  override_reason=override_reason)


def county_confirm(
    actor: Any, case: Case, *, approve: bool, reason_codes: list[str] | None = None,
    comment: str = "", expected_version: int | None = None, override_reason: str = "",
) -> Case:
    return decide(actor, case,
                  Transition.COUNTY_APPROVE if approve else Transition.COUNTY_REJECT,
                  reason_codes=reason_codes or ([] if approve else ["other"]),
                  comment=comment, expected_version=expected_version,
                  override_reason=override_reason)


def _reopen(actor: Any, locked: Case, transition: str, index: int, outcome: str, action: str,
            comment: str, facts: Mapping[str, object] | None) -> Case:
    old = locked.state
    target = review_target(locked.review_chain, locked.state,
                           str(locked.review_chain[index]["level"]), transition)
    # the callers took only a returned case (resubmit) or a rejected one (reopen), which
    # their transition always sends to the level's waiting state
    assert target is not None
    if facts is not None:
        locked.facts = {**locked.facts, **clean_facts(facts)}
    before = _store_entitlement(locked, _evaluate(locked.program, locked.subject,
                                                  locked.claim_year, locked.facts))
    locked.state = target
    locked.pending_posting = ""
    _wait_for(locked, index, start=local_today())
    _bump(locked, "state", "level", "awaiting_role", "pending_posting", "ready_on", "due_on",
          "facts", "eligible", "months", "amount_fen", "explanation")
    _decide_row(actor, locked, locked.level, outcome, old, comment=comment)
    record(actor, action, locked, person_id=locked.subject_id, case_id=locked.pk,
           area_code=locked.area.code, old=old, new=locked.state, level=locked.level,
           comment=comment, entitlement_before=before,
           entitlement_after={"eligible": locked.eligible, "months": locked.months,
                              "amount_fen": locked.amount_fen})
    return locked


@transaction.atomic
def resubmit(actor: Any, case: Case, *, comment: str = "",
             facts: Mapping[str, object] | None = None,
             expected_version: int | None = None) -> Case:
    """A case returned for correction goes back to the level that returned it."""
    if actor.role not in INTAKE_ROLES:
        raise Forbidden("只有村级专干或乡镇审核员可以补正后重新提交")
    locked = _lock(case.pk, expected_version)
    _check_area(actor, locked)
    if locked.state != State.RETURNED:
        raise Conflict(f"案件当前状态为「{locked.state_label}」，不需要补正")
    return _reopen(actor, locked, Transition.RESUBMIT,
                   level_index(locked.review_chain, locked.level), Outcome.RESUBMITTED,
                   "case.resubmit", comment, facts)


@transaction.atomic
def request_review(actor: Any, case: Case, *, comment: str,
                   expected_version: int | None = None) -> Case:
    """复核: a rejected family asks for review; the case reopens, with its whole history,
    at the level that rejected it (the first level if it was refused at intake)."""
    if actor.role not in REVIEW_ROLES:
        raise Forbidden("只有村、乡镇、县级经办人员可以登记复核申请")
    locked = _lock(case.pk, expected_version)
    _check_area(actor, locked)
    if locked.state != State.REJECTED:
        raise Conflict(f"案件当前状态为「{locked.state_label}」，只有不予通过的案件可以申请复核")
    if not comment.strip():
        raise ActionError("请写明申请人提出复核的理由")
    last = locked.decisions.filter(outcome=Outcome.REJECTED).order_by("-at", "-id").first()
    levels = [str(lv["level"]) for lv in locked.review_chain]
    index = levels.index(last.level) if last is not None and last.level in levels else 0
    return _reopen(actor, locked, Transition.REOPEN, index, Outcome.REVIEW_REQUESTED,
                   "case.reopen", comment, None)


# ------------------------------------------------------------------------ documents

ALLOWED_UPLOADS = {  # extension -> (content type, leading bytes)
    "pdf": ("application/pdf", (b"%PDF-",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
}
DOCUMENT_STATES = REVIEW_STATES | {State.RETURNED, State.REJECTED}


def max_upload_bytes() -> int:
    return int(getattr(settings, "CASE_UPLOAD_MAX_BYTES", 10 * 1024 * 1024))


def check_upload(data: bytes, filename: str) -> tuple[str, str]:
    """(extension, content type) of an acceptable scan or photo; else a clear refusal."""
    limit = max_upload_bytes()
    if len(data) > limit:
        raise ActionError(f"文件过大（{len(data) / 1024 / 1024:.1f} MB），"
                          f"单个文件不能超过 {limit // 1024 // 1024} MB")
    if not data:
        raise ActionError("文件为空")
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext not in ALLOWED_UPLOADS:
        raise ActionError("只接受 PDF、JPG、PNG 格式的扫描件或照片")
    content_type, magic = ALLOWED_UPLOADS[ext]
    if not data.startswith(magic):
        raise ActionError(f"文件内容与扩展名 .{ext} 不符，请上传真实的扫描件或照片")
    return ext, content_type


@transaction.atomic
def add_document(actor: Any, case: Case, *, doc_type: DocumentType, data: bytes,
                 filename: str) -> CaseDocument:
    if actor.role not in REVIEW_ROLES:
        raise Forbidden("您的角色不能上传申请材料")
    locked = _lock(case.pk, None)
    _check_area(actor, locked)
    if doc_type.program_id != locked.program_id:
        raise ActionError("该材料不属于本项目的材料清单")
    if locked.state not in DOCUMENT_STATES:
        raise ActionError(f"案件当前状态为「{locked.state_label}」，不能再补充材料")
    ext, content_type = check_upload(data, filename)
    doc = CaseDocument(case=locked, doc_type=doc_type, original_name=filename[:200],
                       content_type=content_type, size=len(data),
                       sha256=hashlib.sha256(data).hexdigest(), uploaded_by=actor,
                       stored_name=f"{doc_type.code}-{uuid.uuid4().hex}.{ext}")
    doc.write(data)  # sealed at rest, mode 0600
    doc.save()
    record(actor, "case.document", doc, person_id=locked.subject_id, case_id=locked.pk,
           area_code=locked.area.code, doc_type=doc_type.code, name=doc.original_name,
           size=doc.size, sha256=doc.sha256)
    return doc


# ------------------------------------------------------------------------ notices (公示)

@dataclass(frozen=True)
class Masking:
    name_keep: int = 1
    id_head: int = 1
    id_tail: int = 1
    show_id: bool = True

    @classmethod
    def configured(cls) -> Masking:
        return cls(**getattr(settings, "NOTICE_MASKING", {}))

    def name(self, value: str) -> str:
        value = value.strip()
        keep = max(0, min(self.name_keep, len(value) - 1))
        return value[:keep] + "*" * (len(value) - keep)

    def id_number(self, value: str) -> str:
        return mask_id_number(value, self.id_head, self.id_tail) if self.show_id else ""


def notice_area(actor: Any, level: str) -> Area:
    area: Area | None = actor.areas.filter(level=level).order_by("code").first()
    if area is None:
        raise Forbidden(f"您没有分配{LEVEL_LABELS.get(level, level)}管辖区域，不能发布公示")
    return area


def posting_candidates(actor: Any, program: Program, level: str) -> Any:
    from huimin.accounts.access import cases_for

    return (cases_for(actor).filter(program=program, pending_posting=level)
            .select_related("subject", "area").order_by("area__code", "id"))


@transaction.atomic
def publish_notice(actor: Any, *, program: Program, start_on: date,
                   objection_info: str) -> Notice:
    """Post every case the actor's level approved and has not yet posted, for its area."""
    level = LEVEL_OF_ROLE.get(actor.role)
    if level is None:
        raise Forbidden("只有村、乡镇、县级审核人员可以发布公示")
    if not program.public_notice:
        raise ActionError(f"{program.name}按规定不公示，不生成公示名单")
    today = local_today()
    if start_on < today:
        raise ActionError("公示开始日期不能早于今天")
    if not objection_info.strip():
        raise ActionError("请写明异议受理的地点、电话和方式")
    area = notice_area(actor, level)
    cases = list(posting_candidates(actor, program, level).select_for_update(of=("self",)))
    if not cases:
        raise ActionError(f"没有待公示的{program.name}案件")
    # a posting of N days runs N calendar days from its first day, which is included
    days = max(int(_level(c, level)["posting_days"]) for c in cases)
    masking = Masking.configured()
    notice = Notice.objects.create(
        program=program, area=area, level=level, start_on=start_on,
        end_on=start_on + timedelta(days=days - 1), objection_info=objection_info.strip(),
        masking=masking.__dict__, created_by=actor)
    entries, events = [], []
    for seq, case in enumerate(cases, start=1):
        entries.append(NoticeEntry(
            notice=notice, case=case, seq=seq, name_masked=masking.name(case.subject.name),
            id_masked=masking.id_number(case.subject.id_number), village=case.area.name,
            amount_fen=case.amount_fen))
        case.pending_posting = ""
        if case.state in REVIEW_STATES:  # the next level may act once the posting has ended
            i = level_index(case.review_chain, case.level)
            _wait_for(case, i, start=notice.end_on + timedelta(days=1))
        case.version += 1
        events.append(event(actor, "case.posted", case, person_id=case.subject_id,
                            case_id=case.pk, area_code=case.area.code, notice=notice.pk,
                            level=level, start_on=start_on.isoformat(),
                            end_on=notice.end_on.isoformat()))
    NoticeEntry.objects.bulk_create(entries)
    Case.objects.bulk_update(cases, ["pending_posting", "level", "awaiting_role", "ready_on",
                                     "due_on", "version"])
    AuditEvent.objects.bulk_create(events)
    record(actor, "notice.publish", notice, area_code=area.code, program=program.code,
           level=level, entries=len(entries), start_on=start_on.isoformat(),
           end_on=notice.end_on.isoformat())
    return notice


def _frozen_for_payment(case: Case) -> bool:
    from huimin.payments.models import Entitlement

    return Entitlement.objects.filter(case=case).exists()


@transaction.atomic
def record_objection(actor: Any, case: Case, *, content: str, objector: str = "",
                     contact: str = "") -> Objection:
    """An objection to the eligibility facts of a case while it is on a posted notice."""
    if actor.role not in REVIEW_ROLES:
        raise Forbidden("只有村、乡镇、县级经办人员可以登记公示异议")
    _check_area(actor, case)
    today = local_today()
    entry = (NoticeEntry.objects.filter(case=case, withdrawn_at=None,
                                        notice__start_on__lte=today, notice__end_on__gte=today)
             .select_related("notice").first())
    if entry is None:
        raise ActionError("该案件当前不在公示期内，不能登记公示异议")
    if not content.strip():
        raise ActionError("请写明异议针对的资格条件和事实")
    objection = Objection.objects.create(
        case=case, entry=entry, received_on=today, objector=objector.strip()[:50],
        contact=contact.strip()[:50], content=content.strip(), recorded_by=actor)
    record(actor, "objection.record", objection, person_id=case.subject_id, case_id=case.pk,
           area_code=case.area.code, notice=entry.notice_id, content=objection.content)
    return objection


@transaction.atomic
def resolve_objection(actor: Any, objection: Objection, *, upheld: bool, finding: str,
                      expected_version: int | None = None) -> Objection:
    """Record the finding; an upheld objection sends the case back to the level that posted
    it, with the finding as the reason, and takes it off the notice."""
    locked_obj = Objection.objects.select_for_update().select_related(
        "entry__notice").get(pk=objection.pk)
    notice = locked_obj.entry.notice
    if actor.role != ROLE_OF_LEVEL.get(notice.level):
        raise Forbidden(f"公示异议由{Role(ROLE_OF_LEVEL[notice.level]).label}核实处理")
    case = _lock(locked_obj.case_id, expected_version)
    _check_area(actor, case)
    if locked_obj.status != ObjectionStatus.OPEN:
        raise Conflict(f"该异议已核实处理（{locked_obj.get_status_display()}）")
    if not finding.strip():
        raise ActionError("请填写核实情况")
    locked_obj.status = ObjectionStatus.UPHELD if upheld else ObjectionStatus.DISMISSED
    locked_obj.finding = finding.strip()
    locked_obj.resolved_by = actor
    locked_obj.resolved_at = timezone.now()
    if upheld:
        i = level_index(case.review_chain, notice.level)
        if case.state != state_after(case.review_chain, i) or _frozen_for_payment(case):
            raise Conflict(f"案件当前状态为「{case.state_label}」，已纳入发放或已进入下一环节，"
                           "不能退回重审，请按更正程序处理")
        entry = locked_obj.entry
        entry.withdrawn_at = timezone.now()
        entry.withdrawn_reason = locked_obj.finding
        entry.save(update_fields=["withdrawn_at", "withdrawn_reason"])
        old = case.state
        case.state = review_target(case.review_chain, case.state, notice.level,
                                   Transition.SEND_BACK) or case.state
        case.pending_posting = ""
        _wait_for(case, i, start=local_today())
        _bump(case, "state", "level", "awaiting_role", "pending_posting", "ready_on", "due_on")
        _decide_row(actor, case, notice.level, Outcome.OBJECTION_UPHELD, old,
                    ["objection_upheld"], locked_obj.finding)
        record(actor, "case.send_back", case, person_id=case.subject_id, case_id=case.pk,
               area_code=case.area.code, old=old, new=case.state, level=notice.level,
               objection=locked_obj.pk, comment=locked_obj.finding)
    locked_obj.save(update_fields=["status", "finding", "resolved_by", "resolved_at"])
    record(actor, "objection.resolve", locked_obj, person_id=case.subject_id, case_id=case.pk,
           area_code=case.area.code, status=locked_obj.status, finding=locked_obj.finding)
    return locked_obj


# The changes of life (a death, a move, an account replaced) are in their own module, one
# step of a case's life like the review above; their names are part of this module's.
from huimin.cases.actions.life import *  # noqa: E402, F403
