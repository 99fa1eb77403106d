"""Recoveries (追回): money paid for a period without entitlement, and how it comes back.

A recovery is opened from a paid line (``open_recovery``; ``mark_overpaid`` for the whole
line) and settled by repayments (退缴: date and bank receipt), offsets against a later
entitlement of the same household (抵扣: that entitlement pays less by the offset) and
write-offs (核销: requested by one person, approved by another). Each is one transaction with
a balanced journal entry and an audit event; an amount never exceeds the balance.

======================  ====================  ==============  ===========================
step                    debit                 credit          ledger of
======================  ====================  ==============  ===========================
recovery opened         recoverable           paid            the cycle that paid it
repayment               recovered             recoverable     the recovery's cycle
offset                  recovered             recoverable     the recovery's cycle
                        offset                payable         the entitlement's cycle
write-off approved      written_off           recoverable     the recovery's cycle
offset reversed         the two offset entries the other way round
======================  ====================  ==============  ===========================
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Sum

from huimin.accounts.access import in_user_area
from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.cases.models import Case
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.lib.money import fen_to_yuan
from huimin.payments import ledger
from huimin.payments.actions._common import A, _now, _require
from huimin.payments.models import (
    Entitlement,
    EntitlementStatus,
    LineStatus,
    MovementStatus,
    PaymentLine,
    Recovery,
    RecoveryMethod,
    RecoveryMovement,
    RecoveryState,
)

#: who may open a recovery (the county approver confirms the feed effects that cause one)
OPEN_ROLES = (Role.COUNTY_APPROVER, Role.FINANCE_OFFICER, Role.ADMIN)
#: who records repayments, offsets and write-off requests
RECORD_ROLES = (Role.FINANCE_OFFICER,)
#: who may approve a write-off (never the person who asked for it)
APPROVE_ROLES = (Role.FINANCE_OFFICER, Role.COUNTY_APPROVER)
FIRST_DAY = date(2000, 1, 1)


def _check(actor: Any, roles: Iterable[str], area_code: str, what: str) -> None:
    roles = tuple(roles)
    if getattr(actor, "role", None) not in roles:
        labels = "、".join(Role(r).label for r in roles)
        raise Forbidden(f"只有{labels}可以{what}")
    if not in_user_area(actor, area_code):
        raise Forbidden("该记录不在您的管辖范围内")


def _amount(value: Any, most: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ActionError(f"金额：须为整数分（{what}）")
    if value <= 0:
        raise ActionError("金额：须大于零")
    if value > most:
        raise ActionError(f"金额：{fen_to_yuan(value)} 元超过{what} {fen_to_yuan(most)} 元")
    return value


def _day(value: Any, field: str = "日期") -> date:
    from huimin.cases.actions import local_today

    if not isinstance(value, date):
        raise ActionError(f"{field}：须为日期 YYYY-MM-DD")
    if value > local_today():
        raise ActionError(f"{field}：{value.isoformat()} 晚于今天")
    if value < FIRST_DAY:
        raise ActionError(f"{field}：{value.isoformat()} 早于 {FIRST_DAY.isoformat()}")
    return value


def _text(value: Any, field: str, example: str, *, most: int = 200) -> str:
    text = str(value or "").strip()
    if not text:
        raise ActionError(f"{field}：请填写（如：{example}）")
    if len(text) > most:
        raise ActionError(f"{field}：最多 {most} 个字")
    return text


def _lock_recovery(pk: int) -> Recovery:
    return (Recovery.objects.select_for_update(of=("self",))
            .select_related("case", "cycle", "cycle__area", "line").get(pk=pk))


def _settle(rec: Recovery, amount_fen: int) -> None:
    rec.settled_fen += amount_fen
    rec.state = RecoveryState.CLOSED if rec.settled_fen == rec.amount_fen else RecoveryState.OPEN
    rec.save(update_fields=["settled_fen", "state"])


def _open(actor: Any, action: str, *, case: Case, line: PaymentLine, amount_fen: int,
          cause: str, period_start: date, period_end: date, event_ref: str) -> Recovery:
    cycle = line.batch.cycle
    assert cycle is not None
    rec = Recovery.objects.create(
        case=case, household_id=case.subject.household_id, cycle=cycle, line=line,
        amount_fen=amount_fen, cause=cause[:200], event_ref=event_ref[:120],
        period_start=period_start, period_end=period_end, opened_by=actor)
    ledger.post(cycle=cycle, kind="recovery", actor=actor, at=_now(),
                memo=f"{rec.number} 应追回（{line.reference}）",
                moves=[(A.RECOVERABLE, A.PAID, amount_fen)])
    record(actor, action, rec if action == "recovery.open" else line,
           person_id=case.subject_id, case_id=case.pk, area_code=cycle.area.code,
           cycle=cycle.pk, amount_fen=amount_fen, line=line.reference, recovery=rec.pk,
           reason=cause[:200], event_ref=event_ref[:120], period_start=period_start.isoformat(),
           period_end=period_end.isoformat())
    return rec


def _open_on_line(line: PaymentLine) -> int:
    """What of a paid line is already recoverable."""
    return int(Recovery.objects.filter(line=line).aggregate(s=Sum("amount_fen"))["s"] or 0)


def paid_fen(case: Case) -> int:
    """What the bank paid to ``case``, over all its lines."""
    total = PaymentLine.objects.filter(case=case, status=LineStatus.PAID)
    return int(total.aggregate(s=Sum("amount_fen"))["s"] or 0)


@transaction.atomic
def open_recovery(actor: Any, *, case: Case, amount_fen: int, cause: str, period_start: date,
                  period_end: date, line: PaymentLine | None = None,
                  event_ref: str = "") -> Recovery:
    """A recoverable amount of ``case`` with its cause (which event: ``event_ref``; which
    period: ``period_start`` … ``period_end``), from ``line`` (default: the case's paid
    line). A part of the line may be recovered (a death in June of a year paid in full: the
    months after it); what is recoverable of a line never exceeds what it paid."""
    case = Case.objects.select_related("area", "subject").get(pk=case.pk)
    _check(actor, OPEN_ROLES, case.area.code, "登记应追回款项")
    cause = _text(cause, "原因", "补贴对象 2026-06-10 死亡，7–12 月不应发放")
    if not isinstance(period_start, date) or not isinstance(period_end, date):
        raise ActionError("无资格期间：起止须为日期 YYYY-MM-DD")
    if period_start > period_end:
        raise ActionError("无资格期间：起日晚于止日")
    event_ref = str(event_ref or "").strip()
    if len(event_ref) > 120:
        raise ActionError("依据事件：最多 120 个字符")
    paid = PaymentLine.objects.select_for_update(of=("self",)).select_related("batch",
                                                                            "batch__cycle")
    if line is None:
        found = paid.filter(case_id=case.pk, status=LineStatus.PAID).order_by("-id").first()
        if found is None:
            raise Conflict(f"案件 {case.number} 没有已支付的发放明细，无从追回")
        locked = found
    else:
        locked = paid.get(pk=line.pk)
        if locked.case_id != case.pk:
            raise ActionError(f"发放明细 {locked.reference} 不属于案件 {case.number}")
        if locked.status != LineStatus.PAID:
            raise Conflict(f"明细 {locked.reference} 未支付，不能登记追回")
    left = locked.amount_fen - _open_on_line(locked)
    if left <= 0:
        raise Conflict(f"明细 {locked.reference} 已全额登记应追回")
    amount_fen = _amount(amount_fen, left, "该笔发放尚未登记追回的金额")
    return _open(actor, "recovery.open", case=case, line=locked, amount_fen=amount_fen,
                 cause=cause, period_start=period_start, period_end=period_end,
                 event_ref=event_ref)


@transaction.atomic
def mark_overpaid(actor: Any, line: PaymentLine, *, reason: str) -> Recovery:
    """A paid line that should not have been paid: the whole amount becomes recoverable."""
    _require(actor, Role.FINANCE_OFFICER, "登记应追回款项")
    reason = reason.strip()
    if not reason:
        raise ActionError("请填写应追回的原因")
    locked = (PaymentLine.objects.select_for_update(of=("self",))
              .select_related("batch", "batch__cycle", "case", "case__subject").get(pk=line.pk))
    if locked.status != LineStatus.PAID:
        raise Conflict(f"明细 {locked.reference} 未支付，不能登记追回")
    if Recovery.objects.filter(line=locked).exists():
        raise Conflict(f"明细 {locked.reference} 已登记应追回")
    year = locked.batch.claim_year
    return _open(actor, "payment.overpaid", case=locked.case, line=locked,
                 amount_fen=locked.amount_fen, cause=reason, period_start=date(year, 1, 1),
                 period_end=date(year, 12, 31), event_ref="")


def _movement_event(actor: Any, action: str, rec: Recovery, mv: RecoveryMovement,
                    **extra: Any) -> None:
    record(actor, action, rec, person_id=rec.case.subject_id, case_id=rec.case_id,
           area_code=rec.cycle.area.code, cycle=rec.cycle_id, amount_fen=mv.amount_fen,
           recovery=rec.pk, movement=mv.pk, on_date=mv.on_date.isoformat(),
           balance_fen=rec.balance_fen, **extra)


@transaction.atomic
def record_repayment(actor: Any, recovery: Recovery, *, amount_fen: int, on_date: date,
                     receipt: str, note: str = "") -> RecoveryMovement:
    """Money paid back (退缴), on ``on_date`` with the bank's receipt number."""
    rec = _lock_recovery(recovery.pk)
    _check(actor, RECORD_ROLES, rec.cycle.area.code, "登记追回")
    amount_fen = _amount(amount_fen, rec.balance_fen, "待追回余额")
    on_date = _day(on_date)
    receipt = _text(receipt, "银行回单号", "2026061500123", most=60)
    mv = RecoveryMovement.objects.create(
        recovery=rec, method=RecoveryMethod.REPAYMENT, status=MovementStatus.DONE,
        amount_fen=amount_fen, on_date=on_date, receipt=receipt, note=str(note or "")[:200],
        requested_by=actor)
    _settle(rec, amount_fen)
    ledger.post(cycle=rec.cycle, kind="recovery", actor=actor, at=_now(),
                memo=f"{rec.number} 退缴（回单 {receipt}）",
                moves=[(A.RECOVERED, A.RECOVERABLE, amount_fen)])
    _movement_event(actor, "recovery.repay", rec, mv, receipt=receipt)
    return mv


