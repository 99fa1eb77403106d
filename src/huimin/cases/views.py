from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from cryptography.exceptions import InvalidTag
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huimin import listing
from huimin.accounts.access import cases_for, get_case_for_user, persons_for, require_role
from huimin.accounts.models import Role
from huimin.audit.events import record, record_view
from huimin.cases import actions, bulk
from huimin.cases import lists as case_lists
from huimin.cases.letters import LETTER_STATES, letter_context
from huimin.cases.models import Case, Objection
from huimin.cases.pdf import render_pdf
from huimin.cases.reasons import REJECT_REASONS
from huimin.cases.states import LEVEL_LABELS, State, Transition
from huimin.cases.worklist import deadline
from huimin.errors import ActionError, FileRejected
from huimin.lib.sheets import read_upload
from huimin.programs.entitlement import CHILDCARE
from huimin.programs.models import DocumentType, Program
from huimin.registry.crypto import id_hash
from huimin.registry.importer import MAX_BYTES as SHEET_MAX_BYTES
from huimin.registry.models import Person

logger = logging.getLogger(__name__)


@login_required
@require_http_methods(["GET", "POST"])
def case_list(request: HttpRequest) -> HttpResponse:
    """案件: case number, name, area, program, state … with GET (?q=); the subject's
    identity number — whole or its last four — only by POST, so that no number is kept in
    a URL or a server log; the search is logged (mask and keyed hash, never the number)."""
    from huimin.audit.events import actor_area_code
    from huimin.listing import ParamError
    from huimin.registry.lists import id_filter

    by_id = request.method == "POST"
    params = request.POST if by_id else request.GET
    qs = cases_for(request.user)
    found: dict[str, Any] = {}
    id_error = ""
    if by_id:
        try:
            cond, found = id_filter(request.user, request.POST.get("id_number", ""),
                                    "subject__")
            qs = qs.filter(cond)
        except ParamError as exc:
            id_error = exc.message
            qs = qs.none()
    lst = listing.run(case_lists.CASES, request.user, qs, params)
    if id_error:
        lst.errors.insert(0, id_error)
    if by_id:
        record(request.user, "case.search", request.user,
               area_code=actor_area_code(request.user), by="id_number", **found,
               found=lst.count, via="web")
    shown = [c.pk for c in lst.rows]
    no_account = set(Case.objects.filter(pk__in=shown, bank_account=None)
                     .values_list("pk", flat=True)) if shown else set()
    return render(request, "cases/list.html", {
        "lst": lst, "page": lst.rows, "export_url": reverse("cases:export"), "by_id": by_id,
        "no_account": no_account,
        "can_unmask": listing.may_unmask(case_lists.CASES, request.user),
    }, status=400 if lst.errors else 200)


@login_required
@require_POST
def case_export(request: HttpRequest) -> HttpResponse:
    """The case list as a workbook (masked; full numbers for the approver and finance)."""
    qs = cases_for(request.user).select_related("subject__area")
    return listing.export_response(request, case_lists.CASES, qs,  # type: ignore[no-any-return]
                                   person=lambda c: c.subject)


