from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from huimin.accounts.access import batches_for, cases_for
from huimin.cases.states import WORKLIST, State


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The worklist: what waits for this user, oldest first, and counts by state."""
    cases = cases_for(request.user)
    waiting_states = WORKLIST.get(request.user.role, [])  # type: ignore[union-attr]
    waiting = cases.filter(state__in=waiting_states).order_by("created_at", "id")[:50]
    counts = {row["state"]: row["n"] for row in cases.values("state").annotate(n=Count("id"))}
    by_state = [(State(s).label, counts.get(s, 0), s) for s in State.values]
    return render(request, "home.html", {
        "waiting": waiting,
        "waiting_total": cases.filter(state__in=waiting_states).count(),
        "by_state": by_state,
        "batches": batches_for(request.user)[:5],
    })
