from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huimin.accounts.access import cases_for, get_case_for_user, persons_for, require_role
from huimin.cases import actions
from huimin.cases.models import Case
from huimin.cases.states import State, Transition, transitions_for
from huimin.errors import ActionError
from huimin.programs.entitlement import CHILDCARE
from huimin.programs.models import Program
from huimin.registry.crypto import id_hash


@login_required
@require_GET
def case_list(request: HttpRequest) -> HttpResponse:
    qs = cases_for(request.user).order_by("-created_at", "-id")
    state = request.GET.get("state", "")
    if state in State.values:
        qs = qs.filter(state=state)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "cases/list.html", {"page": page, "state": state,
                                               "states": State.choices})


@login_required
@require_http_methods(["GET", "POST"])
def case_new(request: HttpRequest) -> HttpResponse:
    require_role(request.user, actions.INTAKE_ROLES)
    today = actions.local_today()
    context: dict[str, object] = {"claim_year": today.year, "values": request.POST}
    if request.method == "POST":
        persons = persons_for(request.user)
        child_id = request.POST.get("child_id_number", "").strip().upper()
        applicant_id = request.POST.get("applicant_id_number", "").strip().upper()
        child = persons.filter(id_hash=id_hash(child_id)).first() if child_id else None
        applicant = persons.filter(id_hash=id_hash(applicant_id)).first() if applicant_id else None
        errors = []
        if child is None:
            errors.append("儿童身份证号码：在您管辖范围内未找到该儿童，请先登记")
        if applicant is None:
            errors.append("申请人身份证号码：在您管辖范围内未找到申请人")
        elif child is not None and not child.parent_links.filter(parent=applicant).exists():
            errors.append("申请人须为该儿童的父母或监护人")
        if not errors and child is not None and applicant is not None:
            account = applicant.bank_accounts.filter(active=True).order_by("id").first()
            try:
                case = actions.submit_application(
                    request.user, program=Program.objects.get(code=CHILDCARE), subject=child,
                    claim_year=today.year, applicant=applicant, bank_account=account,
                )
            except ActionError as exc:
                errors.append(exc.message)
            else:
                if case.eligible:
                    messages.success(request, f"已受理，案件号 {case.number}，待乡镇初审")
                else:
                    messages.warning(request, f"已受理，案件号 {case.number}；经核算不符合条件，"
                                              "乡镇初审时将作不予通过处理")
                return redirect("cases:detail", case.pk)
        context["errors"] = errors
        return render(request, "cases/new.html", context, status=400)
    return render(request, "cases/new.html", context)


@login_required
@require_GET
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk)
    available = transitions_for(case.state, request.user.role)  # type: ignore[union-attr]
    review = [t for t in available if t in (Transition.TOWNSHIP_APPROVE, Transition.COUNTY_APPROVE,
                                            Transition.TOWNSHIP_REJECT, Transition.COUNTY_REJECT)]
    return render(request, "cases/detail.html", {
        "case": case,
        "decisions": case.decisions.select_related("actor"),
        "criteria": case.explanation.get("criteria", []),
        "explanation": case.explanation,
        "actions": [(t, Transition(t).label) for t in review],
        "lines": case.payment_lines.select_related("batch").order_by("id"),
    })


REVIEW = {
    Transition.TOWNSHIP_APPROVE: (actions.township_review, True),
    Transition.TOWNSHIP_REJECT: (actions.township_review, False),
    Transition.COUNTY_APPROVE: (actions.county_confirm, True),
    Transition.COUNTY_REJECT: (actions.county_confirm, False),
}


@login_required
@require_POST
def case_act(request: HttpRequest, pk: int) -> HttpResponse:
    case: Case = get_case_for_user(request.user, pk)
    transition = request.POST.get("transition", "")
    if transition not in REVIEW:
        messages.error(request, "未知的操作")
        return HttpResponseRedirect(reverse("cases:detail", args=[case.pk]))
    fn, approve = REVIEW[Transition(transition)]
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = None
    comment = request.POST.get("comment", "")
    reasons = [r for r in request.POST.getlist("reason_codes") if r]
    try:
        fn(request.user, case, approve=approve, comment=comment, reason_codes=reasons,
           expected_version=version)
    except ActionError as exc:
        messages.error(request, exc.message)
        if exc.status == 403:
            return render(request, "cases/denied.html", {"case": case, "message": exc.message},
                          status=403)
    else:
        messages.success(request, f"已{Transition(transition).label}")
    return HttpResponseRedirect(reverse("cases:detail", args=[case.pk]))
