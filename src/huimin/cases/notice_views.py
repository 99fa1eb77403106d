"""Public notices (公示): per village, township or county and period, as HTML and A4 PDF."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huimin import listing
from huimin.accounts.access import area_q, require_role
from huimin.audit.events import record
from huimin.cases import actions
from huimin.cases import lists as case_lists
from huimin.cases.models import Notice, ObjectionStatus
from huimin.cases.pdf import render_pdf
from huimin.cases.states import LEVEL_OF_ROLE
from huimin.errors import ActionError
from huimin.programs.models import Program


def notices_for(user: Any) -> QuerySet[Notice]:
    if not getattr(user, "is_authenticated", False):
        return Notice.objects.none()
    return (Notice.objects.filter(area_q(user, "area__code"))
            .select_related("program", "area", "created_by"))


def get_notice_for_user(user: Any, pk: int) -> Notice:
    notice = notices_for(user).filter(pk=pk).first()
    if notice is None:
        raise Http404("公示不存在或不在您的管辖范围内")
    return notice


def _counted(qs: QuerySet[Notice]) -> QuerySet[Notice]:
    return qs.annotate(
        n=Count("entries", filter=Q(entries__withdrawn_at=None), distinct=True),
        open_objections=Count("entries__objections",
                              filter=Q(entries__objections__status=ObjectionStatus.OPEN),
                              distinct=True),
    )


@login_required
@require_GET
def notice_list(request: HttpRequest) -> HttpResponse:
    lst = listing.run(case_lists.NOTICES, request.user, notices_for(request.user), request.GET)
    by_pk = {n.pk: n for n in _counted(Notice.objects.filter(pk__in=[n.pk for n in lst.rows]))}
    for n in lst.rows:
        n.n = by_pk[n.pk].n  # type: ignore[attr-defined]
        n.open_objections = by_pk[n.pk].open_objections  # type: ignore[attr-defined]
    return render(request, "cases/notice_list.html", {
        "lst": lst, "page": lst.rows, "today": actions.local_today(),
        "export_url": reverse("notices:export"),
        "can_publish": getattr(request.user, "role", "") in LEVEL_OF_ROLE},
        status=400 if lst.errors else 200)


@login_required
@require_POST
def notice_export(request: HttpRequest) -> HttpResponse:
    """The notice list as a workbook (a notice is already public: no personal data)."""
    return listing.export_response(  # type: ignore[no-any-return]
        request, case_lists.NOTICES, _counted(notices_for(request.user)))


@login_required
@require_http_methods(["GET", "POST"])
def notice_new(request: HttpRequest) -> HttpResponse:
    require_role(request.user, actions.REVIEW_ROLES)
    user: Any = request.user
    level = LEVEL_OF_ROLE[user.role]
    today = actions.local_today()
    programs = list(Program.objects.filter(active=True, public_notice=True))
    pending = {p.code: actions.posting_candidates(user, p, level).count() for p in programs}
    context: dict[str, Any] = {
        "programs": [(p, pending[p.code]) for p in programs], "today": today,
        "values": request.POST or {"start_on": today.isoformat()},
    }
    if request.method == "POST":
        code = request.POST.get("program", "")
        # a code with NUL or control characters is no program's (PostgreSQL refuses NUL)
        program = (Program.objects.filter(code=code, active=True).first()
                   if code.isprintable() else None)
        try:
            if program is None:
                raise ActionError("请选择项目")
            start_on = date.fromisoformat(request.POST.get("start_on", ""))
            if not 2000 <= start_on.year <= 2100:
                raise ValueError(start_on)
        except ValueError:
            context["error"] = "公示开始日期：格式应为 YYYY-MM-DD，年份在 2000–2100 之间"
            return render(request, "cases/notice_new.html", context, status=400)
        except ActionError as exc:
            context["error"] = exc.message
            return render(request, "cases/notice_new.html", context, status=400)
        try:
            notice = actions.publish_notice(user, program=program, start_on=start_on,
                                            objection_info=request.POST.get("objection_info",
                                                                            ""))
        except ActionError as exc:
            context["error"] = exc.message
            return render(request, "cases/notice_new.html", context, status=exc.status)
        messages.success(request, f"已发布公示 {notice.number}，公示期 "
                                  f"{notice.start_on:%Y-%m-%d} 至 {notice.end_on:%Y-%m-%d}")
        return redirect("notices:detail", notice.pk)
    return render(request, "cases/notice_new.html", context)


def _context(notice: Notice) -> dict[str, Any]:
    entries = list(notice.entries.filter(withdrawn_at=None).order_by("seq"))
    return {"notice": notice, "entries": entries,
            "withdrawn": notice.entries.exclude(withdrawn_at=None).count(),
            "total_fen": sum(e.amount_fen for e in entries),
            "show_id": bool(notice.masking.get("show_id", True))}


@login_required
@require_GET
def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_notice_for_user(request.user, pk)
    context = _context(notice)
    context["cases"] = {e.case_id for e in context["entries"]}
    context["today"] = actions.local_today()
    return render(request, "cases/notice.html", context)


@login_required
@require_GET
def notice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_notice_for_user(request.user, pk)
    pdf = render_pdf("cases/notice_print.html", _context(notice))
    record(request.user, "notice.print", notice, area_code=notice.area.code)
    resp = HttpResponse(pdf, content_type="application/pdf")
    resp["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(notice.number)}.pdf"
    return resp
