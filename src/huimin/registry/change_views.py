"""Web pages of register change requests (变更登记): a form per type from the person page and
the household page, the list waiting for the confirming role (with 批量确认: the chosen
requests, a preview of what each changes, then one confirmation for all), a request's
page."""

from __future__ import annotations

import io
import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huimin.accounts.access import (
    get_household_for_user,
    get_person_for_user,
    require_role,
    user_can,
)
from huimin.audit.events import record, record_reads
from huimin.errors import ActionError, Forbidden
from huimin.lib.sheets import read_upload
from huimin.registry import changes
from huimin.registry.models import ChangeRequest, ChangeStatus, Household, Person

logger = logging.getLogger(__name__)
STATUS_FILTERS = {"pending": "待我确认", "submitted": "待确认", "confirmed": "已生效",
                  "rejected": "已驳回", "all": "全部"}


def _values(request: HttpRequest, kind: changes.Kind) -> dict[str, str]:
    out = {}
    for f in kind.fields:
        if f.type == "members":
            out[f.name] = ",".join(request.POST.getlist(f.name))
        else:
            out[f.name] = request.POST.get(f.name, "")
    return out


def _choices(target: Any) -> dict[str, Any]:
    """What the select fields of a form offer, for this person or household."""
    if isinstance(target, Household):
        return {"members": list(target.members.filter(moved_out_on=None).order_by("id"))}
    assert isinstance(target, Person)
    return {
        "accounts": list(target.bank_accounts.filter(active=True).order_by("id")),
        "links": list(target.parent_links.select_related("parent").order_by("id"))
        + list(target.child_links.select_related("child").order_by("id")),
    }


