"""What waits for a user in cases: review at the user's level, corrections, postings,
objections, payment of approved cases (tiles of the home page, see ``huimin.front.tiles``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count
from django.urls import reverse

from huimin.accounts.access import cases_for
from huimin.accounts.models import Role
from huimin.cases.actions import INTAKE_ROLES, local_today
from huimin.cases.models import Objection, ObjectionStatus
from huimin.cases.states import LEVEL_LABELS, LEVEL_OF_ROLE, REVIEW_STATES, State
from huimin.front.tiles import Tile


def case_list(**params: str) -> str:
    """The case list filtered as its view reads the query today (state, program)."""
    url = reverse("cases:list")
    return f"{url}?{urlencode(params)}" if params else url


def state_counts(user: Any) -> dict[tuple[str, str], int]:
    """The user's cases counted by program code and state: one scan of the cases in scope.

    The home page asks once (:func:`counted`) and its tiles and its cases-by-state read the
    same counts: each exact count of a state was a scan of every case in the user's areas
    (the state is deliberately in no index, see cases migration 0004)."""
    cached: dict[tuple[str, str], int] | None = getattr(user, "_case_state_counts", None)
    if cached is not None:
        return cached
    return {(row["program__code"], row["state"]): row["n"]
            for row in cases_for(user).values("program__code", "state").annotate(n=Count("id"))}


def in_state(user: Any, state: str, program: str | None = None) -> int:
    """How many of the user's cases are in ``state`` (of ``program``, if given)."""
    return sum(n for (p, s), n in state_counts(user).items()
               if s == state and (program is None or p == program))


@contextmanager
def counted(user: Any) -> Iterator[dict[tuple[str, str], int]]:
    """Within the block the user's case counts by program and state are taken once and
    read by every tile (a home page's request; the counts are not kept beyond it)."""
    user._case_state_counts = state_counts(user)
    try:
        yield user._case_state_counts
    finally:
        del user._case_state_counts


def _review(user: Any, level: str) -> list[Tile]:
    """One tile per program and state in which cases wait for the user's level; the count is
    the case list's rows for that program and state."""
    today = local_today()
    mine = cases_for(user).filter(awaiting_role=user.role, state__in=REVIEW_STATES)
    groups = list(mine.values("program__code", "program__name", "state")
                  .annotate(n=Count("id")).order_by("program__code", "state"))
    label = f"待{LEVEL_LABELS[level]}审核"
    if not groups:
        return [Tile("cases.review", label, 0, reverse("home") + "#worklist",
                     note="暂无待审核案件")]
    tiles = []
    for g in groups:
        later = (mine.filter(program__code=g["program__code"], state=g["state"])
                 .exclude(ready_on__lte=today).count())  # in a posting, or one to come
        overdue = mine.filter(program__code=g["program__code"], state=g["state"],
                              ready_on__lte=today, due_on__lt=today).count()
        notes = []
        if later:
            notes.append(f"其中 {later} 件公示中或待公示")
        if overdue:
            notes.append(f"{overdue} 件已逾期")
        tiles.append(Tile(
            f"cases.review.{g['program__code']}.{g['state']}",
            f"{label} · {g['program__name']}", in_state(user, g["state"], g["program__code"]),
            case_list(state=g["state"], program=g["program__code"]),
            note="，".join(notes), tone="overdue" if overdue else ""))
    return tiles


def _postings(user: Any, level: str) -> list[Tile]:
    cases = cases_for(user)
    tiles = []
    to_post = cases.filter(pending_posting=level).count()
    if to_post:
        tiles.append(Tile("cases.to_post", "待发布公示", to_post, reverse("notices:new"),
                          note="审核通过、待张榜公示的案件"))
    objections = Objection.objects.filter(case__in=cases.values("pk"), entry__notice__level=level,
                                          status=ObjectionStatus.OPEN).count()
    tiles.append(Tile("cases.objections", "待核实的公示异议", objections,
                      reverse("home") + "#objections"))
    return tiles


def pending(user: Any) -> list[Tile]:
    role = getattr(user, "role", "")
    if not getattr(user, "is_authenticated", False):
        return []
    cases = cases_for(user)
    tiles: list[Tile] = []
    level = LEVEL_OF_ROLE.get(role)
    if level:
        tiles += _review(user, level)
    if role in INTAKE_ROLES:
        tiles.append(Tile("cases.returned", "退回补正", in_state(user, State.RETURNED),
                          case_list(state=State.RETURNED), note="补正材料后重新提交"))
    if level:
        tiles += _postings(user, level)
    if role == Role.COUNTY_APPROVER:
        tiles.append(Tile("cases.suspended", "暂停发放待复核",
                          in_state(user, State.SUSPENDED),
                          case_list(state=State.SUSPENDED),
                          note="复核后恢复发放或终止发放"))
    if role == Role.FINANCE_OFFICER:
        tiles.append(Tile("cases.to_freeze", "已确认，待纳入发放周期",
                          cases.filter(state=State.APPROVED, entitlement__isnull=True).count(),
                          case_list(state=State.APPROVED, payment="unfrozen"),
                          note="在「发放」中建立或补充冻结发放周期"))
        tiles.append(Tile("cases.approved", "已确认，待发放",
                          in_state(user, State.APPROVED),
                          case_list(state=State.APPROVED), note="待冻结入发放周期或生成批次"))
        tiles.append(Tile("cases.failed", "发放失败待重发",
                          in_state(user, State.PAYMENT_FAILED),
                          case_list(state=State.PAYMENT_FAILED), note="核实更正账户后纳入新批次"))
    if role in (Role.AUDITOR, Role.ADMIN):
        tiles.append(Tile("cases.all", "可查阅的案件", sum(state_counts(user).values()),
                          case_list()))
    return tiles
