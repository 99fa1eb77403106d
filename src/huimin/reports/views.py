from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from huimin.accounts.access import cases_for
from huimin.cases.states import REVIEW_STATES, State
from huimin.registry.models import Area

#: 审核中: every case still in review — waiting for a level of its chain, or returned to the
#: applicant's village for correction (it comes back to the same review when resubmitted)
UNDER_REVIEW = sorted(REVIEW_STATES | {State.RETURNED})


@login_required
@require_GET
def summary(request: HttpRequest) -> HttpResponse:
    """Cases and amounts by township: counts per state, confirmed and paid totals."""
    cases = cases_for(request.user)
    rows = (
        cases.values("area__parent__code")
        .annotate(
            total=Count("id"),
            waiting=Count("id", filter=Q(state__in=UNDER_REVIEW)),
            rejected=Count("id", filter=Q(state=State.REJECTED)),
            paid=Count("id", filter=Q(state=State.PAID)),
            paid_fen=Sum("amount_fen", filter=Q(state=State.PAID)),
            approved_fen=Sum("amount_fen", filter=Q(state__in=[
                State.APPROVED, State.IN_PAYMENT, State.PAID, State.PAYMENT_FAILED])),
        )
        .order_by("area__parent__code")
    )
    names = dict(Area.objects.filter(code__in=[r["area__parent__code"] for r in rows])
                 .values_list("code", "name"))
    table = [{**r, "name": names.get(r["area__parent__code"], "")} for r in rows]
    return render(request, "reports/summary.html", {"rows": table})
