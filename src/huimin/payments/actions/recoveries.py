"""Overpayments: a paid line found not to be due becomes recoverable."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.errors import ActionError, Conflict
from huimin.payments import ledger
from huimin.payments.actions._common import A, _now, _require
from huimin.payments.models import LineStatus, Overpayment, PaymentLine


@transaction.atomic
def mark_overpaid(actor: Any, line: PaymentLine, *, reason: str) -> Overpayment:
    """A paid line that should not have been paid: the amount becomes recoverable."""
    _require(actor, Role.FINANCE_OFFICER, "登记应追回款项")
    reason = reason.strip()
    if not reason:
        raise ActionError("请填写应追回的原因")
    locked = (PaymentLine.objects.select_for_update(of=("self",))
              .select_related("batch", "batch__cycle", "case").get(pk=line.pk))
    if locked.status != LineStatus.PAID:
        raise Conflict(f"明细 {locked.reference} 未支付，不能登记追回")
    if Overpayment.objects.filter(line=locked).exists():
        raise Conflict(f"明细 {locked.reference} 已登记应追回")
    cycle = locked.batch.cycle
    assert cycle is not None
    over = Overpayment.objects.create(line=locked, amount_fen=locked.amount_fen,
                                      reason=reason[:200], actor=actor)
    ledger.post(cycle=cycle, kind="overpaid", actor=actor, at=_now(),
                memo=f"{locked.reference} 应追回", moves=[(A.RECOVERABLE, A.PAID,
                                                          locked.amount_fen)])
    record(actor, "payment.overpaid", locked, person_id=locked.case.subject_id,
           case_id=locked.case_id, area_code=cycle.area.code, cycle=cycle.pk,
           amount_fen=locked.amount_fen, line=locked.reference, reason=reason)
    return over

