"""Reconciliation of a payment cycle: entitlements vs ledger vs bank.

- 帐帐相符 (books agree with books): every journal entry balances; the stored ledger equals
  the one rebuilt from the audit events; each ledger account equals the detail it summarises
  (entitlements and payment lines).
- 帐实相符 (books agree with the bank): what each batch sent equals what the ledger moved to
  the bank; what the bank's return declared paid, failed and returned equals the ledger.
- 帐票相符 (books agree with the vouchers): frozen entitlements agree with their cases and
  with the lines paid from them; no case paid twice; no payment to a subject who died before
  the cut-off left unrecovered.

Each variance is listed with its cause.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from huimin.cases.models import Case
from huimin.cases.states import State
from huimin.lib.cells import neutralize, string_cells
from huimin.lib.money import fen_to_yuan
from huimin.payments import ledger
from huimin.payments.models import (
    BankReturn,
    BankStatement,
    BatchState,
    Entitlement,
    EntitlementStatus,
    LedgerAccount,
    LineStatus,
    MovementStatus,
    PaymentBatch,
    PaymentCycle,
    PaymentLine,
    Posting,
    Recovery,
    RecoveryMethod,
    RecoveryMovement,
    waiting,
)

A = LedgerAccount
BOOKS = "帐帐相符"
BANK = "帐实相符"
VOUCHERS = "帐票相符"
CHECKS = (BOOKS, BANK, VOUCHERS)
LIMIT = 1000  # variances listed per kind; the count says how many there are in all


@dataclass(frozen=True)
class Variance:
    check: str
    item: str
    expected_fen: int | None
    actual_fen: int | None
    cause: str

    @property
    def difference_fen(self) -> int | None:
        if self.expected_fen is None or self.actual_fen is None:
            return None
        return self.actual_fen - self.expected_fen


@dataclass(frozen=True)
class Balance:
    account: str
    label: str
    ledger_fen: int
    detail_fen: int
    events_fen: int


@dataclass
class Report:
    cycle: PaymentCycle
    balances: list[Balance]
    variances: list[Variance] = field(default_factory=list)
    more: int = 0  # variances found but not listed
    at: Any = None

    def ok(self, check: str) -> bool:
        return not any(v.check == check for v in self.variances)

    @property
    def all_ok(self) -> bool:
        return not self.variances and not self.more


def _sum(qs: Any, expr: Any = "amount_fen") -> int:
    return int(qs.aggregate(s=Sum(expr))["s"] or 0)


def detail_balances(cycle: PaymentCycle) -> dict[str, int]:
    """What each ledger account should hold, from the entitlements and lines themselves."""
    ents = Entitlement.objects.filter(cycle=cycle, status=EntitlementStatus.PAYABLE)
    lines = PaymentLine.objects.filter(batch__cycle=cycle)
    by_status = {row["status"]: int(row["s"] or 0) for row in
                 lines.filter(correction__isnull=True).values("status")
                 .annotate(s=Sum("amount_fen")).order_by()}
    paid = _sum(lines.filter(status=LineStatus.PAID))
    recoveries = Recovery.objects.filter(cycle=cycle)
    over = _sum(recoveries)
    settled = {(row["method"]): int(row["s"] or 0) for row in
               RecoveryMovement.objects.filter(recovery__cycle=cycle, status=MovementStatus.DONE)
               .values("method").annotate(s=Sum("amount_fen")).order_by()}
    return {
        A.ALLOCATION: -_sum(ents),
        # an offset against a recovery is kept back from what the entitlement pays
        A.PAYABLE: _sum(waiting(ents), F("amount_fen") - F("offset_fen")),
        A.IN_BANK: by_status.get(LineStatus.PENDING, 0),
        A.PAID: paid - over,
        A.FAILED: by_status.get(LineStatus.FAILED, 0),
        A.RETURNED: by_status.get(LineStatus.RETURNED, 0),
        # receivables: what the open recoveries still have to recover
        A.RECOVERABLE: _sum(recoveries, F("amount_fen") - F("settled_fen")),
        A.RECOVERED: (settled.get(RecoveryMethod.REPAYMENT, 0)
                      + settled.get(RecoveryMethod.OFFSET, 0)),
        A.WRITTEN_OFF: settled.get(RecoveryMethod.WRITE_OFF, 0),
        A.OFFSET: _sum(ents, "offset_fen"),
    }


def reconcile(cycle: PaymentCycle) -> Report:
    stored = ledger.balances(cycle)
    detail = detail_balances(cycle)
    events = ledger.rebuild_from_events(cycle)
    report = Report(cycle, [Balance(a, A(a).label, stored[a], detail[a], events[a])
                            for a in A.values], at=timezone.now())
    add = report.variances.append
    _books(report, add, stored, detail, events)
    _bank(report, add)
    _vouchers(report, add)
    return report


def _books(report: Report, add: Any, stored: dict[str, int], detail: dict[str, int],
           events: dict[str, int]) -> None:
    for pk, kind, diff in ledger.unbalanced_entries(report.cycle):
        add(Variance(BOOKS, f"记账凭证 #{pk}（{kind}）", 0, diff, "凭证借贷不平衡"))
    for b in report.balances:
        if b.ledger_fen != b.events_fen:
            add(Variance(BOOKS, f"科目「{b.label}」", b.events_fen, b.ledger_fen,
                         "总账与按审计事件重建的账不符：有未留痕的记账或被改动的分录"))
        if b.ledger_fen != b.detail_fen:
            add(Variance(BOOKS, f"科目「{b.label}」", b.detail_fen, b.ledger_fen,
                         "总账与明细账（应发明细、发放明细）不符"))
    total = sum(stored.values())
    if total != 0:
        add(Variance(BOOKS, "全部科目", 0, total, "各科目余额合计不为零：借贷不平衡"))
    if report.cycle.payable_fen != -stored[A.ALLOCATION]:
        add(Variance(BOOKS, f"周期 {report.cycle.number} 应发合计", report.cycle.payable_fen,
                     -stored[A.ALLOCATION], "周期登记的应发金额与拨款科目不符"))


def _bank(report: Report, add: Any) -> None:
    cycle = report.cycle
    batches = list(PaymentBatch.objects.filter(cycle=cycle).order_by("id"))
    sent = {row["entry__batch"]: int(row["s"] or 0) for row in
            Posting.objects.filter(entry__cycle=cycle, entry__kind="batch", account=A.IN_BANK)
            .values("entry__batch").annotate(s=Sum("amount_fen")).order_by()}
    results = {(row["entry__batch"], row["account"]): int(row["s"] or 0) for row in
               Posting.objects.filter(entry__cycle=cycle, entry__kind="return")
               .exclude(account=A.IN_BANK).values("entry__batch", "account")
               .annotate(s=Sum("amount_fen")).order_by()}
    latest: dict[int, BankReturn] = {}
    for r in BankReturn.objects.filter(batch__cycle=cycle).order_by("id"):
        latest[r.batch_id] = r
    statements: dict[int, BankStatement] = {}
    for st in BankStatement.objects.filter(batch__cycle=cycle).order_by("id"):
        statements[st.batch_id] = st
    for b in batches:
        _statement(statements.get(b.pk), b, add)
        if sent.get(b.pk, 0) != b.total_fen:
            add(Variance(BANK, f"批次 {b.number} 送银行金额", b.total_fen, sent.get(b.pk, 0),
                         "银行文件控制数与记入「银行在途」的金额不符"))
        ret = latest.get(b.pk)
        if b.state == BatchState.RETURNED and ret is None:
            add(Variance(BANK, f"批次 {b.number}", None, None, "批次标为已回盘但没有回盘记录"))
        if ret is None:
            if b.state == BatchState.EXPORTED and b.exported_at is not None:
                add(Variance(BANK, f"批次 {b.number}", b.total_fen, None,
                             "已导出银行文件，尚未收到回盘：资金在途"))
            continue
        if ret.total_fen != b.total_fen or ret.line_count != b.line_count:
            add(Variance(BANK, f"批次 {b.number} 回盘控制数", b.total_fen, ret.total_fen,
                         f"回盘笔数 {ret.line_count}、金额与批次（{b.line_count} 笔）不符"))
        for label, account, bank_fen in (("成功", A.PAID, ret.paid_fen),
                                         ("失败", A.FAILED, ret.failed_fen),
                                         ("退回", A.RETURNED, ret.returned_fen)):
            books = results.get((b.pk, account), 0)
            if books != bank_fen:
                add(Variance(BANK, f"批次 {b.number} 回盘{label}", bank_fen, books,
                             f"银行回盘「{label}」金额与账上记录不符"))


def _statement(st: BankStatement | None, b: PaymentBatch, add: Any) -> None:
    """The latest bank statement of a batch (对账单): each mismatch it named is a variance."""
    if st is None or st.agrees:
        return
    for m in st.mismatches:
        add(Variance(BANK, f"批次 {b.number} 对账单 {m['reference']}", None, None,
                     f"银行对账单与账上不符：{m['reason']}"))


#: the states of a case whose line the bank paid
PAID_STATES = (State.PAID, State.SUSPENDED, State.STOPPED, State.TRANSFERRED)


def _vouchers(report: Report, add: Any) -> None:
    cycle = report.cycle

    def each(qs: Any, variance: Callable[[Any], Variance]) -> None:
        """A variance for each of the first LIMIT rows; the rest are counted (a second scan
        only when there are more: a sound cycle costs one scan per check)."""
        rows = list(qs[:LIMIT + 1])
        for row in rows[:LIMIT]:
            add(variance(row))
        if len(rows) > LIMIT:
            report.more += qs.count() - LIMIT

    # the bulk tables' references are not checked row by row by the database: check them here
    case_exists = Exists(Case.objects.filter(pk=OuterRef("case_id")))
    each(Entitlement.objects.filter(cycle=cycle).exclude(case_exists).order_by("id"),
         lambda e: Variance(VOUCHERS, f"应发明细 #{e.pk}", None, None,
                            f"所属案件 #{e.case_id} 不存在"))
    # a line is sound when it pays an entitlement of this cycle for its own case (whose case
    # exists, by the check above)
    lines = PaymentLine.objects.filter(batch__cycle=cycle)
    own = Entitlement.objects.filter(pk=OuterRef("entitlement_id"), case_id=OuterRef("case_id"),
                                     cycle_id=cycle.pk)
    each(lines.exclude(Exists(own)).select_related("batch").order_by("id"),
         lambda ln: Variance(VOUCHERS, f"发放明细 {ln.reference}", None, ln.amount_fen,
                             "所属应发明细不存在、不属于本周期，或与案件不对应"))
    # A case recalculated after it was paid (a death, a move) owes the difference back: the
    # frozen amount less what was made recoverable of its paid lines is the case's amount
    # (a line found not due as a whole leaves the case's amount as it was).
    owed = (Recovery.objects.filter(line__entitlement_id=OuterRef("pk"))
            .values("line__entitlement_id").annotate(s=Sum("amount_fen")).values("s"))
    each(Entitlement.objects.filter(cycle=cycle, status=EntitlementStatus.PAYABLE)
         .annotate(owed=Coalesce(Subquery(owed), 0))
         .exclude(Q(case__amount_fen=F("amount_fen"))
                  | Q(case__amount_fen=F("amount_fen") - F("owed")))
         .select_related("case").order_by("id"),
         lambda e: Variance(VOUCHERS, f"案件 {e.case.number}", e.amount_fen, e.case.amount_fen,
                            "案件金额在冻结后变更：冻结的应发金额未随之调整，须另行补发或追回"))
    each(lines.exclude(amount_fen=F("entitlement__amount_fen") - F("entitlement__offset_fen"))
         .select_related("batch").order_by("id"),
         lambda ln: Variance(VOUCHERS, f"发放明细 {ln.reference}", None, ln.amount_fen,
                             "发放金额与冻结的应发金额（减去抵扣追回）不符"))
    each(lines.filter(status=LineStatus.PAID).values("case_id").annotate(n=Count("id"))
         .filter(n__gt=1).order_by("case_id"),
         lambda row: Variance(VOUCHERS, f"案件 #{row['case_id']}", 1, row["n"],
                              "同一案件支付多次"))
    recovered = Recovery.objects.filter(line_id=OuterRef("pk"))
    each(lines.filter(status=LineStatus.PAID).exclude(Exists(recovered)).filter(
                      case__subject__death_date__isnull=False,
                      case__subject__death_date__lte=cycle.cut_off)
         .select_related("batch", "case").order_by("id"),
         lambda ln: Variance(VOUCHERS, f"发放明细 {ln.reference}", 0, ln.amount_fen,
                             "补贴对象在截止日前已死亡（冻结后才登记），已发放，应登记追回"))
    # paid, then suspended, stopped or handed over after a change of life: still paid
    each(lines.filter(status=LineStatus.PAID).exclude(case__state__in=PAID_STATES)
         .select_related("batch", "case").order_by("id"),
         lambda ln: Variance(VOUCHERS, f"发放明细 {ln.reference}", None, ln.amount_fen,
                             f"银行已支付，案件状态却为「{ln.case.state_label}」"))
    paid_lines = PaymentLine.objects.filter(case=OuterRef("case"), status=LineStatus.PAID)
    each(Entitlement.objects.filter(cycle=cycle, case__state=State.PAID)
         .exclude(Exists(paid_lines)).select_related("case").order_by("id"),
         lambda e: Variance(VOUCHERS, f"案件 {e.case.number}", e.amount_fen, 0,
                            "案件显示已发放，但没有银行支付成功的记录"))


    # receivables: each recovery's settled amount is what its movements settled
    done = (RecoveryMovement.objects.filter(recovery_id=OuterRef("pk"), status=MovementStatus.DONE)
            .values("recovery_id").annotate(s=Sum("amount_fen")).values("s"))
    each(Recovery.objects.filter(cycle=cycle).annotate(done=Coalesce(Subquery(done), 0))
         .exclude(settled_fen=F("done")).order_by("id"),
         lambda r: Variance(VOUCHERS, f"应追回 {r.number}", r.done, r.settled_fen,
                            "已追回及核销金额与追回记录合计不符"))
    each(Recovery.objects.filter(cycle=cycle).exclude(line__batch__cycle=cycle).order_by("id"),
         lambda r: Variance(VOUCHERS, f"应追回 {r.number}", None, r.amount_fen,
                            "应追回款项没有本周期已支付的发放明细"))
    offsets = (RecoveryMovement.objects.filter(entitlement_id=OuterRef("pk"),
                                               method=RecoveryMethod.OFFSET,
                                               status=MovementStatus.DONE)
               .values("entitlement_id").annotate(s=Sum("amount_fen")).values("s"))
    each(Entitlement.objects.filter(cycle=cycle).annotate(o=Coalesce(Subquery(offsets), 0))
         .exclude(offset_fen=F("o")).select_related("case").order_by("id"),
         lambda e: Variance(VOUCHERS, f"案件 {e.case.number}", e.o, e.offset_fen,
                            "应发的抵扣金额与抵扣追回记录不符"))


def summary(report: Report) -> dict[str, Any]:
    by_check = {c: [v for v in report.variances if v.check == c] for c in CHECKS}
    return {"by_check": by_check, "ok": {c: not by_check[c] for c in CHECKS}}


def to_xlsx(report: Report) -> bytes:
    """The reconciliation as a workbook: summary, account balances, variances.

    Every str is a string cell (never a formula); names and causes go through
    ``cells.neutralize``; amounts are written as they are."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    cycle = report.cycle
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "汇总"
    bold = Font(bold=True)
    rows: list[list[Any]] = [
        ["发放周期", cycle.number], ["项目", neutralize(cycle.program.name)],
        ["区域", neutralize(cycle.area.name)],
        ["年度", cycle.claim_year], ["截止日", cycle.cut_off.isoformat()],
        ["应发人数", cycle.payable_count], ["应发金额（元）", fen_to_yuan(cycle.payable_fen)],
        ["暂停人数", cycle.held_count], ["暂停金额（元）", fen_to_yuan(cycle.held_fen)],
        ["对账时间", timezone.localtime(report.at).strftime("%Y-%m-%d %H:%M:%S")],
    ]
    for check in CHECKS:
        n = sum(1 for v in report.variances if v.check == check)
        rows.append([check, "相符" if n == 0 else f"不符（{n} 处）"])
    if report.more:
        rows.append(["未列出的差异", report.more])
    for row in rows:
        ws.append(string_cells(ws, row))
    for cell in ws["A"]:
        cell.font = bold
    bal = wb.create_sheet("科目余额")
    bal.append(string_cells(bal, ["科目", "科目代码", "总账（元）", "明细账（元）",
                                  "事件重建（元）"]))
    for b in report.balances:
        bal.append(string_cells(bal, [
            neutralize(b.label), b.account, fen_to_yuan(b.ledger_fen),
            fen_to_yuan(b.detail_fen), fen_to_yuan(b.events_fen)]))
    var = wb.create_sheet("差异")
    var.append(string_cells(var, ["核对项", "对象", "应为（元）", "实为（元）", "差额（元）",
                                  "原因"]))
    for v in report.variances:
        var.append(string_cells(var, [
            neutralize(v.check), neutralize(v.item), _yuan(v.expected_fen),
            _yuan(v.actual_fen), _yuan(v.difference_fen), neutralize(v.cause)]))
    for sheet in (bal, var):
        for cell in sheet[1]:
            cell.font = bold
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _yuan(fen: int | None) -> str:
    return "" if fen is None else fen_to_yuan(fen)