def offset_targets(rec: Recovery) -> list[Entitlement]:
    """The entitlements a recovery may be offset against: payable, of a case of the same
    household, not yet in any batch, with something left to pay."""
    if rec.household_id is None:
        return []
    ents = (Entitlement.objects.filter(status=EntitlementStatus.PAYABLE,
                                       case__subject__household_id=rec.household_id,
                                       lines__isnull=True)
            .select_related("case", "case__program", "cycle").order_by("id"))
    return [e for e in ents if e.amount_fen - e.offset_fen > 1]


@transaction.atomic
def record_offset(actor: Any, recovery: Recovery, *, amount_fen: int, on_date: date,
                  entitlement: Entitlement, note: str = "") -> RecoveryMovement:
    """Settle part of a recovery from a later entitlement of the same household: that
    entitlement pays less by the amount (its line says so)."""
    rec = _lock_recovery(recovery.pk)
    _check(actor, RECORD_ROLES, rec.cycle.area.code, "登记抵扣")
    ent = (Entitlement.objects.select_for_update(of=("self",))
           .select_related("cycle", "cycle__area", "case", "case__subject")
           .get(pk=entitlement.pk))
    if not in_user_area(actor, ent.cycle.area.code):
        raise Forbidden("抵扣的应发不在您的管辖范围内")
    if rec.household_id is None or ent.case.subject.household_id != rec.household_id:
        raise ActionError("抵扣：只能从同一户的后续应发中抵扣")
    if ent.status != EntitlementStatus.PAYABLE:
        raise Conflict(f"案件 {ent.case.number} 的应发已暂停，不能抵扣")
    if PaymentLine.objects.filter(entitlement_id=ent.pk).exists():
        raise Conflict(f"案件 {ent.case.number} 的应发已纳入批次，只能抵扣尚未纳入批次的应发")
    # something is always paid: a line of zero is not sent to a bank
    room = ent.amount_fen - ent.offset_fen - 1
    amount_fen = _amount(amount_fen, min(rec.balance_fen, room),
                         "待追回余额或该笔应发可抵扣的金额")
    on_date = _day(on_date)
    mv = RecoveryMovement.objects.create(
        recovery=rec, method=RecoveryMethod.OFFSET, status=MovementStatus.DONE,
        amount_fen=amount_fen, on_date=on_date, entitlement=ent, note=str(note or "")[:200],
        requested_by=actor)
    _settle(rec, amount_fen)
    ent.offset_fen += amount_fen
    ent.save(update_fields=["offset_fen"])
    now = _now()
    ledger.post(cycle=rec.cycle, kind="recovery", actor=actor, at=now,
                memo=f"{rec.number} 从 {ent.case.number} 应发中抵扣",
                moves=[(A.RECOVERED, A.RECOVERABLE, amount_fen)])
    ledger.post(cycle=ent.cycle, kind="offset", actor=actor, at=now,
                memo=f"{ent.case.number} 应发抵扣 {rec.number}",
                moves=[(A.OFFSET, A.PAYABLE, amount_fen)])
    _movement_event(actor, "recovery.offset", rec, mv, offset_case=ent.case.number)
    record(actor, "payment.offset", ent, person_id=ent.case.subject_id, case_id=ent.case_id,
           area_code=ent.cycle.area.code, cycle=ent.cycle_id, amount_fen=amount_fen,
           recovery=rec.pk, movement=mv.pk, reason=f"抵扣应追回款 {rec.number}")
    return mv


