from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from huimin.accounts.access import (
    area_q,
    get_household_for_user,
    get_person_for_user,
    persons_for,
    require_role,
    user_can,
)
from huimin.accounts.models import Role
from huimin.audit.events import actor_area_code, event, record, record_reads, record_view
from huimin.audit.models import AuditEvent
from huimin.errors import ActionError, FileRejected
from huimin.lib.sheets import read_upload
from huimin.registry import actions, importer, search
from huimin.registry.changes import SUBMIT_ROLES
from huimin.registry.crypto import id_hash
from huimin.registry.models import Area

TEMPLATE_NAME = quote("人员登记模板")
#: who sees a person's full birth date on the person's own record page: those who register
#: people and review applications check it against the 户口簿 and the birth certificate.
#: Everyone else (finance, audit, administration), and every list, sees an age, which does
#: not complete the birth-date segment of the masked identity number.
BIRTH_DATE_ROLES = (Role.VILLAGE_CADRE, Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER)
# The form posts the template's columns, in the template's order.
PERSON_FORM_FIELDS = [
    "household", "name", "id_number", "sex", "birth_date", "area_code", "hukou_type",
    "death_date", "father_id", "mother_id", "bank_name", "account",
]


@login_required
@require_http_methods(["GET", "POST"])
def person_list(request: HttpRequest) -> HttpResponse:
    """人口登记: names are searched with GET (?q=), identity numbers only by POST, so that no
    number is kept in a URL or a server log. Every person shown is a logged read."""
    context: dict[str, object] = {"q": "", "id_number": ""}
    if request.method == "POST":
        context["by_id"] = True
        try:
            found = search.by_id_number(request.user, request.POST.get("id_number", ""),
                                        via="web")
        except ActionError as exc:
            context["error"] = exc.message
            context["page"] = Paginator([], 50).get_page(1)
            return render(request, "registry/person_list.html", context, status=400)
        page = Paginator(found, 50).get_page(1)
        record_reads(request.user, "person.list", page, via="id_search")
        context["page"] = page
        return render(request, "registry/person_list.html", context)
    q = request.GET.get("q", "").strip()
    context["q"] = q
    try:
        qs = search.by_name(request.user, q).order_by("area__code", "household_id", "id")
    except ActionError as exc:
        context.update(q="", error=exc.message, page=Paginator([], 50).get_page(1))
        return render(request, "registry/person_list.html", context, status=400)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    if q:
        record(request.user, "person.search", request.user,
               area_code=actor_area_code(request.user), by="name", q=q,
               found=page.paginator.count, via="web")
    record_reads(request.user, "person.list", page, via="list", q=q, page=page.number)
    context["page"] = page
    return render(request, "registry/person_list.html", context)


@login_required
@require_GET
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_person_for_user(request.user, pk)
    record_view(request.user, person)
    return render(request, "registry/person_detail.html", {
        "person": person,
        "show_birth_date": user_can(request.user, BIRTH_DATE_ROLES),
        "parents": person.parent_links.select_related("parent"),
        "children": person.child_links.select_related("child"),
        "accounts": person.bank_accounts.all(),
        "cases": person.cases.select_related("program").order_by("-claim_year"),
        "household": person.household,
        "can_change": user_can(request.user, SUBMIT_ROLES) and person.moved_out_on is None,
        "pending_changes": person.change_requests.filter(status="submitted").count(),
        "handovers": person.handovers.all(),
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
            summary = importer.import_registry(
                request.user, read_upload(upload, importer.MAX_BYTES), upload.name or "")
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


@login_required
@require_GET
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """一户一档: the household's members and the whole timeline of what was done for them."""
    from huimin.cases.timeline import household_timeline

    household = get_household_for_user(request.user, pk)
    members = list(household.members.select_related("area").order_by("birth_date", "id"))
    AuditEvent.objects.bulk_create([
        event(request.user, "person.view", p, person_id=p.pk, area_code=p.area.code,
              via="household") for p in members])
    return render(request, "registry/household.html", {
        "household": household, "members": members,
        "timeline": household_timeline(household, members),
        "can_change": user_can(request.user, SUBMIT_ROLES),
    })


@login_required
@require_http_methods(["GET", "POST"])
def person_new(request: HttpRequest) -> HttpResponse:
    """登记人员: one person, with parents and an account, checked like an imported row."""
    require_role(request.user, actions.WRITE_ROLES)
    villages = list(
        Area.objects.filter(area_q(request.user, "code"), level="village").order_by("code"))
    context: dict[str, object] = {"villages": villages, "values": request.POST}
    if request.method == "POST":
        row = [request.POST.get(key, "").strip() for key in PERSON_FORM_FIELDS]
        try:  # a blank household number: a new household, numbered inside the write
            summary = importer.import_registry(request.user, importer.rows_to_csv([row]),
                                               "登记表单.csv", allow_new_household=True)
        except FileRejected as exc:
            context["errors"] = [f"{e.column}：{e.reason}" for e in exc.errors] or [exc.message]
            return render(request, "registry/person_new.html", context, status=400)
        except ActionError as exc:
            context["errors"] = [exc.message]
            return render(request, "registry/person_new.html", context, status=exc.status)
        person = persons_for(request.user).get(id_hash=id_hash(row[2].upper()))
        messages.success(request, f"已登记 {person.name}" + (
            "，并登记银行账户" if summary["accounts"] else ""))
        return redirect("registry:person", person.pk)
    return render(request, "registry/person_new.html", context)
