"""Bank returns (导入回盘) and what follows a failed line: correction and recheck (更正、复核)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.cases.states import State, Transition
from huimin.errors import ActionError, Conflict, RowError
from huimin.lib.sheets import rejected, too_many
from huimin.payments import bankfile, ledger, sql
from huimin.payments.actions._common import (
    T_ACCOUNT,
    T_AUDIT,
    T_CASE,
    T_ENT,
    T_FIX,
    T_LINE,
    A,
    _from_states,
    _lock_batch,
    _now,
    _require,
    _to_state,
)
from huimin.payments.models import (
    NOT_PAID,
    BankReturn,
    BatchState,
    Entitlement,
    LineCorrection,
    LineStatus,
    PaymentBatch,
    PaymentLine,
)
from huimin.registry.crypto import account_hash, box
from huimin.registry.models import BankAccount

#: a change of life stopped the case's payments: a failed line is not sent again
HELD_STATES = (State.SUSPENDED, State.STOPPED, State.TRANSFERRED)


@dataclass(frozen=True)
class _Change:
    line_id: int
    result: str
    reason: str
    case_id: int
    amount_fen: int


RESULT_TRANSITION = {LineStatus.PAID: Transition.MARK_PAID,
                     LineStatus.FAILED: Transition.MARK_FAILED,
                     LineStatus.RETURNED: Transition.MARK_RETURNED}
RESULT_ACTION = {LineStatus.PAID: "case.paid", LineStatus.FAILED: "case.payment_failed",
                 LineStatus.RETURNED: "case.payment_returned"}
RESULT_ACCOUNT = {LineStatus.PAID: A.PAID, LineStatus.FAILED: A.FAILED,
                  LineStatus.RETURNED: A.RETURNED}


def _check_return(batch: PaymentBatch, parsed: bankfile.ParsedReturn) -> list[_Change]:
    """Match every return line with the batch; any mismatch refuses the whole file."""
    prefix = batch.number + "-"
    lines = {seq: (pk, amount, acct_hash, status, case_id)
             for pk, seq, amount, acct_hash, status, case_id in
             PaymentLine.objects.filter(batch=batch)
             .values_list("id", "seq", "amount_fen", "bank_account__account_hash", "status",
                          "case_id")
             .iterator(20000)}
    errors: list[RowError] = []
    changes: list[_Change] = []
    seen: set[int] = set()
    for r in parsed.lines:
        if too_many(errors):
            break  # enough to show; the rest of the file is not looked at
        if not r.reference.startswith(prefix):
            errors.append(RowError(r.row, "流水号", f"{r.reference} 不属于批次 {batch.number}"))
            continue
        tail = r.reference[len(prefix):]
        seq = int(tail) if tail.isascii() and tail.isdigit() and len(tail) <= 12 else -1
        line = lines.get(seq)
        if line is None:
            errors.append(RowError(r.row, "流水号", f"批次 {batch.number} 中没有 {r.reference}"))
            continue
        if seq in seen:
            errors.append(RowError(r.row, "流水号", f"{r.reference} 在文件中重复"))
            continue
        seen.add(seq)
        pk, amount, acct_hash, status, case_id = line
        if r.amount_fen != amount:
            errors.append(RowError(r.row, "金额", "与批次金额不符"))
            continue
        if account_hash(r.account) != acct_hash:
            errors.append(RowError(r.row, "账号", "账号与批次不符（未知账号）"))
            continue
        if status == r.result:
            continue
        if status != LineStatus.PENDING:
            errors.append(RowError(
                r.row, "处理结果", f"该笔已记为「{LineStatus(status).label}」，"
                                  f"不能改为「{LineStatus(r.result).label}」"))
            continue
        changes.append(_Change(pk, r.result, r.reason[:200], case_id, amount))
    missing = len(lines) - len(seen)
    if missing and not errors:
        first = sorted(set(lines) - seen)[:5]
        refs = "、".join(f"{prefix}{s:06d}" for s in first)
        errors.append(RowError(len(parsed.lines) + 2, "笔数",
                               f"回盘缺少 {missing} 笔（如 {refs}），须包含批次全部明细"))
    errors.extend(parsed.problems)
    if errors:
        raise rejected(f"回盘文件有 {len(errors)} 处错误，整个文件未导入", errors)
    return changes


@dataclass(frozen=True)
class _Checked:
    """A return matched with its batch: the lines it changes and what it declares."""

    changes: Any  # (line id, result, reason, case id, amount) rows, or an Arrow table
    n_changes: int
    changed: dict[str, int]  # changes per result
    tallies: dict[str, int]  # lines per result, in the whole file
    sums: dict[str, int]  # fen per result, in the whole file
    lines: int
    totals: bankfile.Totals

    @classmethod
    def of(cls, parsed: bankfile.ParsedReturn, changes: list[_Change]) -> _Checked:
        changed = dict.fromkeys(bankfile.RESULTS, 0)
        for c in changes:
            changed[c.result] += 1
        tallies = dict.fromkeys(bankfile.RESULTS, 0)
        sums = dict.fromkeys(bankfile.RESULTS, 0)
        for r in parsed.lines:
            sums[r.result] += r.amount_fen
            tallies[r.result] += 1
        return cls([(c.line_id, c.result, c.reason, c.case_id, c.amount_fen) for c in changes],
                   len(changes), changed,
                   tallies, sums, len(parsed.lines), parsed.totals)


def _check_return_columns(batch: PaymentBatch,
                          cols: bankfile.ReturnColumns | None) -> _Checked | None:
    """``_check_return`` column-wise, for a return read by ``read_return_columns``: the
    changes when every line matches the batch, None when anything does not (then the
    row-by-row check names each problem)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if cols is None:
        return None
    lines = sql.fetch_arrow(
        f"SELECT l.seq, l.id, l.amount_fen, ba.account_hash, l.status, l.case_id "
        f"FROM {T_LINE} l JOIN {T_ACCOUNT} ba ON ba.id = l.bank_account_id "
        f"WHERE l.batch_id = %s",
        [batch.pk], [("seq", pa.int64()), ("id", pa.int64()), ("amount_fen", pa.int64()),
                     ("account_hash", pa.string()), ("status", pa.string()),
                     ("case_id", pa.int64())])
    n = len(cols)
    prefix = batch.number + "-"
    if lines.num_rows != n or not n:
        return None
    if not pc.all(pc.starts_with(cols.reference, prefix)).as_py():
        return None
    try:
        seq = pc.cast(pc.utf8_slice_codeunits(cols.reference, len(prefix)), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if pc.count_distinct(seq).as_py() != n:
        return None
    at = pc.index_in(seq, value_set=lines.column("seq"))
    if at.null_count:
        return None
    if not pc.all(pc.equal(pc.take(lines.column("amount_fen"), at), cols.amount_fen)).as_py():
        return None
    hashes = pa.array([account_hash(a) for a in cols.account.to_pylist()], pa.string())
    if not pc.all(pc.equal(pc.take(lines.column("account_hash"), at), hashes)).as_py():
        return None
    status = pc.take(lines.column("status"), at)
    changed = pc.not_equal(status, cols.result)
    if pc.any(pc.and_(changed, pc.not_equal(status, LineStatus.PENDING.value))).as_py():
        return None
    changes = pa.table({
        "line_id": pc.filter(pc.take(lines.column("id"), at), changed),
        "result": pc.filter(cols.result, changed),
        "reason": pc.utf8_slice_codeunits(pc.filter(cols.reason, changed), 0, 200),
        "case_id": pc.filter(pc.take(lines.column("case_id"), at), changed),
        "amount_fen": pc.filter(cols.amount_fen, changed),
    })

    def per_result(values: Any, amounts: Any = None) -> dict[str, int]:
        out = {}
        for r in bankfile.RESULTS:
            mask = pc.equal(values, r)
            out[r] = int((pc.sum(mask) if amounts is None
                          else pc.sum(pc.filter(amounts, mask))).as_py() or 0)
        return out

    return _Checked(changes, changes.num_rows, per_result(changes.column("result")),
                    per_result(cols.result), per_result(cols.result, cols.amount_fen), n,
                    cols.totals)


@transaction.atomic
def import_return(actor: Any, batch: PaymentBatch, data: bytes) -> dict[str, int]:
    """Apply a bank return. The whole file is checked first; a bad line refuses all of it.

    Re-importing the same file changes nothing.
    """
    _require(actor, Role.FINANCE_OFFICER, "导入银行回盘")
    locked = _lock_batch(batch.pk)
    if locked.state in (BatchState.DRAFT, BatchState.RELEASED):
        raise Conflict("批次尚未导出银行文件，不能导入回盘")
    digest = hashlib.sha256(data).hexdigest()
    if BankReturn.objects.filter(batch=locked, sha256=digest).exists():
        return {"paid": 0, "failed": 0, "returned": 0, "unchanged": locked.line_count}
    layout = bankfile.get_layout(locked.layout)
    checked = _check_return_columns(
        locked, bankfile.read_return_columns(layout, data, locked.line_count))
    if checked is None:  # row by row, naming every row that is wrong
        parsed = bankfile.parse_return(layout, data, locked.line_count)
        checked = _Checked.of(parsed, _check_return(locked, parsed))
    assert locked.cycle is not None
    now = _now()
    counts = {**checked.changed, "unchanged": checked.lines - checked.n_changes}
    tallies, sums, totals = checked.tallies, checked.sums, checked.totals
    ret = BankReturn.objects.create(
        batch=locked, sha256=digest, line_count=totals.count,
        total_fen=totals.total_fen, paid_count=tallies["paid"], paid_fen=sums["paid"],
        failed_count=tallies["failed"], failed_fen=sums["failed"],
        returned_count=tallies["returned"], returned_fen=sums["returned"],
        changed=checked.n_changes, actor=actor)
    moved_fen = (_apply_changes(actor, locked, ret, checked.changes, checked.n_changes, now)
                 if checked.n_changes else {})
    if not PaymentLine.objects.filter(batch=locked, status=LineStatus.PENDING).exists():
        locked.state = BatchState.RETURNED
        locked.returned_at = locked.returned_at or now
    locked.return_sha256 = digest
    locked.save(update_fields=["state", "returned_at", "return_sha256"])
    # One event for the whole file: each case's part of it (发放成功 / 发放失败 / 资金退回) is
    # its line, which this return settled (``PaymentLine.settled_by``) with the bank's reason.
    record(actor, "batch.import_return", locked, area_code=locked.area.code, sha256=digest,
           cycle=locked.cycle_id, batch=locked.pk, bank_return=ret.pk,
           **{f"{k}_fen": v for k, v in moved_fen.items()}, **counts)
    return counts


def _apply_changes(actor: Any, batch: PaymentBatch, ret: BankReturn, changes: Any, n: int,
                   now: Any) -> dict[str, int]:
    """Set the bank's result on each changed line (``changes``: rows or an Arrow table of
    line id, result, reason, case id, amount) and move its case on; returns the amount moved
    per result."""
    import pyarrow as pa

    assert batch.cycle is not None
    sql.set_based()
    sql.temp_table("pay_return", "line_id bigint, result varchar(10), reason varchar(200), "
                   "case_id bigint, amount_fen bigint", changes)
    in_payment = sql.quote(_from_states(Transition.MARK_PAID))
    moved = 0
    by_state: dict[str, list[str]] = {}
    for res, t in RESULT_TRANSITION.items():
        by_state.setdefault(_to_state(t), []).append(res)
    # A semi-join, the cases updated in the table's order, page after page; hashed, never
    # probed once per line: the statistics of the case table may still say no case is in
    # payment (the batch may have been built minutes ago), and an ANALYZE of the wide case
    # table first costs more than the statement itself at county scale.
    with sql.no_rescans():
        for state, results in sorted(by_state.items()):
            moved += sql.execute(
                f"""UPDATE {T_CASE} SET state = '{state}', version = version + 1,
                        updated_at = %s
                    WHERE id IN (SELECT r.case_id FROM pay_return r
                                 WHERE r.result IN {sql.quote(results)})
                      AND state IN {in_payment}""", [sql.ts(now)])
    if moved != n:
        raise Conflict("有案件在导入回盘时状态不符（不在发放中），整个文件未导入")
    live = sql.quote([LineStatus.PENDING, LineStatus.PAID])
    sql.execute(
        f"""UPDATE {T_LINE} SET status = r.result, bank_reason = r.reason, settled_by_id = %s,
                live = (r.result IN {live})
            FROM pay_return r WHERE {T_LINE}.id = r.line_id""", [ret.pk])
    # and statistics that know them paid: reconciliation, which usually comes next, would
    # otherwise expect no paid line and look each one up by index
    sql.analyze(T_LINE, n)
    sql.analyze(T_CASE, n)
    sql.drop_temp("pay_return")
    # the amounts are the batch's own (the file's were checked equal to them)
    totals: dict[str, int] = {}
    if isinstance(changes, pa.Table):
        for row in changes.group_by("result").aggregate([("amount_fen", "sum")]).to_pylist():
            totals[row["result"]] = int(row["amount_fen_sum"])
    else:
        for _line, res, _reason, _case, fen in changes:
            totals[res] = totals.get(res, 0) + int(fen)
    ledger.post(cycle=batch.cycle, batch=batch, kind="return", actor=actor, at=now,
                memo=f"{batch.number} 回盘",
                moves=[(RESULT_ACCOUNT[LineStatus(res)], A.IN_BANK, total)
                       for res, total in sorted(totals.items())])
    return {str(res): total for res, total in sorted(totals.items())}


@transaction.atomic
def correct_line(actor: Any, line: PaymentLine, *, bank_account: BankAccount,
                 note: str) -> LineCorrection:
    """After a check, give a failed or returned line's entitlement a (new) account.

    The entitlement waits for the next batch again; the line itself never pays.
    """
    _require(actor, Role.FINANCE_OFFICER, "更正发放失败的明细")
    note = note.strip()
    if not note:
        raise ActionError("请填写核实说明（如：已电话核实，账户已更换）")
    locked = (PaymentLine.objects.select_for_update(of=("self",))
              .select_related("batch", "batch__cycle", "case", "bank_account").get(pk=line.pk))
    if locked.status not in NOT_PAID:
        raise Conflict(f"明细 {locked.reference} 状态为「{locked.get_status_display()}」，无须更正")
    if LineCorrection.objects.filter(line=locked).exists():
        raise Conflict(f"明细 {locked.reference} 已更正过")
    if locked.entitlement_id is None:
        raise Conflict(f"明细 {locked.reference} 不属于任何发放周期，不能更正")
    ent = Entitlement.objects.select_for_update().get(pk=locked.entitlement_id)
    case = locked.case
    if case.state in HELD_STATES:
        raise Conflict(f"案件 {case.number} 状态为「{case.state_label}」，暂停期间不能更正重发")
    if not bank_account.active:
        raise ActionError("所选账户已停用")
    if bank_account.person_id not in (case.subject_id, case.applicant_id):
        raise ActionError("收款账户须属于申请人或补贴对象")
    cycle = locked.batch.cycle
    assert cycle is not None
    correction = LineCorrection.objects.create(
        line=locked, old_account_masked=locked.account_masked, bank_account=bank_account,
        note=note[:200], actor=actor)
    ent.bank_account = bank_account
    ent.save(update_fields=["bank_account"])
    source = A.FAILED if locked.status == LineStatus.FAILED else A.RETURNED
    now = _now()
    ledger.post(cycle=cycle, kind="correct", actor=actor, at=now,
                memo=f"{locked.reference} 更正后待重发",
                moves=[(A.PAYABLE, source, locked.amount_fen)])
    same = bank_account.account_hash == locked.bank_account.account_hash
    record(actor, "payment.correct", locked, person_id=case.subject_id, case_id=case.pk,
           area_code=cycle.area.code, cycle=cycle.pk, amount_fen=locked.amount_fen,
           **{"from": str(source)}, line=locked.reference, same_account=same,
           account=bank_account.account_masked, note=note)
    return correction


@transaction.atomic
def recheck_batch(actor: Any, batch: PaymentBatch, *, note: str) -> int:
    """After a check, send every failed or returned line of a batch again to the same account.

    For a fault on the bank's side (a system outage failing a whole file); a wrong account is
    corrected line by line with ``correct_line``. Returns the number of lines rechecked.
    """
    _require(actor, Role.FINANCE_OFFICER, "核实发放失败的明细")
    note = note.strip()
    if not note:
        raise ActionError("请填写核实说明（如：银行系统故障，经核实账户无误）")
    locked = _lock_batch(batch.pk)
    cycle = locked.cycle
    if cycle is None:
        raise Conflict(f"批次 {locked.number} 不属于任何发放周期")
    now = _now()
    sql.set_based()
    not_paid = sql.quote(NOT_PAID)
    where = (f"l.batch_id = %s AND l.status IN {not_paid} AND NOT EXISTS "
             f"(SELECT 1 FROM {T_FIX} k WHERE k.line_id = l.id)")
    sums = sql.fetchall(f"SELECT l.status, COUNT(*), COALESCE(SUM(l.amount_fen), 0) "
                        f"FROM {T_LINE} l WHERE {where} GROUP BY l.status", [locked.pk])
    if not sums:
        return 0
    prefix = f"{locked.number}-"
    reference = ("CAST(%s AS TEXT) || " + ("LPAD(CAST(l.seq AS TEXT), 6, '0')" if sql.is_pg()
                             else "printf('%%06d', l.seq)"))
    data = sql.json_object([
        ("cycle", str(int(cycle.pk))), ("amount_fen", "l.amount_fen"), ("from", "l.status"),
        ("line", reference), ("same_account", "true" if sql.is_pg() else "json('true')"),
        ("account", "ba.account_masked"), ("note", "CAST(%s AS TEXT)")])
    sql.execute(
        f"""INSERT INTO {T_AUDIT} (at, actor_id, action, object_type, object_id, person_id,
                case_id, area_code, data)
            SELECT %s, %s, 'payment.correct', 'paymentline', CAST(l.id AS TEXT), c.subject_id,
                c.id, %s, {data}
            FROM {T_LINE} l JOIN {T_CASE} c ON c.id = l.case_id
            JOIN {T_ACCOUNT} ba ON ba.id = l.bank_account_id WHERE {where}""",
        [sql.ts(now), actor.pk, cycle.area.code, prefix, note[:200], locked.pk])
    with sql.no_rescans():  # a whole failed file can be a million lines
        n = sql.execute(
            f"""INSERT INTO {T_FIX} (line_id, old_account_masked, bank_account_id, note,
                    actor_id, at)
                SELECT l.id, ba.account_masked, e.bank_account_id, %s, %s, %s
                FROM {T_LINE} l JOIN {T_ENT} e ON e.id = l.entitlement_id
                JOIN {T_ACCOUNT} ba ON ba.id = l.bank_account_id WHERE {where}""",
            [note[:200], actor.pk, sql.ts(now), locked.pk])
    ledger.post(cycle=cycle, batch=locked, kind="correct", actor=actor, at=now,
                memo=f"{locked.number} 核实后原账户重发 {n} 笔",
                moves=[(A.PAYABLE, A.FAILED if status == LineStatus.FAILED else A.RETURNED,
                        int(total)) for status, _count, total in sums])
    record(actor, "batch.recheck", locked, area_code=cycle.area.code, cycle=cycle.pk,
           lines=n, note=note)
    return n


def sample_return(batch: PaymentBatch, outcomes: dict[str, str] | None = None,
                  returned: set[str] | None = None) -> bytes:
    """A return file as the bank would send it (for the demo and tests).

    ``outcomes`` maps a line reference to the bank's reason for a failure; references in
    ``returned`` come back as returned (退汇) with that reason.
    """
    outcomes = outcomes or {}
    returned = returned or set()
    layout = bankfile.get_layout(batch.layout)
    b = box()
    number = batch.number

    def lines() -> Any:
        for seq, sealed, fen in (PaymentLine.objects.filter(batch=batch).order_by("seq")
                                 .values_list("seq", "bank_account__account_sealed",
                                              "amount_fen")
                                 .iterator(20000)):
            ref = f"{number}-{seq:06d}"
            reason = outcomes.get(ref, "")
            result = "paid" if not reason else ("returned" if ref in returned else "failed")
            yield ref, b.unseal(sealed), fen, result, reason

    return bankfile.render_return(layout, lines())