def reverse_offsets(actor: Any, ent: Entitlement, *, why: str) -> int:
    """Undo the offsets against ``ent`` (held before it was paid): each recovery is due
    again by its amount. Call inside the caller's transaction; returns the fen reversed."""
    total = 0
    for mv in (RecoveryMovement.objects.select_for_update(of=("self",))
               .filter(entitlement_id=ent.pk, method=RecoveryMethod.OFFSET,
                       status=MovementStatus.DONE).order_by("id")):
        rec = _lock_recovery(mv.recovery_id)
        mv.status = MovementStatus.REVERSED
        mv.note = (f"{mv.note}；冲回：{why}" if mv.note else f"冲回：{why}")[:200]
        mv.save(update_fields=["status", "note"])
        _settle(rec, -mv.amount_fen)
        now = _now()
        ledger.post(cycle=rec.cycle, kind="recovery", actor=actor, at=now,
                    memo=f"{rec.number} 抵扣冲回", moves=[(A.RECOVERABLE, A.RECOVERED,
                                                          mv.amount_fen)])
        ledger.post(cycle=ent.cycle, kind="offset", actor=actor, at=now,
                    memo=f"{ent.case.number} 抵扣冲回", moves=[(A.PAYABLE, A.OFFSET,
                                                             mv.amount_fen)])
        _movement_event(actor, "recovery.offset_reverse", rec, mv, reason=why[:200])
        record(actor, "payment.offset_reverse", ent, person_id=ent.case.subject_id,
               case_id=ent.case_id, area_code=ent.cycle.area.code, cycle=ent.cycle_id,
               amount_fen=mv.amount_fen, recovery=rec.pk, movement=mv.pk, reason=why[:200])
        total += mv.amount_fen
    # called only for an entitlement with an offset, so there was always one to reverse
    Entitlement.objects.filter(pk=ent.pk).update(offset_fen=ent.offset_fen - total)
    return total


