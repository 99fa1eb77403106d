"""The auditor's search of the audit log: by person, user, case and date."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from huimin.accounts.access import area_prefixes, require_role
from huimin.accounts.models import Role
from huimin.audit.events import ACTION_LABELS, BATCH_ACTIONS, record
from huimin.audit.models import AuditEvent
from huimin.registry.crypto import id_hash
from huimin.registry.models import Person

SEARCH_ROLES = (Role.AUDITOR,)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _case_id(value: str) -> int | None:
    """A case by number (2026-000123) or id."""
    digits = value.strip().split("-")[-1]
    return int(digits) if digits.isdigit() else None


def _batch_events(**lines: Any) -> Q:
    """The batch and return events that stand for the payment steps of the matching lines
    (one event per batch or return file, not one per case)."""
    from huimin.payments.models import PaymentLine

    batches = (PaymentLine.objects.filter(**lines).values_list("batch_id", flat=True)
               .distinct()[:1000])
    return Q(action__in=BATCH_ACTIONS, object_type="paymentbatch",
             object_id__in=[str(b) for b in batches])


def search_events(user: Any, params: Any) -> tuple[Any, list[str]]:
    errors: list[str] = []
    scope = Q()
    for p in area_prefixes(user):
        scope |= Q(area_code__startswith=p)
    qs = AuditEvent.objects.filter(scope if area_prefixes(user) else Q(pk__in=[]))
    person = params.get("person", "").strip()
    if person:
        if len(person) == 18:
            found = Person.objects.filter(id_hash=id_hash(person.upper())).first()
            ids = [found.pk if found else -1]
        elif person.isdigit():
            ids = [int(person)]
        else:
            ids = list(Person.objects.filter(name=person).values_list("pk", flat=True)[:200])
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
            errors.append(f"{'起始' if key == 'from' else '截止'}日期：格式应为 YYYY-MM-DD")
            continue
        if key == "to":
            day += timedelta(days=1)
        qs = qs.filter(**{f"at__{op}": datetime.combine(day, time.min, tzinfo=tz)})
    action = params.get("action", "").strip()
    if action:
        qs = qs.filter(action=action)
    return qs.select_related("actor").order_by("-at", "-id"), errors


@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    require_role(request.user, SEARCH_ROLES)
    qs, errors = search_events(request.user, request.GET)
    page = Paginator(qs, 100).get_page(request.GET.get("page"))
    for e in page:
        e.label = ACTION_LABELS.get(e.action, e.action)
    filters = {k: request.GET.get(k, "") for k in ("person", "user", "case", "from", "to",
                                                   "action")}
    if any(filters.values()):
        record(request.user, "audit.search", request.user,
               filters={k: v for k, v in filters.items() if v})
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return render(request, "audit/search.html", {
        "page": page, "errors": errors, "filters": filters, "query": query,
        "labels": ACTION_LABELS, "actions": sorted(ACTION_LABELS.items()),
    }, status=400 if errors else 200)
