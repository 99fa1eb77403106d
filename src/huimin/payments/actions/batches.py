"""Batches: build (生成批次), check (导出前检查), release (放行), export (导出银行文件),
download, and for a batch that cannot go out: another layout (更换格式) or cancel (作废)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from huimin.accounts.access import in_user_area
from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.audit.models import AuditEvent
from huimin.cases.states import State, Transition
from huimin.errors import ActionError, Conflict, FileRejected, Forbidden, RowError
from huimin.payments import bankfile, ledger, sql
from huimin.payments.actions._common import (
    T_ACCOUNT,
    T_AUDIT,
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
    NOT_PAID,
    BatchState,
    CycleState,
    Entitlement,
    EntitlementStatus,
    LineStatus,
    PaymentBatch,
    PaymentCycle,
    PaymentLine,
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


#: batches whose file has not gone to a bank: they may change layout or be cancelled
NOT_SENT = (BatchState.DRAFT, BatchState.RELEASED)
#: who may cancel a batch not yet sent (the builder's side or the approver's)
CANCEL_ROLES = (Role.FINANCE_OFFICER, Role.COUNTY_APPROVER)


def check_batch(batch: PaymentBatch, layout: str | None = None) -> list[RowError]:
    """What the batch's bank file in ``layout`` (default its own) could not carry, every
    line named with its file row and reference: a payee or bank name outside the layout's
    encoding (GBK). Empty when the file can be written. Reads only."""
    lay = bankfile.get_layout(layout or batch.layout)
    number = batch.number
    rows = (PaymentLine.objects.filter(batch_id=batch.pk).order_by("seq")
            .values_list("seq", "payee_name", "bank_name").iterator(20000))
    return bankfile.unencodable(lay, (
        bankfile.ExportLine(seq, f"{number}-{seq:06d}", name, "", bank, 0, "")
        for seq, name, bank in rows))


def _refuse_unwritable(batch: PaymentBatch, what: str) -> None:
    problems = check_batch(batch)
    if problems:
        name = bankfile.get_layout(batch.layout).name
        raise FileRejected(f"批次 {batch.number} 有 {len(problems)} 处无法按「{name}」写出，"
                           f"不能{what}：请改用其他银行文件格式，或作废本批次", problems)


@transaction.atomic
def release_batch(actor: Any, batch: PaymentBatch) -> PaymentBatch:
    """A county approver releases a batch for export; never the person who built it, and
    never a batch whose bank file could not be written (``check_batch``)."""
    _require(actor, Role.COUNTY_APPROVER, "审核放行发放批次")
    locked = _lock_batch(batch.pk)
    if locked.created_by_id == actor.pk:
        raise Forbidden("制表人不能放行自己生成的批次（须两人办理）")
    if locked.state != BatchState.DRAFT:
        raise Conflict(f"批次 {locked.number} 状态为「{locked.state_label}」，不能放行")
    if locked.line_count == 0:
        raise Conflict(f"批次 {locked.number} 已没有明细（均已暂停发放），无须放行")
    _refuse_unwritable(locked, "放行")
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
    _refuse_unwritable(locked, "导出")
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


def download_bank_file(actor: Any, batch: PaymentBatch, *,
                       confirm_returned: bool = False) -> bytes:
    """The bank file of an exported batch, the same bytes as at export; changes no state.

    Every download is an audit event (``batch.download``) with the running count, so a file
    handed out twice shows as twice. A batch the bank has answered already (已回盘) is handed
    out only with ``confirm_returned``: the bank must not be sent it again.
    """
    _require(actor, Role.FINANCE_OFFICER, "下载银行文件")
    with transaction.atomic():
        return _download(actor, _lock_batch(batch.pk), confirm_returned=confirm_returned)


def returned_on(batch: PaymentBatch) -> str:
    """The day (Asia/Shanghai) the bank's return of ``batch`` was imported, for warnings."""
    assert batch.returned_at is not None
    return timezone.localtime(batch.returned_at).strftime("%Y-%m-%d")


def _download(actor: Any, locked: PaymentBatch, *, confirm_returned: bool = False) -> bytes:
    if locked.state in (BatchState.DRAFT, BatchState.RELEASED):
        raise Conflict(f"批次 {locked.number} 尚未导出，请先导出银行文件")
    if locked.state == BatchState.CANCELLED:
        raise Conflict(f"批次 {locked.number} 已作废，没有银行文件")
    if locked.state == BatchState.RETURNED and not confirm_returned:
        raise Conflict(f"批次 {locked.number} 已于 {returned_on(locked)} 回盘，银行已处理过本批次；"
                       "再次下载的文件切勿再提交银行。确需下载（如存档），请确认后再下载")
    data, _totals = render_bank_file(locked)
    digest = hashlib.sha256(data).hexdigest()
    if locked.file_sha256 != digest:
        raise Conflict("批次内容与首次导出的文件不一致，请联系管理员")
    record(actor, "batch.download", locked, area_code=locked.area.code, sha256=digest,
           n=download_count(locked) + 1, after_return=locked.state == BatchState.RETURNED)
    return data


def download_count(batch: PaymentBatch) -> int:
    """How many times the exported file was handed out again after its export."""
    return AuditEvent.objects.filter(action="batch.download", object_type="paymentbatch",
                                     object_id=str(batch.pk)).count()



