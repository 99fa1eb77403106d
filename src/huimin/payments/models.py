"""Payment cycles, frozen entitlements, batches and their lines, returns, and the fund ledger.

Never pay twice, structurally: a case has at most one entitlement (in one cycle), and at most
one line that has not failed or come back.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q, QuerySet


class CycleState(models.TextChoices):
    OPEN = "open", "已冻结，发放中"
    CLOSED = "closed", "已结束"


class EntitlementStatus(models.TextChoices):
    PAYABLE = "payable", "应发"
    HELD = "held", "暂停发放"


class HeldReason(models.TextChoices):
    DIED = "died", "补贴对象已死亡"
    MOVED = "moved", "户籍已迁出本区域"
    INELIGIBLE = "ineligible", "不再符合条件"
    NO_ACCOUNT = "no_account", "无有效收款账户"
    SUSPENDED = "suspended", "暂停发放，待核实"
    DUPLICATE = "duplicate", "疑似重复申领，待裁定"


class BatchState(models.TextChoices):
    DRAFT = "draft", "待审核放行"
    RELEASED = "released", "已放行，待导出"
    EXPORTED = "exported", "已导出，待回盘"
    RETURNED = "returned", "已回盘"
    # never sent to a bank (refused at export, or built by mistake): its cases were freed
    CANCELLED = "cancelled", "已作废"


class LineStatus(models.TextChoices):
    PENDING = "pending", "待银行处理"
    PAID = "paid", "已支付"
    FAILED = "failed", "支付失败"
    RETURNED = "returned", "资金退回"


# A line in one of these states did not pay; the case may be paid by a later line.
NOT_PAID = (LineStatus.FAILED, LineStatus.RETURNED)


class PaymentCycle(models.Model):
    """One program, one area, one period: entitlements are frozen when the cycle is built."""

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, verbose_name="项目")
    area = models.ForeignKey("registry.Area", on_delete=models.PROTECT, verbose_name="区域")
    claim_year = models.PositiveIntegerField("年度")
    period = models.CharField("发放期", max_length=20)
    cut_off = models.DateField("截止日")
    state = models.CharField("状态", max_length=10, choices=CycleState.choices,
                             default=CycleState.OPEN)
    rule_versions = models.JSONField("规则版本", default=list, blank=True)
    payable_count = models.PositiveIntegerField("应发人数", default=0)
    payable_fen = models.BigIntegerField("应发金额（分）", default=0)
    held_count = models.PositiveIntegerField("暂停人数", default=0)
    held_fen = models.BigIntegerField("暂停金额（分）", default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", verbose_name="经办人")
    created_at = models.DateTimeField("建立时间", auto_now_add=True)
    built_at = models.DateTimeField("最近冻结时间", null=True, blank=True)

    class Meta:
        ordering = ["-claim_year", "-id"]
        verbose_name = "发放周期"
        verbose_name_plural = "发放周期"
        constraints = [
            models.UniqueConstraint(fields=["program", "area", "period"],
                                    name="uniq_cycle_per_program_area_period"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"PC{self.period}-{self.pk:04d}"

    @property
    def fund(self) -> str:
        return f"{self.program.code}:{self.area.code}"


class Entitlement(models.Model):
    """A case's amount as frozen in a cycle: the inputs, the rule version, and what became of it.

    A payable entitlement waits for a batch while it has no line, or only lines that did not
    pay and were corrected (see ``waiting``).
    """

    # Written a million at a time by one INSERT … SELECT that joins the rows referred to, so
    # the database does not check each reference again row by row (a foreign-key trigger per
    # row and reference costs more than the insert). Nothing deletes cases, cycles, batches or
    # accounts (PROTECT), and reconciliation lists any entitlement or line whose case, cycle
    # or batch is missing.
    # (cycle, status) is indexed, so the cycle needs no index of its own
    cycle = models.ForeignKey(PaymentCycle, on_delete=models.PROTECT,
                              related_name="entitlements", db_constraint=False, db_index=False)
    case = models.OneToOneField("cases.Case", on_delete=models.PROTECT,
                                related_name="entitlement", db_constraint=False)
    # The subject and area are the case's; the account is looked up from lines, not by itself.
    bank_account = models.ForeignKey("registry.BankAccount", null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+",
                                     db_index=False, db_constraint=False,
                                     verbose_name="收款账户")
    amount_fen = models.BigIntegerField("金额（分）")
    months = models.PositiveIntegerField("月数", default=0)
    rule_version = models.CharField("规则版本", max_length=80, blank=True)
    case_version = models.PositiveIntegerField("案件版本")
    inputs = models.JSONField("计算依据（冻结）", default=dict)
    subject_death_date = models.DateField("死亡日期（冻结时）", null=True, blank=True)
    status = models.CharField("状态", max_length=10, choices=EntitlementStatus.choices)
    held_reason = models.CharField("暂停原因", max_length=12, choices=HeldReason.choices,
                                   blank=True)
    # set by a hold after freezing (holds.hold_case): why, in words, and from which day
    held_note = models.CharField("暂停说明", max_length=200, blank=True, db_default="")
    held_from = models.DateField("暂停起始日", null=True, blank=True)
    # part of the amount kept back to settle a recovery of the same household (抵扣追回):
    # the line pays amount_fen - offset_fen
    offset_fen = models.BigIntegerField("抵扣追回（分）", db_default=0)
    frozen_at = models.DateTimeField("冻结时间")

    class Meta:
        ordering = ["cycle", "id"]
        verbose_name = "应发明细"
        verbose_name_plural = "应发明细"
        indexes = [models.Index(fields=["cycle", "status"], name="entitlement_cycle_status")]

    def __str__(self) -> str:
        return f"{self.cycle_id}/{self.case_id}"


class PaymentBatch(models.Model):
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, verbose_name="项目")
    area = models.ForeignKey("registry.Area", on_delete=models.PROTECT, verbose_name="区域")
    cycle = models.ForeignKey(PaymentCycle, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="batches", verbose_name="发放周期")
    claim_year = models.PositiveIntegerField("年度")
    layout = models.CharField("银行文件格式", max_length=40, default="standard-csv")
    state = models.CharField("状态", max_length=12, choices=BatchState.choices,
                             default=BatchState.DRAFT)
    line_count = models.PositiveIntegerField("笔数", default=0)
    total_fen = models.BigIntegerField("总金额（分）", default=0)
    file_sha256 = models.CharField("文件校验值", max_length=64, blank=True)
    body_checksum = models.CharField("明细校验码", max_length=64, blank=True)
    return_sha256 = models.CharField("回盘文件校验值", max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", verbose_name="制表人")
    created_at = models.DateTimeField("生成时间", auto_now_add=True)
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+",
                                    verbose_name="放行人")
    released_at = models.DateTimeField("放行时间", null=True, blank=True)
    exported_at = models.DateTimeField("导出时间", null=True, blank=True)
    returned_at = models.DateTimeField("回盘时间", null=True, blank=True)
    cancelled_at = models.DateTimeField("作废时间", null=True, blank=True)
    cancel_reason = models.CharField("作废原因", max_length=200, blank=True, db_default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "发放批次"
        verbose_name_plural = "发放批次"

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"PB{self.claim_year}{self.pk:05d}"

    @property
    def state_label(self) -> str:
        return BatchState(self.state).label


class PaymentLine(models.Model):
    """One payment in a batch. ``live`` is false once the line failed or came back: a case has
    at most one live line (never paid twice). The bank's result only changes ``status`` and
    ``bank_reason`` — columns no index reads — so marking a million lines paid rewrites them
    in place (heap-only tuples, the table keeps free room on each page)."""

    # (batch, seq) is unique and indexed, so the batch needs no index of its own. References
    # are not checked row by row in the database, as for entitlements.
    batch = models.ForeignKey(PaymentBatch, on_delete=models.PROTECT, related_name="lines",
                              db_index=False, db_constraint=False)
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="payment_lines",
                             db_constraint=False)
    # not indexed: a case has one entitlement, and lines are looked up by case
    entitlement = models.ForeignKey(Entitlement, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="lines", db_constraint=False, db_index=False)
    seq = models.PositiveIntegerField("序号")
    payee_name = models.CharField("户名", max_length=50)
    bank_name = models.CharField("开户银行", max_length=100)
    # The account paid into. Its number is never changed (only ``active`` is), so the line
    # refers to it instead of copying the sealed number, its hash and its masked form.
    bank_account = models.ForeignKey("registry.BankAccount", on_delete=models.PROTECT,
                                     related_name="+", db_index=False, db_constraint=False,
                                     verbose_name="收款账户")
    amount_fen = models.BigIntegerField("金额（分）")
    status = models.CharField("状态", max_length=10, choices=LineStatus.choices,
                              default=LineStatus.PENDING)
    bank_reason = models.CharField("银行说明", max_length=200, blank=True)
    live = models.BooleanField("未失败", default=True)
    # The return whose import set the bank's result (its audit event is ``batch.import_return``
    # of the batch); the line and that event together are the case's audit record of it.
    settled_by = models.ForeignKey("BankReturn", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", db_index=False, db_constraint=False)

    class Meta:
        ordering = ["batch", "seq"]
        verbose_name = "发放明细"
        verbose_name_plural = "发放明细"
        constraints = [
            models.UniqueConstraint(fields=["batch", "seq"], name="uniq_line_seq"),
            # Never pay twice: a case may have any number of lines that did not pay, one other.
            models.UniqueConstraint(fields=["case"], condition=Q(live=True),
                                    name="uniq_live_line_per_case"),
            models.CheckConstraint(
                condition=(Q(live=True, status__in=["pending", "paid"])
                           | Q(live=False, status__in=["failed", "returned"])),
                name="line_live_matches_status"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"{self.batch.number}-{self.seq:06d}"

    @property
    def account_masked(self) -> str:
        return self.bank_account.account_masked


class LineCorrection(models.Model):
    """A failed or returned line, checked and corrected so that a later batch may pay it."""

    line = models.OneToOneField(PaymentLine, on_delete=models.PROTECT, related_name="correction")
    old_account_masked = models.CharField("原账号", max_length=40)
    bank_account = models.ForeignKey("registry.BankAccount", on_delete=models.PROTECT,
                                     related_name="+", verbose_name="更正后账户")
    note = models.CharField("核实说明", max_length=200)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+", verbose_name="经办人")
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "失败更正"
        verbose_name_plural = "失败更正"

    def __str__(self) -> str:
        return f"更正 {self.line_id}"


class BankReturn(models.Model):
    """One return file as the bank declared it (帐实相符 compares the books with these)."""

    batch = models.ForeignKey(PaymentBatch, on_delete=models.PROTECT, related_name="returns")
    sha256 = models.CharField("文件校验值", max_length=64)
    line_count = models.PositiveIntegerField("笔数")
    total_fen = models.BigIntegerField("总金额（分）")
    paid_count = models.PositiveIntegerField("成功笔数")
    paid_fen = models.BigIntegerField("成功金额（分）")
    failed_count = models.PositiveIntegerField("失败笔数")
    failed_fen = models.BigIntegerField("失败金额（分）")
    returned_count = models.PositiveIntegerField("退回笔数")
    returned_fen = models.BigIntegerField("退回金额（分）")
    changed = models.PositiveIntegerField("更新笔数")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+", verbose_name="经办人")
    at = models.DateTimeField("导入时间", auto_now_add=True)

    class Meta:
        ordering = ["batch", "id"]
        verbose_name = "银行回盘"
        verbose_name_plural = "银行回盘"
        constraints = [
            models.UniqueConstraint(fields=["batch", "sha256"], name="uniq_return_file"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.sha256[:8]}"


class BankStatement(models.Model):
    """A bank statement (对账单) of a batch, matched against the books (帐实相符): the
    statement's net debit for each line against what the ledger says the line paid, and its
    total against the ledger's paid amount for the batch. Each mismatch is kept, named."""

    batch = models.ForeignKey(PaymentBatch, on_delete=models.PROTECT, related_name="statements")
    sha256 = models.CharField("文件校验值", max_length=64)
    rows = models.PositiveIntegerField("本批次笔数")
    other_rows = models.PositiveIntegerField("其他交易笔数")
    debit_fen = models.BigIntegerField("对账单净支出（分）")
    books_fen = models.BigIntegerField("账上已发放（分）")
    agrees = models.BooleanField("帐实相符")
    # [{"row": file row or null, "reference": "...", "reason": "..."}]
    mismatches = models.JSONField("不符事项", default=list, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+", verbose_name="经办人")
    at = models.DateTimeField("导入时间", auto_now_add=True)

    class Meta:
        ordering = ["batch", "id"]
        verbose_name = "银行对账单"
        verbose_name_plural = "银行对账单"
        constraints = [
            models.UniqueConstraint(fields=["batch", "sha256"], name="uniq_statement_file"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.sha256[:8]}"


class LedgerAccount(models.TextChoices):
    """Where each fen of a fund sits. Debits are positive, credits negative."""

    ALLOCATION = "allocation", "财政拨款（资金来源）"
    PAYABLE = "payable", "应付补贴"
    IN_BANK = "in_bank", "银行在途"
    PAID = "paid", "已发放"
    FAILED = "failed", "发放失败待重发"
    RETURNED = "returned", "资金退回待重发"
    RECOVERABLE = "recoverable", "应追回（多发）"
    RECOVERED = "recovered", "已追回（退缴或抵扣）"
    OFFSET = "offset", "应发中抵扣追回"
    WRITTEN_OFF = "written_off", "追回核销"


class JournalEntry(models.Model):
    """One balanced movement of a fund (program × area), in one cycle."""

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="+")
    area = models.ForeignKey("registry.Area", on_delete=models.PROTECT, related_name="+")
    cycle = models.ForeignKey(PaymentCycle, on_delete=models.PROTECT, related_name="journal")
    batch = models.ForeignKey(PaymentBatch, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="journal")
    kind = models.CharField("业务", max_length=20)
    memo = models.CharField("摘要", max_length=200)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                              related_name="+")
    at = models.DateTimeField("记账时间")

    class Meta:
        ordering = ["id"]
        verbose_name = "记账凭证"
        verbose_name_plural = "记账凭证"

    def __str__(self) -> str:
        return f"{self.kind} {self.memo}"


