"""What waits for a user, oldest first, with warnings before deadlines lapse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet

from huimin.accounts.access import cases_for
from huimin.cases.models import Case, Objection, ObjectionStatus
from huimin.cases.states import LEVEL_OF_ROLE, WORKLIST
from huimin.lib.calendar import working_days_between


def warn_days() -> int:
    return int(getattr(settings, "DEADLINE_WARNING_WORKING_DAYS", 3))


@dataclass(frozen=True)
class Deadline:
    due_on: date | None
    status: str  # "", "warning", "overdue"
    text: str


def deadline(case: Case, today: date) -> Deadline:
    if case.due_on is None or not case.awaiting_role:
        return Deadline(None, "", "")
    if today > case.due_on:
        late = working_days_between(case.due_on, today)
        return Deadline(case.due_on, "overdue", f"已逾期 {late} 个工作日")
    left = working_days_between(today, case.due_on)
    if left <= warn_days():
        return Deadline(case.due_on, "warning", f"还剩 {left} 个工作日到期")
    return Deadline(case.due_on, "", f"还剩 {left} 个工作日")


@dataclass
class Item:
    case: Case
    deadline: Deadline


def waiting(user: Any, today: date) -> QuerySet[Case]:
    """Cases the user's role may act on now, in the user's areas, oldest first."""
    qs = cases_for(user)
    role = getattr(user, "role", "")
    if role in WORKLIST:
        return qs.filter(state__in=WORKLIST[role]).order_by("updated_at", "id")
    return (qs.filter(awaiting_role=role, ready_on__lte=today)
            .order_by("ready_on", "created_at", "id"))


@dataclass
class Worklist:
    items: list[Item]
    total: int
    in_posting: int
    to_post: list[dict[str, Any]]
    objections: list[Objection]


def worklist(user: Any, today: date, limit: int = 50) -> Worklist:
    qs = waiting(user, today)
    # the explanation and the facts (JSON, most of a case row) are not shown in the list
    items = [Item(c, deadline(c, today)) for c in qs.defer("explanation", "facts")[:limit]]
    role = getattr(user, "role", "")
    level = LEVEL_OF_ROLE.get(role)
    cases = cases_for(user)
    in_posting = cases.filter(awaiting_role=role, ready_on__gt=today).count() if level else 0
    to_post: list[dict[str, Any]] = []
    objections: list[Objection] = []
    if level:
        rows = (cases.filter(pending_posting=level).values("program__code", "program__name")
                .annotate(n=Count("id")).order_by("program__code"))
        to_post = [dict(r) for r in rows]
        objections = list(
            Objection.objects.filter(case__in=cases.values("pk"), entry__notice__level=level,
                                     status=ObjectionStatus.OPEN)
            .select_related("case__subject", "entry__notice").order_by("created_at", "id"))
    if role in WORKLIST:  # cases in given states: the count by state the home page shares
        from huimin.cases.work import in_state

        total = sum(in_state(user, s) for s in WORKLIST[role])
    else:
        total = qs.count()
    return Worklist(items, total, in_posting, to_post, objections)
