"""What the payment steps share: table names, the waiting test in SQL, role checks, locks."""

from __future__ import annotations

from typing import Any

from django.db import OperationalError
from django.utils import timezone

from huimin.accounts.models import Role
from huimin.cases.models import Case
from huimin.cases.states import TRANSITIONS
from huimin.errors import Conflict, Forbidden
from huimin.payments import sql
from huimin.payments.models import (
    Entitlement,
    LedgerAccount,
    LineCorrection,
    LineStatus,
    PaymentBatch,
    PaymentCycle,
    PaymentLine,
)

A = LedgerAccount
T_CASE = Case._meta.db_table
T_ENT = Entitlement._meta.db_table
T_LINE = PaymentLine._meta.db_table
T_AUDIT = "audit_auditevent"
T_PERSON = "registry_person"
T_AREA = "registry_area"
T_ACCOUNT = "registry_bankaccount"
T_FIX = LineCorrection._meta.db_table
# An entitlement (alias e) waits for a batch unless a line of its case paid, is at the bank, or
# failed and was not corrected (models.waiting, in SQL). A case has one entitlement, so its
# lines are found by the case (indexed) rather than by the entitlement.
WAITING = (f"NOT EXISTS (SELECT 1 FROM {T_LINE} w WHERE w.case_id = e.case_id AND "
           f"(w.status IN ('{LineStatus.PENDING}', '{LineStatus.PAID}') OR NOT EXISTS "
           f"(SELECT 1 FROM {T_FIX} k WHERE k.line_id = w.id)))")


def _from_states(transition: str) -> list[str]:
    return sorted(s for (s, t) in TRANSITIONS if t == transition)


def _to_state(transition: str) -> str:
    targets = {to for (_s, t), (to, _r) in TRANSITIONS.items() if t == transition}
    assert len(targets) == 1, transition
    return targets.pop()


def _require(actor: Any, role: str, what: str) -> None:
    if getattr(actor, "role", None) != role:
        raise Forbidden(f"只有{Role(role).label}可以{what}")


def _now() -> Any:
    return timezone.now()


def _lock_cycle(pk: int) -> PaymentCycle:
    """The cycle row, locked for this transaction; a second builder is refused, not queued."""
    qs = PaymentCycle.objects.select_related("program", "area")
    try:
        if sql.is_pg():
            return qs.select_for_update(nowait=True, of=("self",)).get(pk=pk)
        return qs.select_for_update().get(pk=pk)
    except OperationalError:
        raise Conflict("该发放周期正在由他人处理，请稍后再试") from None


def _lock_batch(pk: int) -> PaymentBatch:
    return (PaymentBatch.objects.select_for_update(of=("self",))
            .select_related("program", "area", "cycle").get(pk=pk))