def _int(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


def _find(request: HttpRequest, field: str) -> Person | None:
    number = request.POST.get(field, "").strip().upper()
    return persons_for(request.user).filter(id_hash=id_hash(number)).first() if number else None


def _facts(data: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if data.get("policy_status_confirmed"):
        facts["policy_status_confirmed"] = data.get("policy_status_confirmed") in ("1", "on",
                                                                                   "true")
    if data.get("child_disability_grade"):
        facts["child_disability_grade"] = data.get("child_disability_grade")
    return facts


@login_required
@require_http_methods(["GET", "POST"])
def case_new(request: HttpRequest) -> HttpResponse:
    require_role(request.user, actions.INTAKE_ROLES)
    today = actions.local_today()
    programs = Program.objects.filter(active=True)
    code = request.POST.get("program") or request.GET.get("program") or CHILDCARE
    # a code with NUL or control characters is no program's (and PostgreSQL refuses NUL)
    program = programs.filter(code=code).first() if code.isprintable() else None
    context: dict[str, Any] = {"claim_year": today.year, "values": request.POST or {
        "program": code}, "programs": programs, "program": program}
    if request.method == "GET":
        return render(request, "cases/new.html", context)
    errors: list[str] = []
    raw_year = request.POST.get("claim_year", "").strip()
    claim_year = (int(raw_year) if raw_year.isascii() and raw_year.isdigit() and len(raw_year) < 6
                  else None) if raw_year else today.year
    try:
        claim_year = actions.check_claim_year(claim_year, today)
    except ActionError as exc:
        errors.append(exc.message)
        claim_year = today.year
    context["claim_year"] = claim_year
    subject = _find(request, "subject_id_number") or _find(request, "child_id_number")
    applicant = _find(request, "applicant_id_number")
    if program is None:
        errors.append("项目：请选择项目")
    if subject is None:
        errors.append("补贴对象身份证号码：在您管辖范围内未找到此人，请先登记")
    if request.POST.get("applicant_id_number", "").strip() and applicant is None:
        errors.append("申请人身份证号码：在您管辖范围内未找到申请人")
    if (program is not None and program.code == CHILDCARE and subject is not None
            and (applicant is None or not subject.parent_links.filter(parent=applicant).exists())):
        errors.append("申请人须为该儿童的父母或监护人")
    if errors or program is None or subject is None:
        context["errors"] = errors
        return render(request, "cases/new.html", context, status=400)
    facts = _facts(request.POST)
    payee = applicant or subject
    account = payee.bank_accounts.filter(active=True).order_by("id").first()
    record_rejected = request.POST.get("record_rejected") == "1"
    try:
        if not record_rejected:
            ent = actions.preview(program, subject, claim_year, facts)
            if not ent.eligible:
                context.update(ineligible=ent, subject=subject)
                return render(request, "cases/new.html", context)
        case = actions.submit_application(
            request.user, program=program, subject=subject, claim_year=claim_year,
            applicant=applicant, bank_account=account, facts=facts,
            record_rejected=record_rejected, comment=request.POST.get("comment", ""))
    except actions.Duplicate as exc:
        context["errors"] = [exc.message]
        context["existing"] = exc.existing
        return render(request, "cases/new.html", context, status=409)
    except ActionError as exc:
        context["errors"] = [exc.message]
        return render(request, "cases/new.html", context, status=exc.status)
    if case.state == State.REJECTED:
        messages.warning(request, f"已登记，案件号 {case.number}；不符合条件，已作不予通过处理，"
                                  "可打印决定书告知申请人")
    else:
        messages.success(request, f"已受理，案件号 {case.number}，{case.state_label}")
        if case.bank_account_id is None:
            messages.warning(request, f"收款账户：{payee.name} 尚未登记收款银行账户，"
                                      "县级审批前须在人员档案中登记")
    return redirect("cases:detail", case.pk)




@login_required
@require_GET
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk)
    record_view(request.user, case.subject)  # the case page shows the subject's record
    user: Any = request.user
    today = actions.local_today()
    can_review = case.in_review and case.awaiting_role == user.role
    problem = actions.ready_problem(case, today) if can_review else ""
    doc_types = list(DocumentType.objects.filter(program=case.program))
    documents = list(case.documents.select_related("doc_type", "uploaded_by"))
    have = {d.doc_type_id for d in documents}
    missing = actions.missing_documents(case) if actions.documents_required() else []
    overrides = [d for d in case.decisions.select_related("actor")
                 if actions.DOCUMENTS_OVERRIDE in d.reason_codes]
    later_account = (actions.registered_account(case) if case.bank_account_id is None
                     else None)
    entries = list(case.notice_entries.select_related("notice__area").order_by("notice__start_on"))
    today_posting = [e for e in entries if e.withdrawn_at is None
                     and e.notice.start_on <= today <= e.notice.end_on]
    return render(request, "cases/detail.html", {
        "case": case,
        "decisions": case.decisions.select_related("actor"),
        "criteria": case.explanation.get("criteria", []),
        "explanation": case.explanation,
        "chain": [{**lv, "label": LEVEL_LABELS.get(str(lv["level"]), lv["level"]),
                   "role_label": Role(str(lv["role"])).label} for lv in case.review_chain],
        "can_review": can_review and not problem,
        "problem": problem if can_review else "",
        "review_actions": [(Transition.APPROVE.value, f"{case.step_label}通过"),
                           (Transition.RETURN.value, "退回补正"),
                           (Transition.REJECT.value, "不予通过")],
        "reasons": list(REJECT_REASONS.items()),
        "deadline": deadline(case, today),
        "checklist": [(t, t.pk in have) for t in doc_types],
        "documents": documents,
        "can_upload": user.role in actions.REVIEW_ROLES and case.state in actions.DOCUMENT_STATES,
        "can_resubmit": case.state == State.RETURNED and user.role in actions.INTAKE_ROLES,
        "can_reopen": case.state == State.REJECTED and user.role in actions.REVIEW_ROLES,
        "entries": entries,
        "can_object": bool(today_posting) and user.role in actions.REVIEW_ROLES,
        "objections": case.objections.select_related("entry__notice", "recorded_by",
                                                     "resolved_by"),
        "lines": case.payment_lines.select_related("batch").order_by("id"),
        "has_letter": case.state in LETTER_STATES,
        "missing_documents": missing,
        "overrides": overrides,
        "later_account": later_account,
        "suspension": _suspension(case, user),
    })


def _suspension(case: Case, user: Any) -> dict[str, Any] | None:
    """The 暂停发放 panel of a suspended case: since when and why, who suspended it, the
    payment held meanwhile; the forms to resume or stop only for the county approver."""
    if case.state != State.SUSPENDED:
        return None
    from huimin.audit.models import AuditEvent
    from huimin.payments.models import Entitlement, EntitlementStatus

    event = (AuditEvent.objects.filter(case_id=case.pk, action="case.suspend")
             .select_related("actor").order_by("-at", "-id").first())
    held = (Entitlement.objects.filter(case_id=case.pk, status=EntitlementStatus.HELD)
            .only("amount_fen", "held_reason").first())
    return {
        "since": case.stopped_on, "reason": case.stop_reason, "event": event, "held": held,
        "can_settle": user.role in actions.CHANGE_ROLES,
        "today": actions.local_today(),
    }


def _back(case: Case) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("cases:detail", args=[case.pk]))


