"""The double-entry ledger of each fund (program × area), in fen.

Every fen of a cycle sits in one account; a movement debits the account it goes to and
credits the one it leaves, so each journal entry sums to zero. The movements:

======================  =====================  =====================
event                   debit                  credit
======================  =====================  =====================
entitlement frozen      payable                allocation
line put in a batch     in_bank                payable
bank: paid              paid                   in_bank
bank: failed            failed                 in_bank
bank: returned          returned               in_bank
failed line corrected   payable                failed / returned
overpayment found       recoverable            paid
line out of its batch   payable                in_bank
entitlement held        allocation             payable
entitlement released    payable                allocation
recovery opened         recoverable            paid
repayment, offset       recovered              recoverable
offset (entitlement)    offset                 payable
write-off approved      written_off            recoverable
offset reversed         the two offset movements the other way round
======================  =====================  =====================

The same movements can be replayed from the audit events each action writes
(``rebuild_from_events``); the result must equal the stored ledger. A batch and a bank return
are one event each, for all their lines: their movements are replayed from the lines that
event covers (the lines of the batch; the lines the return settled, by result).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import BigIntegerField, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from huimin.audit.models import AuditEvent
from huimin.payments.models import (
    JournalEntry,
    LedgerAccount,
    PaymentBatch,
    PaymentCycle,
    PaymentLine,
    Posting,
)

A = LedgerAccount
Move = tuple[str, str, int]  # debit account, credit account, amount in fen

# audit action (and, for a correction, the account it leaves) -> (debit, credit)
EVENT_MOVES: dict[tuple[str, str], tuple[str, str]] = {
    ("cycle.build", ""): (A.PAYABLE, A.ALLOCATION),
    ("payment.correct", A.FAILED): (A.PAYABLE, A.FAILED),
    ("payment.correct", A.RETURNED): (A.PAYABLE, A.RETURNED),
    ("payment.overpaid", ""): (A.RECOVERABLE, A.PAID),
    # holds (payments/holds.py): a line taken out of its batch is replayed by the batch's
    # event, which counts the lines left in it; the hold moves the entitlement's amount
    ("payment.hold", "payable"): (A.ALLOCATION, A.PAYABLE),
    ("payment.release", ""): (A.PAYABLE, A.ALLOCATION),
    # recoveries (payments/actions/recoveries.py); an offset is two events, one in the
    # ledger of the recovery's cycle and one in that of the entitlement it reduced
    ("recovery.open", ""): (A.RECOVERABLE, A.PAID),
    ("recovery.repay", ""): (A.RECOVERED, A.RECOVERABLE),
    ("recovery.offset", ""): (A.RECOVERED, A.RECOVERABLE),
    ("recovery.write_off", ""): (A.WRITTEN_OFF, A.RECOVERABLE),
    ("recovery.offset_reverse", ""): (A.RECOVERABLE, A.RECOVERED),
    ("payment.offset", ""): (A.OFFSET, A.PAYABLE),
    ("payment.offset_reverse", ""): (A.PAYABLE, A.OFFSET),
}
LEDGER_ACTIONS = sorted({action for action, _ in EVENT_MOVES})
# bank result of a line -> (debit, credit), for the lines a return settled
RESULT_MOVES: dict[str, tuple[str, str]] = {
    "paid": (A.PAID, A.IN_BANK),
    "failed": (A.FAILED, A.IN_BANK),
    "returned": (A.RETURNED, A.IN_BANK),
}


class Unbalanced(AssertionError):
    pass


def net(moves: Iterable[Move]) -> dict[str, int]:
    sums: dict[str, int] = defaultdict(int)
    for debit, credit, amount in moves:
        sums[debit] += amount
        sums[credit] -= amount
    return {k: v for k, v in sums.items() if v}


def post(*, cycle: PaymentCycle, kind: str, memo: str, actor: Any, at: datetime,
         moves: Iterable[Move], batch: PaymentBatch | None = None) -> JournalEntry | None:
    """Write one balanced journal entry (nothing if every amount is zero)."""
    sums = net(moves)
    if not sums:
        return None
    if sum(sums.values()) != 0:
        raise Unbalanced(f"{kind}: {sums}")
    entry = JournalEntry.objects.create(
        program_id=cycle.program_id, area_id=cycle.area_id, cycle=cycle, batch=batch, kind=kind,
        memo=memo, actor=actor if getattr(actor, "pk", None) else None, at=at)
    Posting.objects.bulk_create([Posting(entry=entry, account=acct, amount_fen=amount)
                                 for acct, amount in sorted(sums.items())])
    return entry


def balances(cycle: PaymentCycle) -> dict[str, int]:
    """The stored ledger: the balance of each account of the cycle (debit positive)."""
    out = dict.fromkeys(A.values, 0)
    rows = (Posting.objects.filter(entry__cycle=cycle).values("account")
            .annotate(total=Sum("amount_fen")).order_by())
    for row in rows:
        out[row["account"]] = int(row["total"] or 0)
    return out


def unbalanced_entries(cycle: PaymentCycle) -> list[tuple[int, str, int]]:
    """Journal entries whose postings do not sum to zero: (entry id, kind, difference)."""
    rows = (JournalEntry.objects.filter(cycle=cycle).annotate(diff=Sum("postings__amount_fen"))
            .exclude(diff=0).values_list("id", "kind", "diff"))
    return [(pk, kind, int(diff or 0)) for pk, kind, diff in rows]


def rebuild_from_events(cycle: PaymentCycle) -> dict[str, int]:
    """Replay the cycle's audit events into account balances."""
    amount = Cast(KT("data__amount_fen"), BigIntegerField())
    rows = (AuditEvent.objects.filter(action__in=LEDGER_ACTIONS, data__cycle=cycle.pk)
            .annotate(src=KT("data__from")).values("action", "src")
            .annotate(total=Sum(amount)).order_by())
    moves: list[Move] = []
    for row in rows:
        debit, credit = EVENT_MOVES[(row["action"], row["src"] or "")]
        moves.append((debit, credit, int(row["total"] or 0)))
    cycle_events = AuditEvent.objects.filter(data__cycle=cycle.pk)
    batches = [int(pk) for pk in cycle_events.filter(action="batch.create")
               .values_list("object_id", flat=True)]
    added = PaymentLine.objects.filter(batch_id__in=batches).aggregate(s=Sum("amount_fen"))["s"]
    moves.append((A.IN_BANK, A.PAYABLE, int(added or 0)))
    returns = [int(pk) for pk in cycle_events.filter(action="batch.import_return")
               .annotate(ret=Cast(KT("data__bank_return"), BigIntegerField()))
               .values_list("ret", flat=True) if pk is not None]
    settled = (PaymentLine.objects.filter(settled_by_id__in=returns).values("status")
               .annotate(total=Sum("amount_fen")).order_by())
    for status, total in settled.values_list("status", "total"):
        debit, credit = RESULT_MOVES[status]
        moves.append((debit, credit, int(total or 0)))
    out = dict.fromkeys(A.values, 0)
    out.update(net(moves))
    return out
