"""Feeds pages: upload and files, rows with their outcome, effects to confirm, the village's
免申即享 offers, and the API tokens of source systems."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huimin.accounts.access import area_q, in_user_area, require_role, user_can
from huimin.audit.events import actor_area_code, record, record_reads
from huimin.cases.models import Case
from huimin.errors import ActionError, FileRejected
from huimin.lib.sheets import read_upload
from huimin.registry.models import Area
from huimin.verification import apply, formats, ingest, tokens
from huimin.verification.models import (
    Effect,
    EffectKind,
    EffectStatus,
    FeedFile,
    FeedRow,
    FeedToken,
    Kind,
    RowStatus,
    Source,
)

READ_ROLES = frozenset(("village_cadre", "township_reviewer", "county_approver",
                        "finance_officer", "auditor", "admin"))


def _read(request: HttpRequest) -> None:
    require_role(request.user, READ_ROLES)


def rows_for(user: Any) -> QuerySet[FeedRow]:
    """Rows matched to persons in the user's areas, and the unmatched or quarantined rows of
    files loaded in them."""
    if not user_can(user, READ_ROLES):
        return FeedRow.objects.none()
    return FeedRow.objects.filter(area_q(user, "area_code")).select_related("file", "person")


def files_for(user: Any) -> QuerySet[FeedFile]:
    if not user_can(user, READ_ROLES):
        return FeedFile.objects.none()
    visible = rows_for(user).values("file_id")
    return (FeedFile.objects.filter(area_q(user, "area__code") | Q(pk__in=visible))
            .select_related("area", "loaded_by", "token").distinct())


def _log_rows(request: HttpRequest, rows: list[FeedRow], **data: Any) -> None:
    record(request.user, "feed.rows_view", request.user, area_code=actor_area_code(request.user),
           rows=len(rows), **data)
    persons = [r.person for r in rows if r.person is not None]
    record_reads(request.user, "person.list", persons, via="feeds")


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    _read(request)
    can_load = user_can(request.user, ingest.LOAD_ROLES)
    context: dict[str, Any] = {
        "can_load": can_load, "kinds": Kind.choices, "columns": formats.COLUMNS,
        "sources": Source.choices, "kind_sources": [
            (Kind(k).label, "、".join(Source(s).label for s in v))
            for k, v in formats.SOURCES.items()],
        "can_tokens": user_can(request.user, tokens.TOKEN_ROLES),
    }
    status = 200
    if request.method == "POST":
        require_role(request.user, ingest.LOAD_ROLES)
        upload = request.FILES.get("file")
        kind = request.POST.get("kind", "")
        if upload is None:
            context["rejected"] = "文件：请选择要上传的文件"
            status = 400
        else:
            try:
                summary = ingest.ingest_file(
                    request.user, read_upload(upload, formats.MAX_BYTES), upload.name or "",
                    kind=kind, source=request.POST.get("source", ""), via="upload")
            except FileRejected as exc:
                context.update(rejected=exc.message, errors=exc.errors[:500])
                status = 400
            except ActionError as exc:
                context["rejected"] = exc.message
                status = exc.status
            else:
                f = summary.file
                messages.success(request, f"已接收 {f.rows_read} 行：匹配 {f.matched}，未匹配 "
                                          f"{f.unmatched}，隔离 {f.quarantined}，重复 "
                                          f"{f.duplicates}；拟处理事项 {summary.effects} 项")
                return redirect("feeds:file", f.pk)
    page = Paginator(files_for(request.user).order_by("-received_at", "-id"), 30) \
        .get_page(request.GET.get("page"))
    context["page"] = page
    return render(request, "verification/index.html", context, status=status)


@login_required
@require_GET
def file_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _read(request)
    try:
        feed = files_for(request.user).get(pk=pk)
    except FeedFile.DoesNotExist:
        raise Http404("记录不存在或不在您的管辖范围内") from None
    status = request.GET.get("status", "")
    rows = rows_for(request.user).filter(file=feed).order_by("row_number")
    if status in RowStatus.values:
        rows = rows.filter(status=status)
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    _log_rows(request, list(page), file=feed.pk)
    return render(request, "verification/file.html", {
        "feed": feed, "page": page, "status": status, "statuses": RowStatus.choices,
        "owner": in_user_area(request.user, feed.area.code),
        "effects": Effect.objects.filter(row__file=feed).filter(
            area_q(request.user, "area_code")).count(),
    })


@login_required
@require_GET
def exceptions(request: HttpRequest) -> HttpResponse:
    """Unmatched and quarantined rows, newest first: listed, never guessed."""
    _read(request)
    which = request.GET.get("status", RowStatus.UNMATCHED)
    if which not in (RowStatus.UNMATCHED, RowStatus.QUARANTINED):
        which = RowStatus.UNMATCHED
    rows = rows_for(request.user).filter(status=which).order_by("-received_at", "-id")
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    _log_rows(request, list(page), status=which)
    return render(request, "verification/exceptions.html", {"page": page, "which": which})


@login_required
@require_GET
def template(request: HttpRequest, kind: str, fmt: str) -> HttpResponse:
    _read(request)
    if kind not in formats.COLUMNS or fmt not in ("csv", "xlsx"):
        raise Http404("没有这种模板")
    name = quote(f"{Kind(kind).label}数据模板")
    if fmt == "xlsx":
        resp = HttpResponse(formats.template_xlsx(kind), content_type=(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    else:
        resp = HttpResponse(formats.template_csv(kind), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{name}.{fmt}"
    return resp


@login_required
@require_GET
def effects(request: HttpRequest) -> HttpResponse:
    _read(request)
    status = request.GET.get("status", EffectStatus.PROPOSED)
    qs = apply.effects_for(request.user).exclude(kind=EffectKind.OFFER)
    if status in EffectStatus.values:
        qs = qs.filter(status=status)
    page = Paginator(qs.order_by("-created_at", "-id"), 100).get_page(request.GET.get("page"))
    record_reads(request.user, "person.list", [e.person for e in page], via="feeds_effects")
    return render(request, "verification/effects.html", {
        "page": page, "status": status, "statuses": EffectStatus.choices,
        "can_confirm": user_can(request.user, apply.CONFIRM_ROLES)})


def _selected(request: HttpRequest) -> list[Effect]:
    qs = apply.effects_for(request.user).filter(status=EffectStatus.PROPOSED)
    if request.POST.get("all") == "1":
        chosen = list(qs.exclude(kind=EffectKind.OFFER).order_by("id")[:apply.BULK_MAX + 1])
    else:
        ids = [v for v in request.POST.getlist("effect") if v.isdigit()]
        chosen = list(qs.filter(pk__in=ids).order_by("id"))
        if len(chosen) != len(set(ids)):
            raise Http404("所选事项不存在、不在您的管辖范围内或已处理")
    return chosen


@login_required
@require_POST
def preview(request: HttpRequest) -> HttpResponse:
    require_role(request.user, apply.CONFIRM_ROLES)
    chosen = _selected(request)
    if not chosen:
        messages.error(request, "请选择要确认的事项")
        return redirect("feeds:effects")
    return render(request, "verification/preview.html", {
        "steps": apply.preview(chosen), "all": request.POST.get("all") == "1"})


@login_required
@require_POST
def confirm(request: HttpRequest) -> HttpResponse:
    require_role(request.user, apply.CONFIRM_ROLES)
    chosen = _selected(request)
    try:
        done = apply.confirm(request.user, chosen, note=request.POST.get("note", ""))
    except ActionError as exc:
        messages.error(request, f"未确认任何事项：{exc.message}")
        return redirect("feeds:effects")
    messages.success(request, f"已确认 {len(done)} 项")
    return redirect("feeds:effects")


@login_required
@require_POST
def dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    effect = apply.get_effect_for_user(request.user, pk)
    require_role(request.user, apply.CONFIRM_ROLES)
    try:
        apply.dismiss(request.user, effect, note=request.POST.get("note", ""))
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("feeds:effects")
    messages.success(request, f"已驳回事项 {pk}")
    return redirect("feeds:effects")


@login_required
@require_GET
def offers(request: HttpRequest) -> HttpResponse:
    """免申即享: eligible and not applied, for the village to reach the family."""
    _read(request)
    qs = (apply.effects_for(request.user)
          .filter(kind__in=[EffectKind.OFFER, EffectKind.ENROL])
          .exclude(status=EffectStatus.DISMISSED).order_by("-created_at", "-id"))
    page = Paginator(qs, 100).get_page(request.GET.get("page"))
    applied = set(Case.objects.filter(
        subject_id__in=[e.subject_id for e in page if e.subject_id])
        .values_list("subject_id", "program_id", "claim_year"))
    items = [(e, (e.subject_id, e.program_id, e.claim_year) in applied) for e in page]
    record_reads(request.user, "person.list", [e.person for e in page], via="feeds_offers")
    return render(request, "verification/offers.html", {"page": page, "items": items})


def _token_areas(user: Any) -> list[Area]:
    return list(Area.objects.filter(area_q(user, "code"), level__in=["county", "township"])
                .order_by("code"))


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    require_role(request.user, tokens.TOKEN_ROLES)
    context: dict[str, Any] = {"sources": Source.choices, "areas": _token_areas(request.user)}
    status = 200
    if request.method == "POST":
        code = request.POST.get("area", "")
        # a code with NUL or control characters is no area's (PostgreSQL refuses NUL)
        area = Area.objects.filter(code=code).first() if code.isprintable() else None
        if area is None:
            context["error"] = "区域：请选择"
            status = 400
        else:
            try:
                token, raw = tokens.issue_token(request.user, label=request.POST.get("label", ""),
                                                source=request.POST.get("source", ""), area=area)
            except ActionError as exc:
                context["error"] = exc.message
                status = exc.status
            else:
                context["issued"] = (token, raw)
    context["tokens"] = FeedToken.objects.filter(area_q(request.user, "area__code")) \
        .select_related("area", "issued_by", "revoked_by")
    return render(request, "verification/tokens.html", context, status=status)


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request.user, tokens.TOKEN_ROLES)
    try:
        token = FeedToken.objects.filter(area_q(request.user, "area__code")).get(pk=pk)
    except FeedToken.DoesNotExist:
        raise Http404("记录不存在或不在您的管辖范围内") from None
    try:
        tokens.revoke_token(request.user, token)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已吊销令牌 {token.prefix}…")
    return redirect("feeds:tokens")