@transaction.atomic
def request_write_off(actor: Any, recovery: Recovery, *, amount_fen: int, on_date: date,
                      note: str) -> RecoveryMovement:
    """Ask for a write-off (核销) of part or all of the balance; a second person approves."""
    rec = _lock_recovery(recovery.pk)
    _check(actor, RECORD_ROLES, rec.cycle.area.code, "申请核销")
    if rec.movements.filter(status=MovementStatus.REQUESTED).exists():
        raise Conflict(f"{rec.number} 已有待审批的核销申请")
    amount_fen = _amount(amount_fen, rec.balance_fen, "待追回余额")
    on_date = _day(on_date)
    note = _text(note, "核销理由", "当事人家庭经济困难，经村委会证明无力退缴")
    mv = RecoveryMovement.objects.create(
        recovery=rec, method=RecoveryMethod.WRITE_OFF, status=MovementStatus.REQUESTED,
        amount_fen=amount_fen, on_date=on_date, note=note, requested_by=actor)
    _movement_event(actor, "recovery.write_off_request", rec, mv, reason=note)
    return mv


@transaction.atomic
def approve_write_off(actor: Any, movement: RecoveryMovement) -> RecoveryMovement:
    """Approve a requested write-off: never the person who asked for it."""
    mv = (RecoveryMovement.objects.select_for_update(of=("self",))
          .get(pk=movement.pk))
    rec = _lock_recovery(mv.recovery_id)
    _check(actor, APPROVE_ROLES, rec.cycle.area.code, "审批核销")
    if mv.method != RecoveryMethod.WRITE_OFF or mv.status != MovementStatus.REQUESTED:
        raise Conflict("该记录不是待审批的核销申请")
    if mv.requested_by_id == actor.pk:
        raise Forbidden("核销须由另一人审批：申请人不能审批自己的申请")
    if mv.amount_fen > rec.balance_fen:
        raise Conflict(f"核销金额 {fen_to_yuan(mv.amount_fen)} 元超过现在的待追回余额 "
                       f"{fen_to_yuan(rec.balance_fen)} 元，请重新申请")
    mv.status = MovementStatus.DONE
    mv.approved_by = actor
    mv.approved_at = _now()
    mv.save(update_fields=["status", "approved_by", "approved_at"])
    _settle(rec, mv.amount_fen)
    ledger.post(cycle=rec.cycle, kind="recovery", actor=actor, at=mv.approved_at,
                memo=f"{rec.number} 核销", moves=[(A.WRITTEN_OFF, A.RECOVERABLE, mv.amount_fen)])
    _movement_event(actor, "recovery.write_off", rec, mv, requested_by=mv.requested_by_id)
    return mv


