"""Payment batches and their lines. A case is in at most one unfailed line, ever."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class BatchState(models.TextChoices):
    DRAFT = "draft", "待导出"
    EXPORTED = "exported", "已导出，待回盘"
    RETURNED = "returned", "已回盘"


class LineStatus(models.TextChoices):
    PENDING = "pending", "待银行处理"
    PAID = "paid", "已支付"
    FAILED = "failed", "支付失败"


class PaymentBatch(models.Model):
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, verbose_name="项目")
    area = models.ForeignKey("registry.Area", on_delete=models.PROTECT, verbose_name="区域")
    claim_year = models.PositiveIntegerField("年度")
    state = models.CharField("状态", max_length=12, choices=BatchState.choices,
                             default=BatchState.DRAFT)
    line_count = models.PositiveIntegerField("笔数", default=0)
    total_fen = models.BigIntegerField("总金额（分）", default=0)
    file_sha256 = models.CharField("文件校验值", max_length=64, blank=True)
    return_sha256 = models.CharField("回盘文件校验值", max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", verbose_name="制表人")
    created_at = models.DateTimeField("生成时间", auto_now_add=True)
    exported_at = models.DateTimeField("导出时间", null=True, blank=True)
    returned_at = models.DateTimeField("回盘时间", null=True, blank=True)

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
    batch = models.ForeignKey(PaymentBatch, on_delete=models.PROTECT, related_name="lines")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="payment_lines")
    seq = models.PositiveIntegerField("序号")
    payee_name = models.CharField("户名", max_length=50)
    bank_name = models.CharField("开户银行", max_length=100)
    account_sealed = models.TextField()
    account_masked = models.CharField("账号", max_length=40)
    amount_fen = models.BigIntegerField("金额（分）")
    status = models.CharField("状态", max_length=10, choices=LineStatus.choices,
                              default=LineStatus.PENDING)
    bank_reason = models.CharField("银行说明", max_length=200, blank=True)

    class Meta:
        ordering = ["batch", "seq"]
        verbose_name = "发放明细"
        verbose_name_plural = "发放明细"
        constraints = [
            models.UniqueConstraint(fields=["batch", "seq"], name="uniq_line_seq"),
            # Never pay twice: a case may have any number of failed lines but one other.
            models.UniqueConstraint(fields=["case"], condition=~Q(status="failed"),
                                    name="uniq_live_line_per_case"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"{self.batch.number}-{self.seq:06d}"
