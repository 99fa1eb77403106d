"""Batches: build (生成批次), release (放行), export (导出银行文件) and download."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from huimin.accounts.access import in_user_area
from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.audit.models import AuditEvent
from huimin.cases.states import Transition
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.payments import bankfile, ledger, sql
from huimin.payments.actions._common import (
    T_ACCOUNT,
    T_CASE,
    T_ENT,
    T_LINE,
    T_PERSON,
    WAITING,
    A,
    _from_states,
    _lock_batch,
    _lock_cycle,
    _now,
    _require,
    _to_state,
)
from huimin.payments.models import (
    BatchState,
    CycleState,
    Entitlement,
    EntitlementStatus,
    LineStatus,
    PaymentBatch,
    PaymentCycle,
    waiting,
)
from huimin.registry.crypto import box


@transaction.atomic
def create_batch(actor: Any, cycle: PaymentCycle, *,
                 layout: str = bankfile.DEFAULT_LAYOUT) -> PaymentBatch:
    """Put every entitlement of the cycle that waits for payment into one new batch."""
    _require(actor, Role.FINANCE_OFFICER, "生成发放批次")
    bankfile.get_layout(layout)
    cycle = _lock_cycle(cycle.pk)
    if not in_user_area(actor, cycle.area.code):
        raise Forbidden("该发放周期不在您的管辖范围内")
    if cycle.state != CycleState.OPEN:
        raise Conflict(f"发放周期 {cycle.number} 已结束")
    now = _now()
    sql.set_based()
    batch = PaymentBatch.objects.create(program=cycle.program, area=cycle.area, cycle=cycle,
                                        claim_year=cycle.claim_year, layout=layout,
                                        created_by=actor)
    from_states = sql.quote(_from_states(Transition.ADD_TO_BATCH))
    to_state = _to_state(Transition.ADD_TO_BATCH)
    try:
        with transaction.atomic(), sql.no_rescans():
            count = sql.execute(
                f"""
                INSERT INTO {T_LINE} (batch_id, case_id, entitlement_id, seq, payee_name,
                    bank_name, bank_account_id, amount_fen, status, bank_reason, live)
                SELECT %s, w.case_id, w.id, w.seq, p.name, w.bank_name, w.bank_account_id,
                    w.amount_fen, '{LineStatus.PENDING}', '', %s
                FROM (
                    -- number the waiting entitlements on narrow rows, then fetch the payee
                    -- an offset against a recovery (抵扣追回) is kept back from the line
                    SELECT e.id, e.case_id, e.bank_account_id,
                        e.amount_fen - e.offset_fen AS amount_fen, a.bank_name,
                        a.person_id, ROW_NUMBER() OVER (ORDER BY e.id) AS seq
                    FROM {T_ENT} e
                    JOIN {T_CASE} c ON c.id = e.case_id
                    JOIN {T_ACCOUNT} a ON a.id = e.bank_account_id
                    WHERE e.cycle_id = %s AND e.status = %s AND a.active = %s
                      AND c.state IN {from_states} AND {WAITING}
                ) w
                JOIN {T_PERSON} p ON p.id = w.person_id
                """,
                [batch.pk, True, cycle.pk, EntitlementStatus.PAYABLE, True])
    except IntegrityError:
        raise Conflict("有案件已在其他未完成的批次中，请刷新后重试") from None
    if count == 0:
        raise ActionError(f"发放周期 {cycle.number} 没有待发放且有有效收款账户的应发明细")
    sql.analyze(T_LINE, count)
    moved = sql.execute(
        f"""UPDATE {T_CASE} SET state = '{to_state}', version = version + 1, updated_at = %s
            WHERE id IN (SELECT case_id FROM {T_LINE} WHERE batch_id = %s)
              AND state IN {from_states}""", [sql.ts(now), batch.pk])
    if moved != count:
        raise Conflict("有案件在生成批次时被他人改动，请重试")
    n, total = sql.fetchone(f"SELECT COUNT(*), COALESCE(SUM(amount_fen), 0) FROM {T_LINE} "
                            f"WHERE batch_id = %s", [batch.pk])
    batch.line_count, batch.total_fen = int(n), int(total)
    batch.save(update_fields=["line_count", "total_fen"])
    ledger.post(cycle=cycle, batch=batch, kind="batch", actor=actor, at=now,
                memo=f"{batch.number} 纳入 {batch.line_count} 笔",
                moves=[(A.IN_BANK, A.PAYABLE, batch.total_fen)])
    left = waiting(Entitlement.objects.filter(cycle=cycle)).count()
    # One event for the whole batch: each case's part of it (纳入发放批次, from approved or a
    # failed payment to in payment) is its line, which names the batch, sequence and amount.
    record(actor, "batch.create", batch, area_code=cycle.area.code, cycle=cycle.pk,
           batch=batch.pk, lines=batch.line_count, total_fen=batch.total_fen, layout=layout,
           still_waiting=left, case_transition=str(Transition.ADD_TO_BATCH),
           case_state=to_state)
    return batch


@transaction.atomic
def release_batch(actor: Any, batch: PaymentBatch) -> PaymentBatch:
    """A county approver releases a batch for export; never the person who built it."""
    _require(actor, Role.COUNTY_APPROVER, "审核放行发放批次")
    locked = _lock_batch(batch.pk)
    if locked.created_by_id == actor.pk:
        raise Forbidden("制表人不能放行自己生成的批次（须两人办理）")
    if locked.state != BatchState.DRAFT:
        raise Conflict(f"批次 {locked.number} 状态为「{locked.state_label}」，不能放行")
    if locked.line_count == 0:
        raise Conflict(f"批次 {locked.number} 已没有明细（均已暂停发放），无须放行")
    locked.state = BatchState.RELEASED
    locked.released_by = actor
    locked.released_at = _now()
    locked.save(update_fields=["state", "released_by", "released_at"])
    record(actor, "batch.release", locked, area_code=locked.area.code,
           lines=locked.line_count, total_fen=locked.total_fen)
    return locked


def render_bank_file(batch: PaymentBatch) -> tuple[bytes, bankfile.Totals]:
    """The bank file of a released batch, in its layout. Same batch, same bytes."""
    import pyarrow as pa

    layout = bankfile.get_layout(batch.layout)
    b = box()
    purpose = f"{batch.claim_year}年度{batch.program.name}"
    number = batch.number
    assert batch.released_at is not None
    pay_date = timezone.localtime(batch.released_at).date()
    sql.set_based()  # the lines are sorted by sequence in memory
    lines = sql.fetch_arrow(
        f"SELECT l.seq, l.payee_name, ba.account_sealed, l.bank_name, l.amount_fen "
        f"FROM {T_LINE} l JOIN {T_ACCOUNT} ba ON ba.id = l.bank_account_id "
        f"WHERE l.batch_id = %s ORDER BY l.seq", [batch.pk],
        [("seq", pa.int64()), ("payee_name", pa.string()), ("account_sealed", pa.string()),
         ("bank_name", pa.string()), ("amount_fen", pa.int64())])
    accounts = [b.unseal(t) for t in lines.column("account_sealed").to_pylist()]
    done = bankfile.render_columns(
        layout, number=number, seq=lines.column("seq"), payee_name=lines.column("payee_name"),
        account=pa.array(accounts, pa.string()), bank_name=lines.column("bank_name"),
        amount_fen=lines.column("amount_fen"), purpose=purpose, pay_date=pay_date)
    if done is not None:
        return done
    rows = zip(lines.column("seq").to_pylist(), lines.column("payee_name").to_pylist(),
               accounts, lines.column("bank_name").to_pylist(),
               lines.column("amount_fen").to_pylist(), strict=True)
    return bankfile.render(layout, (
        bankfile.ExportLine(seq, f"{number}-{seq:06d}", name, account, bank, fen, purpose)
        for seq, name, account, bank, fen in rows), pay_date)


@transaction.atomic
def export_batch(actor: Any, batch: PaymentBatch) -> bytes:
    """Export a released batch: it moves to exported and its file's digest is kept.

    One event, ``batch.export``, for the file handed out now. A batch already exported is
    not exported again: the call is a download (``download_bank_file``), logged as such.
    """
    _require(actor, Role.FINANCE_OFFICER, "导出银行文件")
    locked = _lock_batch(batch.pk)
    if locked.state == BatchState.DRAFT:
        raise Conflict(f"批次 {locked.number} 尚未经县级审批人放行，不能导出")
    if locked.state != BatchState.RELEASED:
        return _download(actor, locked)
    if locked.line_count == 0:
        raise Conflict(f"批次 {locked.number} 已没有明细（均已暂停发放），不能导出")
    data, totals = render_bank_file(locked)
    if (totals.count, totals.total_fen) != (locked.line_count, locked.total_fen):
        raise Conflict("批次明细与控制数不符，请联系管理员")
    digest = hashlib.sha256(data).hexdigest()
    locked.state = BatchState.EXPORTED
    locked.file_sha256 = digest
    locked.body_checksum = totals.checksum
    locked.exported_at = _now()
    locked.save(update_fields=["state", "file_sha256", "body_checksum", "exported_at"])
    record(actor, "batch.export", locked, area_code=locked.area.code, sha256=digest,
           lines=totals.count, total_fen=totals.total_fen, layout=locked.layout)
    return data


def download_bank_file(actor: Any, batch: PaymentBatch) -> bytes:
    """The bank file of an exported batch, the same bytes as at export; changes no state.

    Every download is an audit event (``batch.download``) with the running count, so a file
    handed out twice shows as twice.
    """
    _require(actor, Role.FINANCE_OFFICER, "下载银行文件")
    with transaction.atomic():
        return _download(actor, _lock_batch(batch.pk))


def _download(actor: Any, locked: PaymentBatch) -> bytes:
    if locked.state in (BatchState.DRAFT, BatchState.RELEASED):
        raise Conflict(f"批次 {locked.number} 尚未导出，请先导出银行文件")
    data, _totals = render_bank_file(locked)
    digest = hashlib.sha256(data).hexdigest()
    if locked.file_sha256 != digest:
        raise Conflict("批次内容与首次导出的文件不一致，请联系管理员")
    record(actor, "batch.download", locked, area_code=locked.area.code, sha256=digest,
           n=download_count(locked) + 1)
    return data


def download_count(batch: PaymentBatch) -> int:
    """How many times the exported file was handed out again after its export."""
    return AuditEvent.objects.filter(action="batch.download", object_type="paymentbatch",
                                     object_id=str(batch.pk)).count()

