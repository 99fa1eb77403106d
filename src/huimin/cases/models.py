"""Cases: one application of one subject to one program for one claim year."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from huimin.cases.states import State


class Case(models.Model):
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, verbose_name="项目")
    subject = models.ForeignKey(
        "registry.Person", on_delete=models.PROTECT, related_name="cases", verbose_name="补贴对象"
    )
    applicant = models.ForeignKey(
        "registry.Person", null=True, blank=True, on_delete=models.PROTECT,
        related_name="applications", verbose_name="申请人",
    )
    bank_account = models.ForeignKey(
        "registry.BankAccount", null=True, blank=True, on_delete=models.PROTECT,
        verbose_name="收款账户",
    )
    area = models.ForeignKey("registry.Area", on_delete=models.PROTECT, verbose_name="户籍地")
    claim_year = models.PositiveIntegerField("申领年度")
    state = models.CharField("状态", max_length=24, choices=State.choices, default=State.SUBMITTED)
    eligible = models.BooleanField("符合条件", default=False)
    months = models.PositiveIntegerField("补贴月数", default=0)
    amount_fen = models.BigIntegerField("金额（分）", default=0)
    explanation = models.JSONField("计算依据", default=dict)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="经办人"
    )
    created_at = models.DateTimeField("受理时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "案件"
        verbose_name_plural = "案件"
        constraints = [
            models.UniqueConstraint(
                fields=["program", "subject", "claim_year"], name="uniq_case_per_subject_year"
            ),
        ]
        indexes = [models.Index(fields=["state", "program", "claim_year"])]

    def __str__(self) -> str:
        return f"案件 {self.pk}"

    @property
    def number(self) -> str:
        return f"{self.claim_year}-{self.pk:06d}"

    @property
    def state_label(self) -> str:
        return State(self.state).label


class Level(models.TextChoices):
    VILLAGE = "village", "村级"
    TOWNSHIP = "township", "乡镇"
    COUNTY = "county", "县级"


class Outcome(models.TextChoices):
    SUBMITTED = "submitted", "受理"
    APPROVED = "approved", "通过"
    REJECTED = "rejected", "不通过"


class Decision(models.Model):
    """One decision on a case: who, when, at which level, outcome, reasons."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="decisions")
    level = models.CharField("层级", max_length=10, choices=Level.choices)
    outcome = models.CharField("结果", max_length=10, choices=Outcome.choices)
    reason_codes = models.JSONField("理由代码", default=list, blank=True)
    comment = models.TextField("意见", blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, verbose_name="经办人"
    )
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = "审核记录"
        verbose_name_plural = "审核记录"

    def __str__(self) -> str:
        return f"{self.get_level_display()}{self.get_outcome_display()}"