class Posting(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.CharField("科目", max_length=12, choices=LedgerAccount.choices)
    amount_fen = models.BigIntegerField("金额（分，借正贷负）")

    class Meta:
        ordering = ["entry", "id"]
        verbose_name = "分录"
        verbose_name_plural = "分录"

    def __str__(self) -> str:
        return f"{self.account} {self.amount_fen}"


class RecoveryState(models.TextChoices):
    OPEN = "open", "追回中"
    CLOSED = "closed", "已结清"


class Recovery(models.Model):
    """Money paid for a period without entitlement (追回): its cause (which event, which
    period), the paid line it came from, and what is still to be recovered.

    ``settled_fen`` is what repayments, offsets and approved write-offs have settled; the
    balance is ``amount_fen - settled_fen`` and never below zero. The amount sits in the
    ledger of the cycle that paid it (``cycle``), as 应追回 until settled."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="recoveries",
                             verbose_name="案件")
    household = models.ForeignKey("registry.Household", null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+", verbose_name="户")
    cycle = models.ForeignKey(PaymentCycle, on_delete=models.PROTECT, related_name="recoveries",
                              verbose_name="发放周期")
    line = models.ForeignKey(PaymentLine, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="recoveries", verbose_name="发放明细")
    amount_fen = models.BigIntegerField("应追回金额（分）")
    settled_fen = models.BigIntegerField("已追回及核销（分）", default=0)
    cause = models.CharField("原因", max_length=200)
    event_ref = models.CharField("依据事件", max_length=120, blank=True)
    period_start = models.DateField("无资格期间起")
    period_end = models.DateField("无资格期间止")
    state = models.CharField("状态", max_length=8, choices=RecoveryState.choices,
                             default=RecoveryState.OPEN)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+", verbose_name="登记人")
    opened_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "应追回款项"
        verbose_name_plural = "应追回款项"
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="recovery_amount_positive"),
            models.CheckConstraint(
                condition=Q(settled_fen__gte=0, settled_fen__lte=models.F("amount_fen")),
                name="recovery_settled_within_amount"),
            models.CheckConstraint(
                condition=(Q(state="open", settled_fen__lt=models.F("amount_fen"))
                           | Q(state="closed", settled_fen=models.F("amount_fen"))),
                name="recovery_state_matches_balance"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"ZH{self.pk:06d}"

    @property
    def balance_fen(self) -> int:
        return self.amount_fen - self.settled_fen


class RecoveryMethod(models.TextChoices):
    REPAYMENT = "repayment", "退缴"
    OFFSET = "offset", "从后续应发中抵扣"
    WRITE_OFF = "write_off", "核销"


class MovementStatus(models.TextChoices):
    DONE = "done", "已入账"
    REQUESTED = "requested", "核销待审批"
    REVERSED = "reversed", "已冲回"
    DECLINED = "declined", "核销未获批准"


class RecoveryMovement(models.Model):
    """One repayment, offset or write-off of a recovery. A write-off is requested by one
    person and approved by another; an offset is reversed if the entitlement it reduced is
    held before it was paid."""

    recovery = models.ForeignKey(Recovery, on_delete=models.PROTECT, related_name="movements")
    method = models.CharField("方式", max_length=10, choices=RecoveryMethod.choices)
    status = models.CharField("状态", max_length=10, choices=MovementStatus.choices)
    amount_fen = models.BigIntegerField("金额（分）")
    on_date = models.DateField("日期")
    receipt = models.CharField("银行回单号", max_length=60, blank=True)
    entitlement = models.ForeignKey(Entitlement, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="offsets", verbose_name="抵扣的应发")
    note = models.CharField("说明", max_length=200, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+", verbose_name="经办人")
    requested_at = models.DateTimeField("登记时间", auto_now_add=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+",
                                    verbose_name="审批人")
    approved_at = models.DateTimeField("审批时间", null=True, blank=True)

    class Meta:
        ordering = ["recovery", "id"]
        verbose_name = "追回记录"
        verbose_name_plural = "追回记录"
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="movement_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.recovery_id}:{self.method} {self.amount_fen}"


def waiting(entitlements: QuerySet[Entitlement]) -> QuerySet[Entitlement]:
    """The payable entitlements that wait for a batch: no line of the case that paid, is at the
    bank, or failed and was not corrected (a case has one entitlement)."""
    blocking = PaymentLine.objects.filter(case=OuterRef("case_id")).filter(
        Q(status__in=[LineStatus.PENDING, LineStatus.PAID]) | Q(correction__isnull=True))
    return entitlements.filter(status=EntitlementStatus.PAYABLE).exclude(Exists(blocking))
