"""Bank statements (导入对账单) for 帐实相符: the bank's bookings against the ledger.

A statement lists the paying account's bookings in the batch's layout
(``statement_columns``): the rows whose reference belongs to the batch are its lines, the
rest are other business of the account and are only counted. For each line of the batch the
statement's net debit (debits less credits, e.g. money coming back) must equal what the
ledger says the line paid (its amount if paid, else nothing); their total must equal the
ledger's paid amount for the batch (the 已发放 postings of its returns). The file is parsed
once into rows (``bankfile.parse_statement``), then checked, then stored with every
mismatch named; an unreadable file is refused whole and nothing is stored.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import transaction
from django.db.models import Sum

from huimin.accounts.access import in_user_area
from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.errors import Conflict, Forbidden
from huimin.lib.money import fen_to_yuan
from huimin.payments import bankfile
from huimin.payments.actions._common import A, _lock_batch, _require
from huimin.payments.models import (
    BankStatement,
    BatchState,
    LineStatus,
    PaymentBatch,
    PaymentLine,
    Posting,
)
from huimin.registry.crypto import account_hash

#: at most this many mismatches are kept with a statement (the count is in the event)
KEPT_MISMATCHES = 1000


def books_paid(batch: PaymentBatch) -> int:
    """What the ledger moved to 已发放 for ``batch`` from its returns, in fen."""
    total = (Posting.objects.filter(entry__batch=batch, entry__kind="return", account=A.PAID)
             .aggregate(s=Sum("amount_fen"))["s"])
    return int(total or 0)


def _seq(reference: str, prefix: str) -> int:
    tail = reference[len(prefix):]
    return int(tail) if tail.isascii() and tail.isdigit() and len(tail) <= 12 else -1


def match_statement(batch: PaymentBatch, parsed: bankfile.ParsedStatement,
                    ) -> tuple[list[dict[str, Any]], int, int, int]:
    """(mismatches, the batch's rows, other rows, the batch's net debit) of a statement."""
    prefix = batch.number + "-"
    lines = {seq: (amount, status, acct) for seq, amount, status, acct in
             PaymentLine.objects.filter(batch=batch)
             .values_list("seq", "amount_fen", "status", "bank_account__account_hash")
             .iterator(20000)}
    found: list[dict[str, Any]] = []
    mine: dict[int, list[bankfile.StatementLine]] = {}
    other = net_total = own = 0
    for r in parsed.lines:
        if not r.reference.startswith(prefix):
            other += 1
            continue
        own += 1
        net_total += r.debit_fen - r.credit_fen
        seq = _seq(r.reference, prefix)
        if seq not in lines:
            found.append({"row": r.row, "reference": r.reference,
                          "reason": f"批次中没有此流水号（净支出 "
                                    f"{fen_to_yuan(r.debit_fen - r.credit_fen)} 元）"})
            continue
        mine.setdefault(seq, []).append(r)
    for seq, (amount, status, acct) in sorted(lines.items()):
        rows = mine.get(seq, [])
        net = sum(r.debit_fen - r.credit_fen for r in rows)
        expected = amount if status == LineStatus.PAID else 0
        ref = f"{prefix}{seq:06d}"
        at = rows[0].row if rows else None
        if net != expected:
            if not rows:
                reason = f"账上已支付 {fen_to_yuan(amount)} 元，对账单没有这笔支出"
            elif status != LineStatus.PAID:
                reason = (f"账上为「{LineStatus(status).label}」，对账单净支出 "
                          f"{fen_to_yuan(net)} 元")
            else:
                reason = f"对账单净支出 {fen_to_yuan(net)} 元，账上已支付 {fen_to_yuan(amount)} 元"
            found.append({"row": at, "reference": ref, "reason": reason})
        elif any(r.account and account_hash(r.account) != acct for r in rows):
            found.append({"row": at, "reference": ref, "reason": "对方账号与批次的收款账号不符"})
    books = books_paid(batch)
    if net_total != books:
        found.append({"row": None, "reference": "合计",
                      "reason": f"对账单本批次净支出 {fen_to_yuan(net_total)} 元，"
                                f"账上已发放 {fen_to_yuan(books)} 元"})
    return found, own, other, net_total


@transaction.atomic
def import_statement(actor: Any, batch: PaymentBatch, data: bytes) -> BankStatement:
    """Match a bank statement with the batch's books and keep the result (帐实相符 or each
    mismatch named). The same file again returns the statement kept the first time."""
    _require(actor, Role.FINANCE_OFFICER, "导入银行对账单")
    locked = _lock_batch(batch.pk)
    if not in_user_area(actor, locked.area.code):
        raise Forbidden("该发放批次不在您的管辖范围内")
    if locked.state not in (BatchState.EXPORTED, BatchState.RETURNED):
        raise Conflict(f"批次 {locked.number} 状态为「{locked.state_label}」，"
                       "尚未送银行，没有对账单可核对")
    digest = hashlib.sha256(data).hexdigest()
    kept = BankStatement.objects.filter(batch=locked, sha256=digest).first()
    if kept is not None:
        return kept
    parsed = bankfile.parse_statement(bankfile.get_layout(locked.layout), data)
    found, rows, other, net = match_statement(locked, parsed)
    books = books_paid(locked)
    statement = BankStatement.objects.create(
        batch=locked, sha256=digest, rows=rows, other_rows=other, debit_fen=net,
        books_fen=books, agrees=not found, mismatches=found[:KEPT_MISMATCHES], actor=actor)
    record(actor, "batch.import_statement", locked, area_code=locked.area.code,
           cycle=locked.cycle_id, statement=statement.pk, sha256=digest, rows=rows,
           other_rows=other, debit_fen=net, books_fen=books, agrees=not found,
           mismatches=len(found))
    return statement
