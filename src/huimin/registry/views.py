from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huimin import listing
from huimin.accounts.access import (
    area_q,
    get_household_for_user,
    get_person_for_user,
    households_for,
    persons_for,
    require_role,
    user_can,
)
from huimin.accounts.models import Role
from huimin.audit.events import actor_area_code, event, record, record_reads, record_view
from huimin.audit.models import AuditEvent
from huimin.errors import ActionError, FileRejected
from huimin.lib.sheets import read_upload
from huimin.listing import ParamError
from huimin.registry import actions, importer, lists
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
    """人口登记: name, area, status … with GET (?q=); an identity number — whole or its last
    four — only by POST, so that no number is kept in a URL or a server log. Every person
    shown is a logged read."""
    by_id = request.method == "POST"
    params = request.POST if by_id else request.GET
    qs = persons_for(request.user)
    if not by_id:  # a number searched finds a merged record too, marked as merged
        qs = lists.on_register(qs, params)
    found: dict[str, Any] = {}
    id_error = ""
    if by_id:
        try:
            cond, found = lists.id_filter(request.user, request.POST.get("id_number", ""))
            qs = qs.filter(cond)
        except ParamError as exc:
            id_error = exc.message
            qs = qs.none()
    lst = listing.run(lists.PERSONS, request.user, qs, params)
    if id_error:
        lst.errors.insert(0, id_error)
    if by_id:
        record(request.user, "person.search", request.user,
               area_code=actor_area_code(request.user), by="id_number", **found,
               found=lst.count, via="web")
    elif lst.values.get("q"):
        record(request.user, "person.search", request.user,
               area_code=actor_area_code(request.user), by="name", q=lst.values["q"],
               found=lst.count, via="web")
    record_reads(request.user, "person.list", lst.rows, via="id_search" if by_id else "list",
                 q=lst.values.get("q", ""), page=lst.number)
    return render(request, "registry/person_list.html", {
        "lst": lst, "page": lst.rows, "by_id": by_id,
        "export_url": reverse("registry:persons_export"),
        "can_unmask": listing.may_unmask(lists.PERSONS, request.user),
    }, status=400 if lst.errors else 200)


@login_required
@require_POST
def person_export(request: HttpRequest) -> HttpResponse:
    """The person list as a workbook (masked; full numbers for the county approver)."""
    qs = lists.on_register(persons_for(request.user), request.POST).select_related(
        "household", "area__parent__parent")
    return listing.export_response(request, lists.PERSONS, qs, person=lambda p: p)  # type: ignore[no-any-return]


@login_required
@require_GET
def household_list(request: HttpRequest) -> HttpResponse:
    qs = households_for(request.user).select_related("head")
    lst = listing.run(lists.HOUSEHOLDS, request.user, qs, request.GET)
    return render(request, "registry/household_list.html", {
        "lst": lst, "export_url": reverse("registry:households_export"),
    }, status=400 if lst.errors else 200)


@login_required
@require_POST
def household_export(request: HttpRequest) -> HttpResponse:
    qs = households_for(request.user).select_related("head", "area__parent__parent")
    return listing.export_response(request, lists.HOUSEHOLDS, qs)  # type: ignore[no-any-return]


@login_required
@require_GET
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_person_for_user(request.user, pk)
    record_view(request.user, person)
    return render(request, "registry/person_detail.html", {
        "person": person, **_merges(request.user, person),
        "show_birth_date": user_can(request.user, BIRTH_DATE_ROLES),
        "parents": person.parent_links.select_related("parent"),
        "children": person.child_links.select_related("child"),
        "accounts": person.bank_accounts.all(),
        "cases": person.cases.select_related("program").order_by("-claim_year"),
        "household": person.household,
        "can_change": (user_can(request.user, SUBMIT_ROLES) and person.moved_out_on is None
                       and person.merged_into_id is None),
        "pending_changes": person.change_requests.filter(status="submitted").count(),
        "handovers": person.handovers.all(),
    })


def _merges(user: Any, person: Any) -> dict[str, Any]:
    """A merged record: where it went (the kept record, if the user's area holds it) and the
    merge; a kept record: the duplicates merged into it, each with its merge. Each record
    shown beside the person is a logged read."""
    from huimin.identity.models import PersonMerge

    out: dict[str, Any] = {}
    if person.merged_into_id is not None:
        out["merge_out"] = PersonMerge.objects.filter(drop=person).select_related(
            "actor", "pair").first()
        out["kept"] = persons_for(user).filter(pk=person.merged_into_id).first()
        if out["kept"] is not None:
            record_reads(user, "person.list", [out["kept"]], via="merged_into")
    dups = list(persons_for(user).filter(merged_into=person).order_by("pk"))
    if dups:
        by_drop = {m.drop_id: m for m in PersonMerge.objects.filter(
            drop__in=dups).select_related("actor", "pair")}
        out["merged_in"] = [(d, by_drop.get(d.pk)) for d in dups]
        record_reads(user, "person.list", dups, via="merged_records")
    return out


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
        villages = Area.objects.filter(area_q(request.user, "code"),
                                       level="village").order_by("code")
        resp = HttpResponse(
            importer.template_xlsx(list(villages)),
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


def household_choice_problem(number: str, new_household: bool) -> str:
    """The form joins a registered household (its number given) or starts one (新户 chosen,
    number left to the system); anything else is refused with the reason."""
    if new_household and number:
        return "户号：选择「新户」时户号由系统编号，请清空户号，或改选「加入已登记的户」"
    if not new_household and not number:
        return "户号：请填写已登记的户号，或选择「新户」"
    return ""


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
        new_household = request.POST.get("new_household") == "1"
        problem = household_choice_problem(row[0], new_household)
        if problem:
            context["errors"] = [problem]
            return render(request, "registry/person_new.html", context, status=400)
        try:  # 新户: a new household, numbered inside the write
            summary = importer.import_registry(request.user, importer.rows_to_csv([row]),
                                               "登记表单.csv", allow_new_household=new_household,
                                               known_households_only=True)
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