def _denied(request: HttpRequest, case: Case, exc: ActionError) -> HttpResponse:
    return render(request, "cases/denied.html", {"case": case, "message": exc.message},
                  status=403)


def _post_action(request: HttpRequest, case: Case, call: Callable[[], Any],
                 success: Callable[[Any], str]) -> HttpResponse:
    """Run a case action from a form: a refusal of the role is the 403 page, any other
    refusal a message on the case page; success a message made from what the action gave."""
    try:
        done = call()
    except ActionError as exc:
        if exc.status == 403:
            return _denied(request, case, exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, success(done))
    return _back(case)


@login_required
@require_POST
def case_act(request: HttpRequest, pk: int) -> HttpResponse:
    case: Case = get_case_for_user(request.user, pk)
    transition = request.POST.get("transition", "")
    version = _int(request.POST.get("version"))
    comment = request.POST.get("comment", "")
    reasons = [r for r in request.POST.getlist("reason_codes") if r]
    label = (f"{case.step_label}通过" if transition == Transition.APPROVE else
             Transition(transition).label if transition in Transition.values else "办理")

    def call() -> Any:
        if transition == Transition.RESUBMIT:
            return actions.resubmit(request.user, case, comment=comment,
                                    facts=_facts(request.POST), expected_version=version)
        if transition == Transition.REOPEN:
            return actions.request_review(request.user, case, comment=comment,
                                          expected_version=version)
        return actions.decide(request.user, case, transition, reason_codes=reasons,
                              comment=comment, expected_version=version,
                              override_reason=request.POST.get("override_reason", ""))

    return _post_action(request, case, call, lambda _done: f"已{label}")


@login_required
@require_POST
def case_resume(request: HttpRequest, pk: int) -> HttpResponse:
    """恢复发放: re-verification found the entitlement stands; the held payment is released."""
    case = get_case_for_user(request.user, pk, write=True, roles=actions.CHANGE_ROLES)
    return _post_action(
        request, case,
        lambda: actions.resume_case(request.user, case, reason=request.POST.get("reason", ""),
                                    expected_version=_int(request.POST.get("version"))),
        lambda done: (f"已恢复发放，案件现为「{done.state_label}」；"
                      "暂停期间未发放的款项纳入下一批次"))


@login_required
@require_POST
def case_stop(request: HttpRequest, pk: int) -> HttpResponse:
    """终止发放: re-verification confirmed the loss of entitlement from a date."""
    from datetime import date

    case = get_case_for_user(request.user, pk, write=True, roles=actions.CHANGE_ROLES)
    raw = request.POST.get("stopped_on", "").strip()
    try:
        stopped_on = date.fromisoformat(raw)
    except ValueError:
        messages.error(request, f"终止日期：「{raw[:20]}」不是有效日期，应为 YYYY-MM-DD"
                       if raw else "终止日期：请填写不再符合条件的日期")
        return _back(case)
    return _post_action(
        request, case,
        lambda: actions.stop_suspended(request.user, case, stopped_on=stopped_on,
                                       reason=request.POST.get("reason", ""),
                                       expected_version=_int(request.POST.get("version"))),
        lambda _done: f"已终止发放：自 {stopped_on.isoformat()} 起停发{_stop_followups(case)}")


def _stop_followups(case: Case) -> str:
    """What a stop after re-verification left for finance, in words for its message."""
    from huimin.lib.money import format_yuan
    from huimin.payments.models import Entitlement, EntitlementStatus, Recovery

    out = ""
    if Entitlement.objects.filter(case_id=case.pk, status=EntitlementStatus.HELD).exists():
        out += "；未发放的款项继续暂停，不再发放"
    opened = Recovery.objects.filter(case_id=case.pk, event_ref=actions.stop_ref(case)).first()
    if opened is not None:
        out += f"；已多发的 {format_yuan(opened.amount_fen)}登记为应追回款项，由财务追回"
    return out


