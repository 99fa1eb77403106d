from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from huimin.accounts.access import get_person_for_user, persons_for, user_can
from huimin.audit.events import record_view
from huimin.errors import ActionError, FileRejected
from huimin.registry import importer
from huimin.registry.crypto import id_hash

TEMPLATE_NAME = quote("人员登记模板")


@login_required
@require_GET
def person_list(request: HttpRequest) -> HttpResponse:
    qs = persons_for(request.user).order_by("area__code", "household_id", "id")
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(id_hash=id_hash(q.upper())) if len(q) == 18 else qs.filter(name__contains=q)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "registry/person_list.html", {"page": page, "q": q})


@login_required
@require_GET
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_person_for_user(request.user, pk)
    record_view(request.user, person)
    return render(request, "registry/person_detail.html", {
        "person": person,
        "parents": person.parent_links.select_related("parent"),
        "children": person.child_links.select_related("child"),
        "accounts": person.bank_accounts.all(),
        "cases": person.cases.select_related("program").order_by("-claim_year"),
        "household": person.household,
    })


@login_required
@require_http_methods(["GET", "POST"])
def import_view(request: HttpRequest) -> HttpResponse:
    can_write = user_can(request.user, ("village_cadre", "township_reviewer", "admin"))
    context: dict[str, object] = {"can_write": can_write, "columns": importer.COLUMNS}
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "请选择要上传的文件")
            return render(request, "registry/import.html", context, status=400)
        try:
            summary = importer.import_registry(request.user, upload.read(), upload.name or "")
        except FileRejected as exc:
            context.update(rejected=exc.message, errors=exc.errors[:500],
                           more=max(0, len(exc.errors) - 500))
            return render(request, "registry/import.html", context, status=400)
        except ActionError as exc:
            messages.error(request, exc.message)
            return render(request, "registry/import.html", context, status=exc.status)
        messages.success(
            request,
            f"导入成功：{summary['persons']} 人，新建 {summary['households']} 户，"
            f"亲子关系 {summary['links']} 条，银行账户 {summary['accounts']} 个",
        )
        context["summary"] = summary
    return render(request, "registry/import.html", context)


@login_required
@require_GET
def import_template(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt == "xlsx":
        resp = HttpResponse(
            importer.template_xlsx(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{TEMPLATE_NAME}.xlsx"
        return resp
    resp = HttpResponse(importer.template_csv(), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{TEMPLATE_NAME}.csv"
    return resp
