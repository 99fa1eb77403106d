"""The case and notice lists declared for :mod:`huimin.listing`.

Index for the case list at scale (cases get no migration this round): ``(area, created_at,
id)`` for the default sort within an area, and ``(area, state, created_at, id)`` for the
common state filter; recorded in the report for the next round.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet

from huimin.accounts.models import Role
from huimin.cases.states import State
from huimin.lib.masking import age_label
from huimin.lib.money import format_yuan
from huimin.listing import Column, Filter, ListSpec, ParamError, Sort
from huimin.registry.search import name_contains

_CASE_NUMBER = re.compile(r"(?:\d{4}-)?(\d{1,9})")


def _programs(user: Any) -> list[tuple[str, str]]:
    from huimin.programs.models import Program

    return list(Program.objects.order_by("code").values_list("code", "name"))


def _case_search(qs: QuerySet[Any], q: str) -> QuerySet[Any]:
    """A case number (2026-000123, or its sequence) or the subject's name."""
    m = _CASE_NUMBER.fullmatch(q)
    if m:
        return qs.filter(pk=int(m.group(1)))
    if any(ch.isdigit() for ch in q):
        raise ParamError("案件号或姓名：案件号形如 2026-000123；姓名不含数字"
                         "（身份证号码不能放在网址中）")
    return name_contains(qs, q, "subject__name")


def _payment_stage(user: Any) -> list[tuple[str, str]]:
    return [("unfrozen", "未纳入发放周期"), ("frozen", "已纳入发放周期")]


def _payment_q(value: str) -> Any:
    """A case frozen in a payment cycle has its entitlement (one a case)."""
    from django.db.models import Q

    return Q(entitlement__isnull=value == "unfrozen")


def _today() -> Any:
    from django.utils import timezone

    return timezone.localdate()


CASES = ListSpec(
    name="cases",
    title="案件",
    search_label="案件号或补贴对象姓名",
    search=_case_search,
    filters=(
        Filter("area", "区域", "area", "area__code"),
        Filter("program", "项目", "choice", "program__code", choices=_programs),
        Filter("state", "状态", "choice", "state", choices=lambda u: State.choices),
        Filter("year", "申领年度", "year", "claim_year"),
        Filter("payment", "发放周期", "choice", "", choices=_payment_stage,
               q=_payment_q),
        Filter("from", "受理日期起", "date_from", "created_at", is_datetime=True),
        Filter("to", "受理日期止", "date_to", "created_at", is_datetime=True),
    ),
    sorts=(
        Sort("-created", "受理时间（最新在前）", ("-created_at", "-id")),
        Sort("created", "受理时间（最早在前）", ("created_at", "id")),
        Sort("area", "户籍地", ("area__code", "-created_at", "-id")),
        Sort("-amount", "金额（高到低）", ("-amount_fen", "-id")),
    ),
    default_sort="-created",
    columns=(
        Column("案件号", lambda c: c.number),
        Column("项目", lambda c: c.program.name),
        Column("补贴对象", lambda c: c.subject.name),
        Column("身份证号码", lambda c: c.subject.id_masked, lambda c: c.subject.id_number),
        Column("年龄", lambda c: age_label(c.subject.birth_date, _today())),
        Column("户籍地", lambda c: c.area.name),
        Column("申领年度", lambda c: c.claim_year),
        Column("金额（元）", lambda c: format_yuan(c.amount_fen)),
        Column("状态", lambda c: c.state_label),
    ),
    # the explanation and the facts (JSON) are not read for a list page; the review chain
    # (a short list) names the step a case waits for
    only=("id", "claim_year", "state", "level", "review_chain", "amount_fen", "created_at",
          "program__code", "program__name", "subject__name", "subject__id_masked",
          "subject__birth_date", "area__code", "area__name", "subject__area",
          "applicant__name"),
    #: the county approver and the finance officer check payees against bank and civil data
    unmask_roles=frozenset({Role.COUNTY_APPROVER, Role.FINANCE_OFFICER}),
)


def _notice_state(user: Any) -> list[tuple[str, str]]:
    return [("running", "公示中"), ("ended", "已结束"), ("future", "未开始")]


def _notice_q(value: str) -> Any:
    from django.db.models import Q

    today = _today()
    return {"running": Q(start_on__lte=today, end_on__gte=today),
            "ended": Q(end_on__lt=today), "future": Q(start_on__gt=today)}[value]


_NOTICE_NUMBER = re.compile(r"(?:GS\d{4}-)?(\d{1,9})", re.IGNORECASE)


def _notice_search(qs: QuerySet[Any], q: str) -> QuerySet[Any]:
    m = _NOTICE_NUMBER.fullmatch(q)
    if not m:
        raise ParamError("公示编号：形如 GS2026-00012")
    return qs.filter(pk=int(m.group(1)))


NOTICES = ListSpec(
    name="notices",
    title="公示",
    search_label="公示编号",
    search=_notice_search,
    filters=(
        Filter("area", "区域", "area", "area__code"),
        Filter("program", "项目", "choice", "program__code", choices=_programs),
        Filter("state", "状态", "choice", "", choices=_notice_state, q=lambda v: _notice_q(v)),
        Filter("from", "公示开始日起", "date_from", "start_on"),
        Filter("to", "公示开始日止", "date_to", "start_on"),
    ),
    sorts=(
        Sort("-start", "公示开始（最新在前）", ("-start_on", "-id")),
        Sort("start", "公示开始（最早在前）", ("start_on", "id")),
    ),
    default_sort="-start",
    columns=(
        Column("编号", lambda n: n.number),
        Column("标题", lambda n: n.title),
        Column("公示开始", lambda n: n.start_on),
        Column("公示结束", lambda n: n.end_on),
        Column("人数", lambda n: getattr(n, "n", "")),
    ),
)
