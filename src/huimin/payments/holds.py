"""Holding a case's payment after a change of life (暂停发放), and releasing it again.

``hold_case`` holds every entitlement of a case that has not reached a bank: one that waits
for a batch, or whose line sits in a batch not yet exported (the line is taken out of that
batch and the batch's totals follow, so its bank file never carries it). Money already at
the bank or paid is not held: what was paid for a period without entitlement becomes a
recovery (``payments.recoveries.open_recovery``). A line that failed and was not corrected
stays where it is (发放失败待重发); a case that is suspended, stopped or handed over is never
put in a batch, and its failed line cannot be corrected (``correct_line``).

The ledger moves to match, in one transaction with the audit event:

==============================  ===================  ===================
step                            debit                credit
==============================  ===================  ===================
line taken out of its batch     payable              in_bank
entitlement held                allocation           payable
entitlement released            payable              allocation
==============================  ===================  ===================

The first is posted against the batch (the batch's control total and what it sent to the bank
stay equal); replayed from events, the batch's lines are the ones left in it, and the hold
(``payment.hold``) and release (``payment.release``) events carry the amount moved.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction

from huimin.accounts.access import in_user_area
from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.cases.models import Case
from huimin.cases.states import State
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.payments import ledger
from huimin.payments.actions._common import A, _lock_batch, _now
from huimin.payments.actions.cycles import _cycle_totals
from huimin.payments.models import (
    NOT_PAID,
    BatchState,
    Entitlement,
    EntitlementStatus,
    HeldReason,
    LineStatus,
    PaymentCycle,
    PaymentLine,
)

#: who may hold or release a case's payment (the county approver confirms feed effects)
HOLD_ROLES = (Role.COUNTY_APPROVER, Role.FINANCE_OFFICER, Role.ADMIN)
#: batches whose lines have not reached a bank
NOT_SENT = (BatchState.DRAFT, BatchState.RELEASED)


def _check_actor(actor: Any, case: Case, what: str) -> None:
    if getattr(actor, "role", None) not in HOLD_ROLES:
        labels = "、".join(Role(r).label for r in HOLD_ROLES)
        raise Forbidden(f"只有{labels}可以{what}")
    if not in_user_area(actor, case.area.code):
        raise Forbidden("该案件不在您的管辖范围内")


def _lock_entitlement(case: Case) -> Entitlement | None:
    return (Entitlement.objects.select_for_update(of=("self",))
            .select_related("cycle", "cycle__area").filter(case_id=case.pk).first())


def _open_claim(case: Case) -> bool:
    from huimin.identity.actions import open_duplicate_claim

    return open_duplicate_claim(case)


def _update_cycle_totals(cycle: PaymentCycle) -> None:
    PaymentCycle.objects.filter(pk=cycle.pk).update(**_cycle_totals(cycle))


@transaction.atomic
def hold_case(actor: Any, case: Case, *, held_reason: str, reason: str,
              from_date: date) -> int:
    """Hold every entitlement of ``case`` not yet sent to a bank; returns how many (0 is fine).

    ``held_reason`` is a ``HeldReason`` value, ``reason`` the words shown with it (which
    event, what was found), ``from_date`` the first day without entitlement (kept with the
    entitlement and in the audit event ``payment.hold``)."""
    case = Case.objects.select_related("area").get(pk=case.pk)
    _check_actor(actor, case, "暂停发放")
    if held_reason not in HeldReason.values:
        raise ActionError(f"暂停原因：「{str(held_reason)[:20]}」不是可选的原因")
    reason = (reason or "").strip()
    if not reason:
        raise ActionError("暂停说明：请填写暂停发放的原因（如：民政推送死亡信息，待核实）")
    if not isinstance(from_date, date):
        raise ActionError("暂停起始日：须为日期")
    ent = _lock_entitlement(case)
    if ent is None or ent.status != EntitlementStatus.PAYABLE:
        return 0
    cycle = ent.cycle
    live = (PaymentLine.objects.select_for_update(of=("self",)).select_related("batch")
            .filter(case_id=case.pk, live=True).first())
    now = _now()
    taken_out = ""
    moved: dict[str, str] = {}
    if live is not None:
        if live.status != LineStatus.PENDING or live.batch.state not in NOT_SENT:
            return 0  # at the bank or paid: not held here (a recovery if not due)
        batch = _lock_batch(live.batch_id)
        if batch.state not in NOT_SENT:
            return 0  # exported between reading the line and locking its batch
        taken_out = live.reference
        amount = live.amount_fen
        live.delete()
        batch.line_count -= 1
        batch.total_fen -= amount
        batch.save(update_fields=["line_count", "total_fen"])
        ledger.post(cycle=cycle, batch=batch, kind="batch", actor=actor, at=now,
                    memo=f"{taken_out} 暂停发放，移出批次",
                    moves=[(A.PAYABLE, A.IN_BANK, amount)])
        # back to where the batch took it from, unless a change of life moved it already
        earlier = PaymentLine.objects.filter(case_id=case.pk, status__in=NOT_PAID).exists()
        back = State.PAYMENT_FAILED if earlier else State.APPROVED
        if Case.objects.filter(pk=case.pk, state=State.IN_PAYMENT).update(
                state=back, version=case.version + 1, updated_at=now):
            moved = {"old": str(State.IN_PAYMENT), "new": str(back)}
    elif PaymentLine.objects.filter(case_id=case.pk, status__in=NOT_PAID,
                                    correction__isnull=True).exists():
        return 0  # failed and not corrected: the money waits in 发放失败待重发
    if ent.offset_fen:  # not paid after all: the recoveries it settled are due again
        from huimin.payments.actions.recoveries import reverse_offsets

        reverse_offsets(actor, ent, why=f"应发暂停：{reason[:100]}")
        ent.refresh_from_db()
    ent.status = EntitlementStatus.HELD
    ent.held_reason = held_reason
    ent.held_note = reason[:200]
    ent.held_from = from_date
    ent.save(update_fields=["status", "held_reason", "held_note", "held_from"])
    _update_cycle_totals(cycle)
    ledger.post(cycle=cycle, kind="hold", actor=actor, at=now,
                memo=f"{case.number} 暂停发放：{HeldReason(held_reason).label}",
                moves=[(A.ALLOCATION, A.PAYABLE, ent.amount_fen)])
    record(actor, "payment.hold", ent, person_id=case.subject_id, case_id=case.pk,
           area_code=cycle.area.code, cycle=cycle.pk, amount_fen=ent.amount_fen,
           **{"from": "payable"}, held_reason=held_reason, reason=reason[:200],
           from_date=from_date.isoformat(), line=taken_out, **moved)
    return 1


@transaction.atomic
def reword_hold(actor: Any, case: Case, *, held_reason: str, reason: str) -> int:
    """A suspension decided: the entitlement held for it (``HeldReason.SUSPENDED``) stays
    held, now with the reason found (a stop after re-verification: 不再符合条件). No money
    moves; the audit event ``payment.hold_reason`` keeps the old and new reasons. Returns
    how many were reworded (0 or 1)."""
    case = Case.objects.select_related("area").get(pk=case.pk)
    _check_actor(actor, case, "更改暂停原因")
    ent = _lock_entitlement(case)
    if ent is None or ent.status != EntitlementStatus.HELD \
            or ent.held_reason != HeldReason.SUSPENDED:
        return 0
    old = ent.held_reason
    ent.held_reason, ent.held_note = held_reason, (reason or "").strip()[:200]
    ent.save(update_fields=["held_reason", "held_note"])
    record(actor, "payment.hold_reason", ent, person_id=case.subject_id, case_id=case.pk,
           area_code=ent.cycle.area.code, cycle=ent.cycle_id, old=old, new=held_reason,
           reason=ent.held_note)
    return 1


@transaction.atomic
def release_case(actor: Any, case: Case, *, reason: str) -> int:
    """Undo ``hold_case`` when a suspension is lifted: a held entitlement of the case becomes
    payable again and waits for the next batch (the case must be back in 已确认，待发放 or
    发放失败 to be put in one). Entitlements held at freezing for want of an account are
    released by building the cycle again. Returns how many were released (0 or 1)."""
    case = Case.objects.select_related("area").get(pk=case.pk)
    _check_actor(actor, case, "恢复发放")
    reason = (reason or "").strip()
    if not reason:
        raise ActionError("恢复说明：请填写恢复发放的原因（如：经核实信息有误）")
    ent = _lock_entitlement(case)
    if ent is None or ent.status != EntitlementStatus.HELD:
        return 0
    if ent.held_reason == HeldReason.NO_ACCOUNT:
        return 0
    if ent.held_reason == HeldReason.DUPLICATE and _open_claim(case):
        raise Conflict(f"案件 {case.number} 的疑似重复申领尚未裁定：请先在「疑似重复」中裁定")
    if PaymentLine.objects.filter(case_id=case.pk, live=True).exists():
        raise Conflict(f"案件 {case.number} 已有未失败的发放明细，不能恢复")
    cycle = ent.cycle
    now = _now()
    old_reason = ent.held_reason
    ent.status = EntitlementStatus.PAYABLE
    ent.held_reason = ""
    ent.held_note = ""
    ent.held_from = None
    ent.save(update_fields=["status", "held_reason", "held_note", "held_from"])
    _update_cycle_totals(cycle)
    ledger.post(cycle=cycle, kind="release", actor=actor, at=now,
                memo=f"{case.number} 恢复发放", moves=[(A.PAYABLE, A.ALLOCATION, ent.amount_fen)])
    record(actor, "payment.release", ent, person_id=case.subject_id, case_id=case.pk,
           area_code=cycle.area.code, cycle=cycle.pk, amount_fen=ent.amount_fen,
           held_reason=old_reason, reason=reason[:200])
    return 1