@login_required
@require_POST
def document_upload(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk, write=True, roles=actions.REVIEW_ROLES)
    upload = request.FILES.get("file")
    doc_type = DocumentType.objects.filter(
        program=case.program, pk=_int(request.POST.get("doc_type")) or 0).first()
    if upload is None or doc_type is None:
        messages.error(request, "请选择材料类型和要上传的文件")
        return _back(case)
    try:
        actions.add_document(request.user, case, doc_type=doc_type, data=upload.read(),
                             filename=upload.name or "")
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已上传：{doc_type.name}")
    return _back(case)


@login_required
@require_GET
def document_view(request: HttpRequest, pk: int, doc_id: int) -> HttpResponseBase:
    case = get_case_for_user(request.user, pk)
    doc = case.documents.filter(pk=doc_id).first()
    if doc is None:
        raise Http404("材料不存在")
    try:
        data = doc.read()  # opened from its sealed form
    except (InvalidTag, ValueError):
        logger.error("case document %s does not open (altered, or sealed under another key)",
                     doc.pk)
        return HttpResponse("材料文件无法打开：文件已损坏、被改动或不是用本系统的密钥加密的，"
                            "请联系系统管理员", status=500,
                            content_type="text/plain; charset=utf-8")
    record(request.user, "case.document_view", doc, person_id=case.subject_id,
           case_id=case.pk, area_code=case.area.code, doc_type=doc.doc_type.code)
    resp = FileResponse(io.BytesIO(data), content_type=doc.content_type,
                        filename=doc.original_name)
    resp["Cache-Control"] = "no-store"
    return resp


@login_required
@require_POST
def objection_new(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk, write=True, roles=actions.REVIEW_ROLES)
    try:
        actions.record_objection(request.user, case, content=request.POST.get("content", ""),
                                 objector=request.POST.get("objector", ""),
                                 contact=request.POST.get("contact", ""))
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "已登记公示异议，待核实处理；核实前该案件不能进入下一级审核")
    return _back(case)


@login_required
@require_POST
def objection_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    objection = Objection.objects.filter(pk=pk).first()
    if objection is None:
        raise Http404("异议不存在")
    case = get_case_for_user(request.user, objection.case_id, write=True,
                             roles=actions.REVIEW_ROLES)
    upheld = request.POST.get("upheld") == "1"
    return _post_action(
        request, case,
        lambda: actions.resolve_objection(request.user, objection, upheld=upheld,
                                          finding=request.POST.get("finding", ""),
                                          expected_version=_int(request.POST.get("version"))),
        lambda _done: "异议成立，案件已退回重审" if upheld else "已记录：异议不成立")


@login_required
@require_GET
def letter(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk)
    context = letter_context(case, actions.local_today())
    as_html = request.GET.get("format") == "html"
    record(request.user, "case.letter", case, person_id=case.subject_id, case_id=case.pk,
           area_code=case.area.code, decision=context["decision"].pk,
           format="html" if as_html else "pdf")
    if as_html:
        return render(request, "cases/letter.html", context)
    pdf = render_pdf("cases/letter.html", context)
    resp = HttpResponse(pdf, content_type="application/pdf")
    name = quote(f"审核决定书-{case.number}.pdf")
    resp["Content-Disposition"] = f"inline; filename*=UTF-8''{name}"
    return resp


@login_required
@require_http_methods(["GET", "POST"])
def bulk_intake(request: HttpRequest) -> HttpResponse:
    require_role(request.user, actions.INTAKE_ROLES)
    context: dict[str, Any] = {"columns": bulk.COLUMNS}
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "请选择要上传的文件")
            return render(request, "cases/bulk.html", context, status=400)
        try:
            made = bulk.import_applications(
                request.user, read_upload(upload, SHEET_MAX_BYTES), upload.name or "")
        except FileRejected as exc:
            context.update(rejected=exc.message, errors=exc.errors[:500])
            return render(request, "cases/bulk.html", context, status=400)
        except ActionError as exc:
            messages.error(request, exc.message)
            return render(request, "cases/bulk.html", context, status=exc.status)
        eligible = sum(1 for c in made if c.eligible)
        messages.success(request, format_html(
            "导入成功：受理 {} 件，其中符合条件 {} 件、经核算不符合条件 {} 件", len(made),
            eligible, len(made) - eligible))
        context["made"] = made
    return render(request, "cases/bulk.html", context)


@login_required
@require_GET
def bulk_template(request: HttpRequest) -> HttpResponse:
    resp = HttpResponse(
        bulk.template_xlsx(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote('批量受理模板')}.xlsx"
    return resp

