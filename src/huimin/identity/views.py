"""The adjudication queue: open pairs, a pair side by side, decisions in a batch."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from huimin.accounts.access import require_role
from huimin.audit.events import record_reads
from huimin.errors import ActionError
from huimin.identity import actions
from huimin.identity.match.model import LABELS_ZH, LEVELS
from huimin.identity.models import PENDING, PairStatus

FIELDS = [("name", "姓名"), ("id_masked", "身份证号码"), ("sex", "性别"),
          ("birth_date", "出生日期"), ("area", "户籍地"), ("household", "户号")]
COMPARED = {"name": "name", "id_masked": "id", "sex": "sex", "birth_date": "birth",
            "area": "area"}


def _level_label(comparison: str, level: str) -> str:
    return dict(LEVELS[comparison]).get(level, level)


#: pairs, and claims, on one page of the queue (each paged on its own)
QUEUE_PAGE = 200


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    from django.core.paginator import Paginator

    require_role(request.user, actions.REVIEW_ROLES)
    pair_page = Paginator(actions.pairs_for(request.user).filter(status__in=PENDING),
                          QUEUE_PAGE).get_page(request.GET.get("page"))
    claim_page = Paginator(actions.claims_for(request.user).filter(status__in=PENDING)
                           .select_related("person__area"),
                           QUEUE_PAGE).get_page(request.GET.get("claims_page"))
    pairs, claims = list(pair_page), list(claim_page)
    record_reads(request.user, "identity.queue_view",
                 [p.person_a for p in pairs] + [p.person_b for p in pairs]
                 + [c.person for c in claims], via="web")
    for c in claims:
        c.status_label = actions.CLAIM_STATUS_LABELS[PairStatus(c.status)]  # type: ignore[attr-defined]
    return render(request, "identity/queue.html", {
        "pairs": pairs, "claims": claims, "pair_page": pair_page, "claim_page": claim_page,
        "may_decide_claims": getattr(request.user, "role", "") in set(actions.CLAIM_ROLES)})


@login_required
@require_POST
def decide_claim(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request.user, actions.CLAIM_ROLES)
    try:
        claim = actions.decide_claim(request.user, pk, request.POST.get("decision", ""),
                                     request.POST.get("reason", ""))
    except ActionError as exc:
        messages.error(request, f"未保存：{exc.message}")
        return redirect("identity:queue")
    messages.success(request, f"疑似重复申领 {claim.pk} 已裁定："
                              f"{actions.CLAIM_STATUS_LABELS[PairStatus(claim.status)]}")
    return redirect("identity:queue")


def _values(p: Any) -> dict[str, str]:
    return {"name": p.name, "id_masked": p.id_masked, "sex": p.get_sex_display(),
            "birth_date": p.birth_date.isoformat(), "area": p.area.full_name(),
            "household": p.household.number if p.household_id else "—"}


def _digits_apart(a: str, b: str) -> int:
    """How many places two identity numbers differ in (a different length counts whole):
    what the adjudicator needs of two masked numbers, without the digits."""
    if len(a) != len(b):
        return max(len(a), len(b))
    return sum(x != y for x, y in zip(a, b, strict=True))


@login_required
@require_GET
def pair_detail(request: HttpRequest, pk: int) -> HttpResponse:
    pair = actions.get_pair_for_user(request.user, pk)
    a, b = pair.person_a, pair.person_b
    va, vb = _values(a), _values(b)
    levels = {c["comparison"]: c for c in pair.comparisons}
    rows = []
    for key, label in FIELDS:
        comp = levels.get(COMPARED.get(key, ""), {})
        a_shown, b_shown, differs = va[key], vb[key], va[key] != vb[key]
        if key == "id_masked":  # the masks hide the middle: compare the numbers, show a count
            apart = _digits_apart(a.id_number, b.id_number)
            differs = apart > 0
            if differs and a_shown == b_shown:
                b_shown = f"{b_shown}（与左侧相差 {apart} 位）"
        rows.append({"label": label, "a": a_shown, "b": b_shown, "differs": differs,
                     "level": _level_label(comp["comparison"], comp["level"]) if comp else "",
                     "weight": comp.get("weight", "")})
    contributions = [{"label": LABELS_ZH[c["comparison"]],
                      "level": _level_label(c["comparison"], c["level"]),
                      "weight": c["weight"]} for c in pair.comparisons]
    record_reads(request.user, "person.view", [a, b], via="duplicate_pair", pair=pair.pk)
    return render(request, "identity/pair.html", {
        "pair": pair, "rows": rows, "contributions": contributions,
        "pending": pair.status in PENDING,
        "cases_a": a.cases.count(), "cases_b": b.cases.count()})


@login_required
@require_POST
def decide(request: HttpRequest) -> HttpResponse:
    require_role(request.user, actions.REVIEW_ROLES)
    chosen = request.POST.getlist("pair")
    decisions = []
    for raw in chosen:
        if not raw.isdigit():
            continue
        decisions.append(actions.Decision(
            pair_id=int(raw), decision=request.POST.get(f"decision_{raw}", ""),
            keep=request.POST.get(f"keep_{raw}", "a"),
            reason=request.POST.get(f"reason_{raw}", "") or request.POST.get("reason", "")))
    try:
        batch = actions.decide(request.user, decisions)
    except ActionError as exc:
        messages.error(request, f"未保存任何裁决：{exc.message}")
        nxt = request.POST.get("next", "")
        return redirect(nxt if nxt.startswith("/identity/") else "identity:queue")
    messages.success(request, f"已保存 {batch.size} 项裁决")
    return redirect("identity:queue")
