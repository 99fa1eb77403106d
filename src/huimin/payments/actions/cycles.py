"""Freezing a payment cycle (冻结应发): one entitlement per approved case, or held back."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.cases.models import Case
from huimin.cases.states import State
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.payments import ledger, sql
from huimin.payments.actions._common import (
    T_ACCOUNT,
    T_AREA,
    T_CASE,
    T_ENT,
    T_PERSON,
    A,
    _lock_cycle,
    _now,
    _require,
)
from huimin.payments.models import (
    CycleState,
    Entitlement,
    EntitlementStatus,
    HeldReason,
    PaymentCycle,
)
from huimin.programs.models import Program

#: identity's duplicate claims (table and statuses still waiting for a decision, as
#: ``identity.models.PENDING``); read here by name so payments does not import identity
T_CLAIM = "identity_duplicateclaim"
CLAIM_PENDING = "('open', 'field_check')"

FIRST_CLAIM_YEAR = 2000
# a period: the year, or the year with a quarter, half or month (2026, 2026-Q2, 2026-H1, 2026-06)
PERIOD_RE = re.compile(r"(\d{4})(?:-(?:Q[1-4]|H[12]|0[1-9]|1[0-2]))?")


def check_cycle(claim_year: int, period: str, cut_off: date | None,
                today: date) -> tuple[str, date]:
    """The period and cut-off of a cycle to build, or ActionError naming the field.

    The claim year lies in 2000 … next year; the period is the year, or the year with a
    quarter, half or month (``2026``, ``2026-Q2``, ``2026-H1``, ``2026-06``) in the claim
    year or the year after (arrears are paid the next year); the cut-off (default today)
    lies between 1 January of the claim year and 31 December of the year after."""
    if isinstance(claim_year, bool) or not isinstance(claim_year, int) or not (
            FIRST_CLAIM_YEAR <= claim_year <= today.year + 1):
        raise ActionError(f"年度：须在 {FIRST_CLAIM_YEAR}–{today.year + 1} 之间")
    period = (period or str(claim_year)).strip()
    m = PERIOD_RE.fullmatch(period)
    if m is None or not claim_year <= int(m.group(1)) <= claim_year + 1:
        raise ActionError(f"发放期：「{period[:20]}」应为年度或年度加季、半年、月，如 "
                          f"{claim_year}、{claim_year}-Q2、{claim_year}-H1、{claim_year}-06"
                          f"（年份为 {claim_year} 或 {claim_year + 1}）")
    cut_off = cut_off or today
    first, last = date(claim_year, 1, 1), date(claim_year + 1, 12, 31)
    if not first <= cut_off <= last:
        raise ActionError(f"截止日：须在 {first.isoformat()} 至 {last.isoformat()} 之间")
    return period, cut_off


def check_cycle_form(program: Program, area: Any, claim_year: int, period: str,
                     given_cut_off: date | None, cut_off: date) -> date:
    """The cut-off a build honours, or ActionError: building an existing cycle again keeps
    its cut-off (a different one is refused), and a new cycle needs at least one approved
    case of the area not yet frozen — an empty cycle is never created."""
    existing = PaymentCycle.objects.filter(program=program, area=area, period=period).first()
    if existing is not None:
        if given_cut_off is not None and given_cut_off != existing.cut_off:
            raise ActionError(f"截止日：发放周期 {existing.number} 的截止日为 "
                              f"{existing.cut_off.isoformat()}，补充冻结须使用同一截止日"
                              "（可留空）；另定截止日请另建发放期")
        return existing.cut_off
    waiting = Case.objects.filter(program=program, claim_year=claim_year,
                                  state=State.APPROVED, area__code__startswith=area.prefix,
                                  entitlement__isnull=True)
    if not waiting.exists():
        raise ActionError(f"发放周期：{area.name}{claim_year} 年度{program.name}没有尚未纳入"
                          "发放的已批准案件，未建立空的发放周期")
    return cut_off


@transaction.atomic
def build_cycle(actor: Any, *, program: Program, claim_year: int, period: str = "",
                cut_off: date | None = None) -> PaymentCycle:
    """Freeze the entitlements of every approved case of the actor's area not yet frozen.

    A new cycle is created for (program, area, period) if there is none; building it again
    adds cases approved since, and never touches what was frozen. A subject who died on or
    before the cut-off, moved out of the area, lost eligibility or has no valid account is
    held back with the reason.
    """
    _require(actor, Role.FINANCE_OFFICER, "建立发放周期")
    area = actor.areas.order_by("code").first()
    if area is None:
        raise Forbidden("您没有分配管辖区域")
    now = _now()
    given_cut_off = cut_off
    period, cut_off = check_cycle(claim_year, period, cut_off, timezone.localdate(now))
    cut_off = check_cycle_form(program, area, claim_year, period, given_cut_off, cut_off)
    try:
        with transaction.atomic():
            cycle, created = PaymentCycle.objects.get_or_create(
                program=program, area=area, period=period,
                defaults={"claim_year": claim_year, "cut_off": cut_off, "created_by": actor})
    except IntegrityError:
        raise Conflict("该发放周期正在由他人建立，请稍后再试") from None
    cycle = _lock_cycle(cycle.pk)
    if cycle.claim_year != claim_year:
        raise Conflict(f"发放期 {period} 已用于 {cycle.claim_year} 年度")
    if cycle.state != CycleState.OPEN:
        raise Conflict(f"发放周期 {cycle.number} 已结束")
    prefix = area.prefix
    sql.set_based()
    before = (_cycle_totals(cycle) if not created else
              {"payable_count": 0, "payable_fen": 0, "held_count": 0, "held_fen": 0})
    held, held_params = _held_reason(prefix, cut_off)
    # Held for want of an account: the reason is found again against the cycle's cut-off
    # (a death or a move out registered since, on or before the cut-off, holds it still,
    # with that reason); none left and the case has a valid account now: payable from this
    # build, paid into that account.
    rechecked = sql.execute(
        f"""UPDATE {T_ENT} SET held_reason = (
                SELECT {held} FROM {T_CASE} c JOIN {T_PERSON} p ON p.id = c.subject_id
                JOIN {T_AREA} pa ON pa.id = p.area_id
                LEFT JOIN {T_ACCOUNT} ba ON ba.id = c.bank_account_id
                WHERE c.id = {T_ENT}.case_id)
            WHERE cycle_id = %s AND status = '{EntitlementStatus.HELD}'
              AND held_reason = '{HeldReason.NO_ACCOUNT}'
              AND EXISTS (SELECT 1 FROM {T_CASE} c WHERE c.id = {T_ENT}.case_id
                          AND c.state = '{State.APPROVED}')""",
        [*held_params, cycle.pk])
    if rechecked:
        sql.execute(
            f"""UPDATE {T_ENT} SET status = '{EntitlementStatus.PAYABLE}',
                    bank_account_id = (SELECT c.bank_account_id FROM {T_CASE} c
                                       WHERE c.id = {T_ENT}.case_id)
                WHERE cycle_id = %s AND status = '{EntitlementStatus.HELD}'
                  AND held_reason = ''""",
            [cycle.pk])
        note, note_params = _held_note(f"{T_ENT}.held_reason", "p.death_date",
                                       "p.moved_out_on", cut_off)
        sql.execute(
            f"""UPDATE {T_ENT} SET held_note = (
                    SELECT {note} FROM {T_CASE} c JOIN {T_PERSON} p ON p.id = c.subject_id
                    WHERE c.id = {T_ENT}.case_id)
                WHERE cycle_id = %s AND status = '{EntitlementStatus.HELD}'
                  AND held_note = ''
                  AND held_reason IN ('{HeldReason.DIED}', '{HeldReason.MOVED}')""",
            [*note_params, cycle.pk])
    with sql.no_rescans():
        inserted = _freeze(cycle, program, claim_year, prefix, (held, held_params), now,
                           cut_off)
    sql.analyze(T_ENT, inserted)
    stats = _cycle_totals(cycle)
    new_fen = stats["payable_fen"] - before["payable_fen"]
    new_count = stats["payable_count"] - before["payable_count"]
    versions = sorted({v for v in Entitlement.objects.filter(cycle=cycle).order_by()
                       .values_list("rule_version", flat=True).distinct() if v})
    PaymentCycle.objects.filter(pk=cycle.pk).update(built_at=now, rule_versions=versions,
                                                    **stats)
    ledger.post(cycle=cycle, kind="freeze", memo=f"{cycle.number} 冻结应发 {new_count} 人",
                actor=actor, at=now, moves=[(A.PAYABLE, A.ALLOCATION, int(new_fen))])
    # one event for the whole build; each case's part is its entitlement (frozen_at = the
    # event's time), shown in the case's history by cases.timeline
    held_now = dict(sql.fetchall(
        f"""SELECT held_reason, COUNT(*) FROM {T_ENT}
            WHERE cycle_id = %s AND frozen_at = %s AND status = '{EntitlementStatus.HELD}'
            GROUP BY held_reason ORDER BY held_reason""", [cycle.pk, sql.ts(now)]))
    record(actor, "cycle.build", cycle, area_code=area.code, cycle=cycle.pk,
           amount_fen=int(new_fen), frozen=inserted, payable=int(new_count),
           held={str(k): int(v) for k, v in held_now.items()}, rechecked=rechecked,
           cut_off=cut_off.isoformat(), created=created, at=now.isoformat())
    cycle.refresh_from_db()
    return cycle


def _held_reason(prefix: str, cut_off: date) -> tuple[str, list[Any]]:
    """SQL for why the case ``c`` of subject ``p`` (area ``pa``, account ``ba``) is held
    back in a cycle of the area ``prefix`` with this cut-off, or '' if it is payable: the
    subject died or moved out of the county on or before the cut-off (after it, the period
    is still due), lives outside the area, lost eligibility, has a duplicate claim waiting,
    or has no valid account."""
    return (
        f"CASE WHEN p.death_date IS NOT NULL AND p.death_date <= %s THEN '{HeldReason.DIED}' "
        f"WHEN p.moved_out_on IS NOT NULL AND p.moved_out_on <= %s THEN '{HeldReason.MOVED}' "
        f"WHEN pa.code NOT LIKE %s THEN '{HeldReason.MOVED}' "
        f"WHEN NOT c.eligible THEN '{HeldReason.INELIGIBLE}' "
        # a duplicate claim of the subject waits for the county's decision (identity)
        f"WHEN EXISTS (SELECT 1 FROM {T_CLAIM} dc WHERE dc.person_id = c.subject_id "
        f"AND dc.status IN {CLAIM_PENDING}) "
        f"THEN '{HeldReason.DUPLICATE}' "
        f"WHEN ba.id IS NULL OR NOT ba.active OR ba.person_id NOT IN "
        f"(c.subject_id, COALESCE(c.applicant_id, c.subject_id)) "
        f"THEN '{HeldReason.NO_ACCOUNT}' ELSE '' END",
        [sql.day(cut_off), sql.day(cut_off), prefix + "%"])


def _held_note(reason: str, death: str, moved: str, cut_off: date) -> tuple[str, list[Any]]:
    """SQL for the words kept with a hold, from the columns of its reason and the subject's
    death and move dates: the date of the death or move and the cut-off it is not later
    than (shown on the cycle page and in the case's history)."""
    limit = f"，不晚于截止日 {cut_off.isoformat()}"
    return (
        f"CASE WHEN {reason} = '' THEN '' WHEN {reason} = '{HeldReason.DIED}' "
        f"THEN '死亡日期 ' || CAST({death} AS TEXT) || '{limit}' "
        f"WHEN {reason} = '{HeldReason.MOVED}' AND {moved} IS NOT NULL AND {moved} <= %s "
        f"THEN '迁出日期 ' || CAST({moved} AS TEXT) || '{limit}' "
        f"WHEN {reason} = '{HeldReason.MOVED}' THEN '户籍已不在本发放区域' ELSE '' END",
        [sql.day(cut_off)])


def _freeze(cycle: PaymentCycle, program: Program, claim_year: int, prefix: str,
            held: tuple[str, list[Any]], now: Any, cut_off: date) -> int:
    """Insert the entitlements of the approved cases not frozen yet; returns how many."""
    note = _held_note("s.reason", "s.death_date", "s.moved_out_on", cut_off)
    return sql.execute(
        f"""
        INSERT INTO {T_ENT} (cycle_id, case_id, bank_account_id,
            amount_fen, months, rule_version, case_version, inputs, subject_death_date,
            status, held_reason, held_note, frozen_at)
        SELECT %s, s.id, s.bank_account_id, s.amount_fen, s.months,
            s.rule_version, s.version, s.explanation, s.death_date,
            CASE WHEN s.reason = '' THEN '{EntitlementStatus.PAYABLE}'
                 ELSE '{EntitlementStatus.HELD}' END,
            s.reason, {note[0]}, %s
        FROM (
            SELECT c.id, c.subject_id, c.area_id, c.bank_account_id, c.amount_fen, c.months,
                COALESCE({sql.json_text("c.explanation", "rule_version")}, '') AS rule_version,
                c.version, c.explanation, p.death_date, p.moved_out_on,
                {held[0]} AS reason
            FROM {T_CASE} c
            JOIN {T_AREA} ca ON ca.id = c.area_id
            JOIN {T_PERSON} p ON p.id = c.subject_id
            JOIN {T_AREA} pa ON pa.id = p.area_id
            LEFT JOIN {T_ACCOUNT} ba ON ba.id = c.bank_account_id
            WHERE c.program_id = %s AND c.claim_year = %s AND c.state = '{State.APPROVED}'
              AND ca.code LIKE %s
              AND NOT EXISTS (SELECT 1 FROM {T_ENT} e WHERE e.case_id = c.id)
        ) s
        -- in case order: entitlements, then lines and the bank file, follow the cases, and
        -- the indexes on the case are written from left to right
        ORDER BY s.id
        """,
        [cycle.pk, *note[1], sql.ts(now), *held[1], program.pk, claim_year, prefix + "%"],
    )


def _cycle_totals(cycle: PaymentCycle) -> dict[str, int]:
    pay_count, pay_fen, held_count, held_fen = sql.fetchone(
        f"""SELECT SUM(CASE WHEN status = %s THEN 1 ELSE 0 END),
                   SUM(CASE WHEN status = %s THEN amount_fen ELSE 0 END),
                   SUM(CASE WHEN status = %s THEN 1 ELSE 0 END),
                   SUM(CASE WHEN status = %s THEN amount_fen ELSE 0 END)
            FROM {T_ENT} WHERE cycle_id = %s""",
        [EntitlementStatus.PAYABLE, EntitlementStatus.PAYABLE, EntitlementStatus.HELD,
         EntitlementStatus.HELD, cycle.pk])
    return {"payable_count": int(pay_count or 0), "payable_fen": int(pay_fen or 0),
            "held_count": int(held_count or 0), "held_fen": int(held_fen or 0)}