@transaction.atomic
def decline_write_off(actor: Any, movement: RecoveryMovement, *, reason: str) -> RecoveryMovement:
    """Turn a requested write-off down, with the reason: the balance stays to be recovered
    (nothing moves in the ledger) and a new request may follow. Never the requester."""
    mv = (RecoveryMovement.objects.select_for_update(of=("self",))
          .get(pk=movement.pk))
    rec = _lock_recovery(mv.recovery_id)
    _check(actor, APPROVE_ROLES, rec.cycle.area.code, "审批核销")
    if mv.method != RecoveryMethod.WRITE_OFF or mv.status != MovementStatus.REQUESTED:
        raise Conflict("该记录不是待审批的核销申请")
    if mv.requested_by_id == actor.pk:
        raise Forbidden("核销须由另一人审批：申请人不能驳回自己的申请")
    reason = (reason or "").strip()
    if not reason:
        raise ActionError("驳回理由：请填写不予核销的理由（如：家庭有退缴能力，应继续追回）")
    mv.status = MovementStatus.DECLINED
    mv.approved_by = actor
    mv.approved_at = _now()
    mv.save(update_fields=["status", "approved_by", "approved_at"])
    _movement_event(actor, "recovery.write_off_decline", rec, mv,
                    requested_by=mv.requested_by_id, reason=reason[:200])
    return mv
