"""Every state change of a payment cycle, batch or line: atomic, audited, set-based.

The batch paths (freezing a cycle, building a batch, applying a return) run as a handful of
SQL statements over the whole set, never a query per row, inside one transaction: a process
killed half-way leaves nothing behind, and running the step again finishes it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from huimin.accounts.access import in_user_area
from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.audit.models import AuditEvent
from huimin.cases.models import Case
from huimin.cases.states import TRANSITIONS, State, Transition
from huimin.errors import ActionError, Conflict, Forbidden, RowError
from huimin.lib.sheets import rejected, too_many
from huimin.payments import bankfile, ledger, sql
from huimin.payments.models import (
    NOT_PAID,
    BankReturn,
    BatchState,
    CycleState,
    Entitlement,
    EntitlementStatus,
    HeldReason,
    LedgerAccount,
    LineCorrection,
    LineStatus,
    Overpayment,
    PaymentBatch,
    PaymentCycle,
    PaymentLine,
    waiting,
)
from huimin.programs.models import Program
from huimin.registry.crypto import account_hash, box
from huimin.registry.models import BankAccount

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


# ---------------------------------------------------------------------------------------------
# Cycles


def _lock_cycle(pk: int) -> PaymentCycle:
    """The cycle row, locked for this transaction; a second builder is refused, not queued."""
    qs = PaymentCycle.objects.select_related("program", "area")
    try:
        if sql.is_pg():
            return qs.select_for_update(nowait=True, of=("self",)).get(pk=pk)
        return qs.select_for_update().get(pk=pk)
    except OperationalError:
        raise Conflict("该发放周期正在由他人处理，请稍后再试") from None


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
    period, cut_off = check_cycle(claim_year, period, cut_off, timezone.localdate(now))
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
    held = (
        f"CASE WHEN p.death_date IS NOT NULL AND p.death_date <= %s THEN '{HeldReason.DIED}' "
        f"WHEN pa.code NOT LIKE %s THEN '{HeldReason.MOVED}' "
        f"WHEN NOT c.eligible THEN '{HeldReason.INELIGIBLE}' "
        f"WHEN ba.id IS NULL OR NOT ba.active OR ba.person_id NOT IN "
        f"(c.subject_id, COALESCE(c.applicant_id, c.subject_id)) "
        f"THEN '{HeldReason.NO_ACCOUNT}' ELSE '' END"
    )
    # Held for want of an account, and the case has a valid one now: payable from this build.
    sql.execute(
        f"""UPDATE {T_ENT} SET status = '{EntitlementStatus.PAYABLE}', held_reason = '',
                bank_account_id = (SELECT c.bank_account_id FROM {T_CASE} c
                                   WHERE c.id = {T_ENT}.case_id)
            WHERE cycle_id = %s AND status = '{EntitlementStatus.HELD}'
              AND held_reason = '{HeldReason.NO_ACCOUNT}'
              AND EXISTS (SELECT 1 FROM {T_CASE} c JOIN {T_ACCOUNT} ba
                          ON ba.id = c.bank_account_id
                          WHERE c.id = {T_ENT}.case_id AND c.state = '{State.APPROVED}'
                            AND ba.active = %s AND ba.person_id IN
                            (c.subject_id, COALESCE(c.applicant_id, c.subject_id)))""",
        [cycle.pk, True])
    with sql.no_rescans():
        inserted = _freeze(cycle, program, claim_year, prefix, held, now, cut_off)
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
    record(actor, "cycle.build", cycle, area_code=area.code, cycle=cycle.pk,
           amount_fen=int(new_fen), frozen=inserted, payable=int(new_count),
           cut_off=cut_off.isoformat(), created=created)
    cycle.refresh_from_db()
    return cycle


def _freeze(cycle: PaymentCycle, program: Program, claim_year: int, prefix: str, held: str,
            now: Any, cut_off: date) -> int:
    """Insert the entitlements of the approved cases not frozen yet; returns how many."""
    return sql.execute(
        f"""
        INSERT INTO {T_ENT} (cycle_id, case_id, bank_account_id,
            amount_fen, months, rule_version, case_version, inputs, subject_death_date,
            status, held_reason, frozen_at)
        SELECT %s, s.id, s.bank_account_id, s.amount_fen, s.months,
            s.rule_version, s.version, s.explanation, s.death_date,
            CASE WHEN s.reason = '' THEN '{EntitlementStatus.PAYABLE}'
                 ELSE '{EntitlementStatus.HELD}' END,
            s.reason, %s
        FROM (
            SELECT c.id, c.subject_id, c.area_id, c.bank_account_id, c.amount_fen, c.months,
                COALESCE({sql.json_text("c.explanation", "rule_version")}, '') AS rule_version,
                c.version, c.explanation, p.death_date,
                {held} AS reason
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
        [cycle.pk, sql.ts(now), sql.day(cut_off), prefix + "%", program.pk, claim_year,
         prefix + "%"],
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


# ---------------------------------------------------------------------------------------------
# Batches


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
                    SELECT e.id, e.case_id, e.bank_account_id, e.amount_fen, a.bank_name,
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


def _lock_batch(pk: int) -> PaymentBatch:
    return (PaymentBatch.objects.select_for_update(of=("self",))
            .select_related("program", "area", "cycle").get(pk=pk))


@transaction.atomic
def release_batch(actor: Any, batch: PaymentBatch) -> PaymentBatch:
    """A county approver releases a batch for export; never the person who built it."""
    _require(actor, Role.COUNTY_APPROVER, "审核放行发放批次")
    locked = _lock_batch(batch.pk)
    if locked.created_by_id == actor.pk:
        raise Forbidden("制表人不能放行自己生成的批次（须两人办理）")
    if locked.state != BatchState.DRAFT:
        raise Conflict(f"批次 {locked.number} 状态为「{locked.state_label}」，不能放行")
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


# ---------------------------------------------------------------------------------------------
# Returns


@dataclass(frozen=True)
class _Change:
    line_id: int
    result: str
    reason: str


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
    lines = {seq: (pk, amount, acct_hash, status) for pk, seq, amount, acct_hash, status in
             PaymentLine.objects.filter(batch=batch)
             .values_list("id", "seq", "amount_fen", "bank_account__account_hash", "status")
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
        pk, amount, acct_hash, status = line
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
        changes.append(_Change(pk, r.result, r.reason[:200]))
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

    changes: Any  # (line id, result, reason) rows, or an Arrow table of them
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
        return cls([(c.line_id, c.result, c.reason) for c in changes], len(changes), changed,
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
        f"SELECT l.seq, l.id, l.amount_fen, ba.account_hash, l.status FROM {T_LINE} l "
        f"JOIN {T_ACCOUNT} ba ON ba.id = l.bank_account_id WHERE l.batch_id = %s",
        [batch.pk], [("seq", pa.int64()), ("id", pa.int64()), ("amount_fen", pa.int64()),
                     ("account_hash", pa.string()), ("status", pa.string())])
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
    line id, result, reason) and move its case on; returns the amount moved per result."""
    assert batch.cycle is not None
    sql.set_based()
    sql.temp_table("pay_return", "line_id bigint, result varchar(10), reason varchar(200)",
                   changes)
    in_payment = sql.quote(_from_states(Transition.MARK_PAID))
    # statistics that know the cases are in payment now (the batch may have been built
    # minutes ago): else the planner expects none and probes the cases one by one
    sql.analyze(T_CASE, n)
    moved = 0
    by_state: dict[str, list[str]] = {}
    for res, t in RESULT_TRANSITION.items():
        by_state.setdefault(_to_state(t), []).append(res)
    for state, results in sorted(by_state.items()):
        # a semi-join: the cases are updated in the table's order, page after page
        moved += sql.execute(
            f"""UPDATE {T_CASE} SET state = '{state}', version = version + 1, updated_at = %s
                WHERE id IN (SELECT l.case_id FROM pay_return r
                             JOIN {T_LINE} l ON l.id = r.line_id
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
    rows = sql.fetchall(
        f"""SELECT r.result, SUM(l.amount_fen) FROM pay_return r
            JOIN {T_LINE} l ON l.id = r.line_id GROUP BY r.result""")
    sql.drop_temp("pay_return")
    ledger.post(cycle=batch.cycle, batch=batch, kind="return", actor=actor, at=now,
                memo=f"{batch.number} 回盘",
                moves=[(RESULT_ACCOUNT[LineStatus(res)], A.IN_BANK, int(total))
                       for res, total in rows])
    return {str(res): int(total) for res, total in rows}


# ---------------------------------------------------------------------------------------------
# Corrections and overpayments


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
