"""The decision letter (审核决定书) a family receives: what was decided, on which grounds in
plain words, by which office, and how to challenge it (复核, 行政复议 within 60 days, 行政诉讼
within 6 months)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.conf import settings
from django.http import Http404

from huimin.cases.models import Case, Outcome
from huimin.cases.reasons import reason_labels
from huimin.cases.states import State
from huimin.registry.models import Area

LETTER_STATES = (State.APPROVED, State.IN_PAYMENT, State.PAID, State.PAYMENT_FAILED,
                 State.REJECTED)

# 《中华人民共和国行政复议法》（2023 年修订）第二十条、第二十四条；《中华人民共和国行政诉讼法》
# 第四十六条、第十八条
RECONSIDERATION_DAYS = 60
LITIGATION_MONTHS = 6

_FACTS = re.compile(r"（([^（）]*)）$")


def plain(detail: str) -> str:
    """A criterion as the family reads it: the facts it used, without empty ones
    ("死亡日期：空") — an empty fact is not a fact about the family."""
    found = _FACTS.search(detail)
    if not found:
        return detail
    kept = [p for p in found.group(1).split("，") if p and not p.endswith("：空")]
    head = detail[:found.start()]
    return f"{head}（{'，'.join(kept)}）" if kept else head


def offices(area: Area) -> dict[str, str]:
    """The offices a village belongs to, by the names they sign with."""
    village = area
    township = village.parent or village
    county = township.parent or township
    return {"village": village.name, "township": f"{township.name}人民政府",
            "county_health": f"{county.name}卫生健康局",
            "county_government": f"{county.name}人民政府",
            "court": f"{county.name}人民法院"}


def _basis(case: Case, today: date) -> str:
    from huimin.errors import ActionError
    from huimin.programs import entitlement

    try:
        rules = entitlement.resolve(case.program.code, case.area.code, case.claim_year, today)
    except ActionError:  # a program whose document has been withdrawn since
        return ""
    return str(rules.main.basis)


def letter_context(case: Case, today: date) -> dict[str, Any]:
    wanted = Outcome.REJECTED if case.state == State.REJECTED else Outcome.APPROVED
    last = (case.decisions.filter(outcome=wanted).select_related("actor")
            .order_by("-at", "-id").first())
    if last is None or case.state not in LETTER_STATES:
        raise Http404("该案件尚无最终审核决定")
    names = offices(case.area)
    issuer = {"village": names["village"], "township": names["township"],
              "county": names["county_health"]}.get(last.level, names["county_health"])
    criteria = case.explanation.get("criteria", [])
    contact = getattr(settings, "HUIMIN_LETTER_CONTACT", "") or (
        f"{names['village']}、{names['township']}；政务服务便民热线 12345")
    return {
        "issuer": issuer, "offices": names, "contact": contact,
        "case": case, "decision": last, "approved": last.outcome == Outcome.APPROVED,
        "reasons": reason_labels(list(last.reason_codes)),
        "grounds": [plain(c["detail"]) for c in criteria if c["passed"]],
        "failing": [plain(c["detail"]) for c in criteria if not c["passed"]],
        "explanation": case.explanation, "basis": _basis(case, today),
        "rule_version": str(case.explanation.get("rule_version", "")).rpartition("@")[2],
        "village_level": last.level == "village",
        "reconsideration_days": RECONSIDERATION_DAYS, "litigation_months": LITIGATION_MONTHS,
        "today": today,
    }
