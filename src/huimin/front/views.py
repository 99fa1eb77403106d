from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from huimin.accounts.access import area_q, require_role
from huimin.audit.events import record_reads
from huimin.cases.actions import local_today
from huimin.cases.states import State
from huimin.cases.work import counted, in_state
from huimin.cases.worklist import worklist
from huimin.front.tiles import collect
from huimin.payments.models import NOT_PAID, LineStatus, PaymentLine
from huimin.payments.work import AREA_ROLES

#: the line filters of the area payments page
LINE_FILTERS = {"all": "全部", "unpaid": "失败或退回", LineStatus.PENDING: "待银行处理",
                LineStatus.PAID: "已支付"}


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The 工作台: tiles of what waits (each domain's ``work.py``), the cases waiting for this
    user oldest first, postings and objections, and the user's cases by state."""
    user: Any = request.user
    with counted(user):  # one count of the cases by state for the tiles and by_state
        work = worklist(user, local_today())
        tiles = collect(user)
        by_state = [(State(s).label, in_state(user, s), s) for s in State.values]
    return render(request, "front/home.html", {
        "tiles": tiles, "work": work, "by_state": by_state})


@login_required
@require_GET
def area_payments(request: HttpRequest) -> HttpResponse:
    """The payment lines of the cases in a village's or township's area, read only (the
    batches themselves are the county's)."""
    user: Any = request.user
    require_role(user, AREA_ROLES)
    status = request.GET.get("status", "all")
    if status not in LINE_FILTERS:
        status = "all"
    lines = (PaymentLine.objects.filter(area_q(user, "case__area__code"))
             .select_related("batch", "case", "case__subject", "case__subject__area",
                             "case__program", "case__area", "bank_account", "correction")
             .order_by("-batch_id", "seq"))
    if status == "unpaid":
        lines = lines.filter(status__in=NOT_PAID, correction__isnull=True)
    elif status != "all":
        lines = lines.filter(status=status)
    page = Paginator(lines, 50).get_page(request.GET.get("page"))
    record_reads(user, "person.list", [line.case.subject for line in page],
                 via="area_payments")
    return render(request, "front/area_payments.html", {
        "page": page, "status": status, "filters": LINE_FILTERS})
