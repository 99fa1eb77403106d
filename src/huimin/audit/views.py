"""The auditor's search of the audit log: by person, user, case and date."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from huimin import listing
from huimin.accounts.access import area_prefixes, require_role
from huimin.accounts.models import Role
from huimin.audit.events import ACTION_LABELS, BATCH_ACTIONS, actor_area_code, record
from huimin.audit.models import AuditEvent
from huimin.errors import ActionError
from huimin.lib.masking import mask_id_number
from huimin.listing import Column, Filter, ListSpec, Sort
from huimin.registry.crypto import id_hash
from huimin.registry.models import Person
from huimin.registry.search import looks_like_id, normalise_id

SEARCH_ROLES = (Role.AUDITOR,)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


_ASCII_NUMBER = re.compile(r"[0-9]{1,12}")


def _case_id(value: str) -> int | None:
    """A case by number (2026-000123) or id: ASCII digits only, at most 12 of them."""
    digits = value.strip().split("-")[-1]
    return int(digits) if _ASCII_NUMBER.fullmatch(digits) else None


PERSON_HELP = "人员：请输入身份证号码（18 位）、姓名或人员编号（不超过 12 位数字）"


def _person_ids(person: str, *, in_url: bool, errors: list[str]) -> list[int] | None:
    """The persons a filter names; None (with an error) if it cannot name any. An identity
    number is accepted only from a form's body, never from a URL."""
    if _ASCII_NUMBER.fullmatch(person):
        return [int(person)]
    if any(ch.isdigit() for ch in person):
        if not looks_like_id(person):
            errors.append(PERSON_HELP)
            return None
        if in_url:
            errors.append("人员：身份证号码不能放在网址中，请在查询表单中填写后提交")
            return None
        try:
            number = normalise_id(person)
        except ActionError:
            errors.append(PERSON_HELP)
            return None
        found = Person.objects.filter(id_hash=id_hash(number)).first()
        return [found.pk if found else -1]
    return list(Person.objects.filter(name=person).values_list("pk", flat=True)[:200])


def _filters_for_log(filters: dict[str, str]) -> dict[str, str]:
    """The filters as kept in the audit row: an identity number only as its mask and keyed
    hash."""
    out = {k: v for k, v in filters.items() if v}
    person = out.get("person", "")
    if person and looks_like_id(person):
        try:
            number = normalise_id(person)
        except ActionError:
            out["person"] = mask_id_number(person.strip())
        else:
            out["person"] = mask_id_number(number)
            out["person_id_hash"] = id_hash(number)
    return out


def _batch_events(**lines: Any) -> Q:
    """The batch and return events that stand for the payment steps of the matching lines
    (one event per batch or return file, not one per case)."""
    from huimin.payments.models import PaymentLine

    batches = (PaymentLine.objects.filter(**lines).values_list("batch_id", flat=True)
               .distinct()[:1000])
    return Q(action__in=BATCH_ACTIONS, object_type="paymentbatch",
             object_id__in=[str(b) for b in batches])


def _prefix_range(prefix: str) -> Q:
    """Codes starting with ``prefix`` (digits) as a range, which a plain b-tree index on
    ``area_code`` serves in any collation (``LIKE 'p%'`` needs the C collation)."""
    if prefix and prefix.isascii() and prefix.isdigit() and set(prefix) != {"9"}:
        upper = str(int(prefix) + 1).zfill(len(prefix))
        return Q(area_code__gte=prefix, area_code__lt=upper)
    return Q(area_code__startswith=prefix)


def area_scope(user: Any) -> Q:
    """The events of the user's areas (by the events' ``area_code``)."""
    prefixes = area_prefixes(user)
    if not prefixes:
        return Q(pk__in=[])
    scope = Q()
    for p in prefixes:
        scope |= _prefix_range(p)
    return scope


