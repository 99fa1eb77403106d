from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from huimin.accounts.access import batches_for, cases_for
from huimin.cases.actions import local_today
from huimin.cases.states import State
from huimin.cases.worklist import worklist


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The worklist: what waits for this user, oldest first, and counts by state."""
    cases = cases_for(request.user)
    work = worklist(request.user, local_today())
    counts = {row["state"]: row["n"] for row in cases.values("state").annotate(n=Count("id"))}
    by_state = [(State(s).label, counts.get(s, 0), s) for s in State.values]
    return render(request, "home.html", {
        "work": work,
        "waiting": [item.case for item in work.items],
        "waiting_total": work.total,
        "by_state": by_state,
        "batches": batches_for(request.user)[:5],
    })