def _lock_unsent(actor: Any, batch: PaymentBatch, what: str) -> PaymentBatch:
    locked = _lock_batch(batch.pk)
    if not in_user_area(actor, locked.area.code):
        raise Forbidden("该发放批次不在您的管辖范围内")
    if locked.state not in NOT_SENT:
        raise Conflict(f"批次 {locked.number} 状态为「{locked.state_label}」，"
                       f"只有尚未导出的批次可以{what}")
    return locked


@transaction.atomic
def relayout_batch(actor: Any, batch: PaymentBatch, *, layout: str, note: str) -> PaymentBatch:
    """Write a batch not yet exported in another bank layout (e.g. UTF-8 when a payee's name
    is outside GBK). Its lines, totals and release stay; the new layout must carry them all."""
    _require(actor, Role.FINANCE_OFFICER, "更换批次的银行文件格式")
    new = bankfile.get_layout(layout)
    note = (note or "").strip()
    if not note:
        raise ActionError("更换说明：请填写原因（如：户名含生僻字，农信社格式无法写出）")
    locked = _lock_unsent(actor, batch, "更换银行文件格式")
    if locked.layout == new.code:
        raise ActionError(f"银行文件格式：批次 {locked.number} 已是「{new.name}」")
    problems = check_batch(locked, new.code)
    if problems:
        raise FileRejected(f"改用「{new.name}」仍有 {len(problems)} 处无法写出，未更换",
                           problems)
    old = locked.layout
    locked.layout = new.code
    locked.save(update_fields=["layout"])
    record(actor, "batch.relayout", locked, area_code=locked.area.code, old=old, new=new.code,
           note=note[:200], state=locked.state)
    return locked


@transaction.atomic
def cancel_batch(actor: Any, batch: PaymentBatch, *, reason: str) -> int:
    """Cancel a batch that never went to a bank (draft or released): its lines leave it, each
    case goes back to where the batch took it from (已确认，待发放, or 发放失败 when an earlier
    line failed) and its entitlement waits for a new batch; the money goes back from 银行在途
    to 应付补贴 against the batch. One ``batch.cancel`` event, and one ``payment.unbatch`` per
    case naming its line. Returns the number of lines taken out."""
    if getattr(actor, "role", None) not in CANCEL_ROLES:
        raise Forbidden("只有财务人员或县级审批人可以作废发放批次")
    reason = (reason or "").strip()
    if not reason:
        raise ActionError("作废原因：请填写（如：户名含生僻字无法导出，改为重新生成批次）")
    locked = _lock_unsent(actor, batch, "作废")
    cycle = locked.cycle
    assert cycle is not None
    now = _now()
    sql.set_based()
    n, total = sql.fetchone(f"SELECT COUNT(*), COALESCE(SUM(amount_fen), 0) FROM {T_LINE} "
                            f"WHERE batch_id = %s", [locked.pk])
    n, total = int(n), int(total)
    in_payment = _to_state(Transition.ADD_TO_BATCH)
    earlier = (f"EXISTS (SELECT 1 FROM {T_LINE} f WHERE f.case_id = {T_CASE}.id "
               f"AND f.status IN {sql.quote(NOT_PAID)})")
    back = f"CASE WHEN {earlier} THEN '{State.PAYMENT_FAILED}' ELSE '{State.APPROVED}' END"
    prefix = f"{locked.number}-"
    reference = ("CAST(%s AS TEXT) || " + ("LPAD(CAST(l.seq AS TEXT), 6, '0')" if sql.is_pg()
                                           else "printf('%%06d', l.seq)"))
    data = sql.json_object([
        ("cycle", str(int(cycle.pk))), ("batch", str(int(locked.pk))), ("line", reference),
        ("amount_fen", "l.amount_fen"), ("old", f"'{in_payment}'"), ("new", "c.state"),
        ("reason", "CAST(%s AS TEXT)")])
    moved = sql.execute(
        f"""UPDATE {T_CASE} SET state = {back}, version = version + 1, updated_at = %s
            WHERE id IN (SELECT case_id FROM {T_LINE} WHERE batch_id = %s)
              AND state = '{in_payment}'""", [sql.ts(now), locked.pk])
    sql.execute(
        f"""INSERT INTO {T_AUDIT} (at, actor_id, action, object_type, object_id, person_id,
                case_id, area_code, data)
            SELECT %s, %s, 'payment.unbatch', 'case', CAST(c.id AS TEXT), c.subject_id,
                c.id, %s, {data}
            FROM {T_LINE} l JOIN {T_CASE} c ON c.id = l.case_id WHERE l.batch_id = %s""",
        [sql.ts(now), actor.pk, locked.area.code, prefix, reason[:200], locked.pk])
    PaymentLine.objects.filter(batch_id=locked.pk).delete()
    ledger.post(cycle=cycle, batch=locked, kind="batch", actor=actor, at=now,
                memo=f"{locked.number} 作废，{n} 笔退回应付",
                moves=[(A.PAYABLE, A.IN_BANK, total)])
    before = locked.state
    locked.state = BatchState.CANCELLED
    locked.line_count = 0
    locked.total_fen = 0
    locked.cancelled_at = now
    locked.cancel_reason = reason[:200]
    locked.save(update_fields=["state", "line_count", "total_fen", "cancelled_at",
                               "cancel_reason"])
    record(actor, "batch.cancel", locked, area_code=locked.area.code, cycle=cycle.pk,
           lines=n, total_fen=total, cases_freed=moved, state_before=before,
           layout=locked.layout, reason=reason[:200])
    return n
