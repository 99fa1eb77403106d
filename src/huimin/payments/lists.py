"""The payment cycle and batch lists declared for :mod:`huimin.listing`. Neither holds
personal data (a cycle and a batch are counts and sums), so their exports have no
unmasked form."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet

from huimin.lib.money import format_yuan
from huimin.listing import Column, Filter, ListSpec, ParamError, Sort
from huimin.payments.models import BatchState, CycleState


def _programs(user: Any) -> list[tuple[str, str]]:
    from huimin.programs.models import Program

    return list(Program.objects.order_by("code").values_list("code", "name"))


_CYCLE = re.compile(r"(?:PC.*-)?(\d{1,9})", re.IGNORECASE)
_BATCH = re.compile(r"PB\d{4}(\d{5,9})|(\d{1,9})", re.IGNORECASE)


def _cycle_search(qs: QuerySet[Any], q: str) -> QuerySet[Any]:
    m = _CYCLE.fullmatch(q)
    if not m:
        raise ParamError("周期号：形如 PC2026-0003")
    return qs.filter(pk=int(m.group(1)))


def _batch_search(qs: QuerySet[Any], q: str) -> QuerySet[Any]:
    m = _BATCH.fullmatch(q)
    if not m:
        raise ParamError("批次号：形如 PB202600012")
    return qs.filter(pk=int(m.group(1) or m.group(2)))


CYCLES = ListSpec(
    name="cycles",
    title="发放周期",
    search_label="周期号",
    search=_cycle_search,
    filters=(
        Filter("program", "项目", "choice", "program__code", choices=_programs),
        Filter("state", "状态", "choice", "state", choices=lambda u: CycleState.choices),
        Filter("year", "年度", "year", "claim_year"),
        Filter("from", "截止日起", "date_from", "cut_off"),
        Filter("to", "截止日止", "date_to", "cut_off"),
    ),
    sorts=(
        Sort("-created", "建立时间（最新在前）", ("-created_at", "-id")),
        Sort("created", "建立时间（最早在前）", ("created_at", "id")),
        Sort("-payable", "应发金额（高到低）", ("-payable_fen", "-id")),
    ),
    default_sort="-created",
    columns=(
        Column("周期", lambda c: c.number),
        Column("项目", lambda c: c.program.name),
        Column("年度", lambda c: c.claim_year),
        Column("截止日", lambda c: c.cut_off),
        Column("应发人数", lambda c: c.payable_count),
        Column("应发金额（元）", lambda c: format_yuan(c.payable_fen)),
        Column("暂停人数", lambda c: c.held_count),
        Column("状态", lambda c: CycleState(c.state).label),
    ),
    only=("id", "period", "claim_year", "cut_off", "state", "payable_count", "payable_fen",
          "held_count", "created_at", "program__code", "program__name", "area__code",
          "area__name"),
)

BATCHES = ListSpec(
    name="batches",
    title="发放批次",
    search_label="批次号",
    search=_batch_search,
    filters=(
        Filter("program", "项目", "choice", "program__code", choices=_programs),
        Filter("state", "状态", "choice", "state", choices=lambda u: BatchState.choices),
        Filter("year", "年度", "year", "claim_year"),
        Filter("from", "生成日期起", "date_from", "created_at", is_datetime=True),
        Filter("to", "生成日期止", "date_to", "created_at", is_datetime=True),
    ),
    sorts=(
        Sort("-created", "生成时间（最新在前）", ("-created_at", "-id")),
        Sort("created", "生成时间（最早在前）", ("created_at", "id")),
        Sort("-total", "总金额（高到低）", ("-total_fen", "-id")),
    ),
    default_sort="-created",
    columns=(
        Column("批次号", lambda b: b.number),
        Column("周期", lambda b: b.cycle.number if b.cycle_id else ""),
        Column("项目", lambda b: b.program.name),
        Column("年度", lambda b: b.claim_year),
        Column("笔数", lambda b: b.line_count),
        Column("总金额（元）", lambda b: format_yuan(b.total_fen)),
        Column("状态", lambda b: b.state_label),
    ),
)