def _new(request: HttpRequest, target: Any, kinds: list[changes.Kind]) -> HttpResponse:
    require_role(request.user, changes.SUBMIT_ROLES)
    code = request.POST.get("kind") or request.GET.get("kind", "")
    kind = changes.KINDS.get(code)
    context: dict[str, Any] = {"target": target, "kinds": kinds, "kind": kind,
                               "is_person": isinstance(target, Person), "values": {},
                               **_choices(target)}
    if kind is None or kind not in kinds:
        context["kind"] = None
        return render(request, "registry/change_new.html", context)
    if request.method == "POST":
        values = _values(request, kind)
        context["values"] = {**values, "reason": request.POST.get("reason", ""),
                             "applicant": request.POST.get("applicant", "")}
        upload = request.FILES.get("evidence")
        try:
            evidence = None
            if upload is not None:
                from huimin.cases.actions import max_upload_bytes

                evidence = (read_upload(upload, max_upload_bytes()), upload.name or "")
            where = ({"person": target} if isinstance(target, Person)
                     else {"household": target})
            req = changes.submit_change(
                request.user, kind=kind.code, reason=request.POST.get("reason", ""),
                applicant=request.POST.get("applicant", ""), values=values,
                evidence=evidence, **where)
        except ActionError as exc:
            context["errors"] = [exc.message]
            return render(request, "registry/change_new.html", context, status=exc.status)
        messages.success(request, f"已提交变更申请 {req.number}，待"
                                  f"{changes.LEVEL_LABELS[req.confirm_level]}确认后生效")
        return redirect("registry:change", req.pk)
    return render(request, "registry/change_new.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def person_change_new(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_person_for_user(request.user, pk)
    return _new(request, person, changes.PERSON_KINDS)


@login_required
@require_http_methods(["GET", "POST"])
def household_change_new(request: HttpRequest, pk: int) -> HttpResponse:
    household = get_household_for_user(request.user, pk)
    return _new(request, household, changes.HOUSEHOLD_KINDS)


@login_required
@require_GET
def change_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "pending")
    if status not in STATUS_FILTERS:
        status = "pending"
    if status == "pending":
        qs = changes.pending_for(request.user)
    else:
        qs = changes.changes_for(request.user)
        if status != "all":
            qs = qs.filter(status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    decidable = {r.pk for r in page if _can_decide(request.user, r)}
    return render(request, "registry/change_list.html", {
        "page": page, "status": status, "filters": STATUS_FILTERS, "decidable": decidable,
        "can_bulk": bool(decidable)})


def _selected(request: HttpRequest) -> list[ChangeRequest]:
    """The requests chosen on the list (``change`` ids, or ``all=1``: every request waiting
    for the user), within the user's areas; an id that is not there is a 404."""
    if request.POST.get("all") == "1":
        return list(changes.pending_for(request.user)[:changes.BULK_MAX + 1])
    ids = {int(v) for v in request.POST.getlist("change")
           if v.isascii() and v.isdigit() and 0 < int(v) < 2**63}
    if len(ids) > changes.BULK_MAX:
        raise ActionError(f"一次最多确认 {changes.BULK_MAX} 项变更申请")
    chosen = list(changes.changes_for(request.user).filter(pk__in=ids)
                  .order_by("submitted_at", "id"))
    if len(chosen) != len(ids) or len(ids) != len(request.POST.getlist("change")):
        raise Http404("所选变更申请不存在或不在您的管辖范围内")
    return chosen


def _preview(request: HttpRequest, chosen: list[ChangeRequest], error: ActionError | None,
             prefix: str = "") -> HttpResponse:
    persons = [r.person for r in chosen if r.person is not None]
    record_reads(request.user, "person.list", persons, via="changes_preview")
    return render(request, "registry/change_preview.html", {
        "items": [{"req": r, "changes": changes.changes_of(r),
                   "level_label": changes.LEVEL_LABELS[r.confirm_level]} for r in chosen],
        "errors": [prefix + error.message] if error is not None else []},
        status=error.status if error is not None else 200)


def _chosen(request: HttpRequest) -> list[ChangeRequest] | HttpResponse:
    """The requests ticked on the list, for a role that decides them; back to the list,
    with the reason, when none is ticked or the choice is malformed."""
    require_role(request.user, changes.DECIDE_ROLES)
    try:
        chosen = _selected(request)
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("registry:changes")
    if not chosen:
        messages.error(request, "请选择要确认的变更申请")
        return redirect("registry:changes")
    return chosen


@login_required
@require_POST
def change_bulk_preview(request: HttpRequest) -> HttpResponse:
    """What confirming the chosen requests will change; nothing is changed here."""
    chosen = _chosen(request)
    if isinstance(chosen, HttpResponse):
        return chosen
    try:
        changes.check_changes(request.user, chosen)
    except ActionError as exc:
        return _preview(request, chosen, exc, "不能批量确认：")
    return _preview(request, chosen, None)


@login_required
@require_POST
def change_bulk_confirm(request: HttpRequest) -> HttpResponse:
    """Confirm the previewed requests, all in one transaction or none."""
    chosen = _chosen(request)
    if isinstance(chosen, HttpResponse):
        return chosen
    try:
        done = changes.confirm_changes(request.user, chosen)
    except ActionError as exc:
        return _preview(request, chosen, exc, "未确认任何申请：")
    messages.success(request, f"已确认 {len(done)} 项变更申请并生效："
                              + "、".join(r.number for r in done))
    return redirect("registry:changes")


def _get(request: HttpRequest, pk: int) -> ChangeRequest:
    req = changes.changes_for(request.user).filter(pk=pk).first()
    if req is None:
        raise Http404("记录不存在或不在您的管辖范围内")
    return req


def _can_decide(user: Any, req: ChangeRequest) -> bool:
    return (req.status == ChangeStatus.SUBMITTED and req.submitted_by_id != user.pk
            and user_can(user, changes.CONFIRM_ROLES[req.confirm_level]))


@login_required
@require_GET
def change_detail(request: HttpRequest, pk: int) -> HttpResponse:
    req = _get(request, pk)
    if req.person is not None:
        record(request.user, "person.view", req.person, person_id=req.person_id,
               area_code=req.area.code, via="change_request", change=req.pk)
    return render(request, "registry/change_detail.html", {
        "req": req, "kind": changes.KINDS[req.kind], "changes": changes.changes_of(req),
        "can_decide": _can_decide(request.user, req),
        "level_label": changes.LEVEL_LABELS[req.confirm_level],
        "own": req.submitted_by_id == request.user.pk})


@login_required
@require_POST
def change_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    req = _get(request, pk)
    require_role(request.user, changes.CONFIRM_ROLES[req.confirm_level])
    try:
        changes.confirm_change(request.user, req)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("registry:change", req.pk)
    messages.success(request, f"变更申请 {req.number} 已确认并生效")
    return redirect("registry:change", req.pk)


@login_required
@require_POST
def change_reject(request: HttpRequest, pk: int) -> HttpResponse:
    req = _get(request, pk)
    require_role(request.user, changes.CONFIRM_ROLES[req.confirm_level])
    try:
        changes.reject_change(request.user, req, reason=request.POST.get("reason", ""))
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("registry:change", req.pk)
    messages.success(request, f"变更申请 {req.number} 已驳回")
    return redirect("registry:change", req.pk)


@login_required
@require_GET
def change_evidence(request: HttpRequest, pk: int) -> HttpResponseBase:
    req = _get(request, pk)
    if not req.evidence_stored:
        raise Http404("该申请没有证明材料")
    try:
        data = req.read_evidence()
    except Exception:  # altered, or sealed under another key: refuse, never serve raw
        logger.error("change evidence %s does not open", req.pk)
        return HttpResponse("证明材料无法打开，请联系系统管理员", status=500)
    record(request.user, "change.evidence_view", req, person_id=req.person_id,
           area_code=req.area.code, number=req.number)
    resp = FileResponse(io.BytesIO(data), content_type=req.evidence_type)
    resp["Content-Disposition"] = "inline"
    resp["X-Content-Type-Options"] = "nosniff"
    return resp


@login_required
@require_GET
def handover_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """The hand-over record of a move out of the county, for the receiving county."""
    from urllib.parse import quote

    from huimin.registry import handover as handovers

    if fmt not in ("json", "xlsx"):
        raise Http404("记录不存在或不在您的管辖范围内")
    item = handovers.get_handover_for_user(request.user, pk)
    name = quote(f"迁出移交-{item.number}")
    if fmt == "json":
        resp = HttpResponse(handovers.taken(request.user, item, fmt),
                            content_type="application/json")
    else:
        resp = HttpResponse(handovers.taken(request.user, item, fmt), content_type=(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{name}.{fmt}"
    return resp


@login_required
@require_http_methods(["GET", "POST"])
def handover_import(request: HttpRequest) -> HttpResponse:
    """迁入登记: register a person handed over by another county from its record (XLSX or JSON)."""
    from huimin.registry import handover as handovers

    require_role(request.user, handovers.IMPORT_ROLES)
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "文件：请选择移交记录（Excel 或 JSON）")
            return render(request, "registry/handover_import.html", status=400)
        try:
            person, summary = handovers.import_handover(
                request.user, read_upload(upload, handovers.MAX_BYTES))
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from None
        except ActionError as exc:
            messages.error(request, exc.message)
            return render(request, "registry/handover_import.html", status=exc.status)
        listed = "、".join(f"{c['claim_year']} 年度{c['program_name']}" for c in summary["cases"])
        messages.success(request, f"已登记迁入人员 {person.name}（新立户 {summary['household']}）"
                         + (f"；原县移交案件：{listed}，请按本县规定重新受理" if listed else ""))
        return redirect("registry:person", person.pk)
    return render(request, "registry/handover_import.html")