AUDIT = ListSpec(
    name="audit",
    title="审计日志",
    filters=(Filter("area", "区域", "area", "area_code"),),
    sorts=(Sort("-at", "时间（最新在前）", ("-at", "-id")),
           Sort("at", "时间（最早在前）", ("at", "id"))),
    default_sort="-at",
    per_page=100,
    columns=(
        Column("时间", lambda e: timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M:%S")),
        Column("操作人", lambda e: str(e.actor) if e.actor_id else "系统"),
        Column("操作", lambda e: ACTION_LABELS.get(e.action, e.action)),
        Column("对象", lambda e: f"{e.object_type}#{e.object_id}"),
        Column("人员编号", lambda e: e.person_id or ""),
        Column("案件", lambda e: e.case_id or ""),
        Column("区划", lambda e: e.area_code),
        Column("内容", lambda e: json.dumps(e.data, ensure_ascii=False)),
    ),
)


def search_events(user: Any, params: Any, *, in_url: bool = False) -> tuple[Any, list[str]]:
    errors: list[str] = []
    qs = AuditEvent.objects.filter(area_scope(user))
    person = params.get("person", "").strip()
    if person:
        ids = _person_ids(person, in_url=in_url, errors=errors) or [-1]
        qs = qs.filter(Q(person_id__in=ids) | _batch_events(case__subject_id__in=ids))
    actor = params.get("user", "").strip()
    if actor:
        qs = qs.filter(Q(actor__username=actor) | Q(actor__display_name=actor))
    case = params.get("case", "").strip()
    if case:
        case_id = _case_id(case)
        if case_id is None:
            errors.append("案件：请输入案件号（如 2026-000123）")
        case_id = case_id if case_id is not None else -1
        qs = qs.filter(Q(case_id=case_id) | _batch_events(case_id=case_id))
    tz = timezone.get_current_timezone()
    for key, op in (("from", "gte"), ("to", "lt")):
        raw = params.get(key, "").strip()
        if not raw:
            continue
        day = _day(raw)
        if day is None:
            errors.append(f"{'起始' if key == 'from' else '截止'}日期：「{raw[:20]}」不是有效日期，"
                          "格式应为 YYYY-MM-DD")
            continue
        if key == "to":
            day += timedelta(days=1)
        qs = qs.filter(**{f"at__{op}": datetime.combine(day, time.min, tzinfo=tz)})
    action = params.get("action", "").strip()
    if action:
        qs = qs.filter(action=action)
    return qs.select_related("actor").order_by("-at", "-id"), errors


FILTERS = ("person", "user", "case", "from", "to", "action")


@login_required
@require_http_methods(["GET", "POST"])
def search(request: HttpRequest) -> HttpResponse:
    """The form posts (an identity number stays out of the URL); GET links with filters
    other than an identity number keep working."""
    require_role(request.user, SEARCH_ROLES)
    posted = request.method == "POST"
    params = request.POST if posted else request.GET
    qs, errors = search_events(request.user, params, in_url=not posted)
    lst = listing.run(AUDIT, request.user, qs, params)
    errors += lst.errors
    for e in lst.rows:
        e.label = ACTION_LABELS.get(e.action, e.action)
    filters = {k: params.get(k, "").strip() for k in FILTERS}
    filters.update({k: v for k, v in lst.values.items() if k in ("area", "sort")})
    if any(filters.values()):
        record(request.user, "audit.search", request.user,
               area_code=actor_area_code(request.user), filters=_filters_for_log(filters))
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(request, "audit/search.html", {
        "page": lst.rows, "lst": lst, "errors": errors, "filters": filters, "query": query,
        "posted": posted,
        "labels": ACTION_LABELS, "actions": sorted(ACTION_LABELS.items()),
        "export_url": reverse("audit:export"),
    }, status=400 if errors else 200)


@login_required
@require_POST
def export(request: HttpRequest) -> HttpResponse:
    """The events found (as the search form has them) as a workbook; the auditor's only.
    Events keep identity numbers only as masks and keyed hashes: nothing to unmask."""
    require_role(request.user, SEARCH_ROLES)
    qs, errors = search_events(request.user, request.POST, in_url=False)
    if errors:
        return HttpResponse("；".join(errors), status=400,
                            content_type="text/plain; charset=utf-8")
    filters = {k: request.POST.get(k, "").strip() for k in FILTERS}
    return listing.export_response(  # type: ignore[no-any-return]
        request, AUDIT, qs.select_related("actor"), log_filters=_filters_for_log(filters))
