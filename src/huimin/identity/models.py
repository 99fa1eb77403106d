"""Candidate duplicate persons and duplicate claims, their adjudication, and person merges."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PairStatus(models.TextChoices):
    OPEN = "open", "待裁决"
    FIELD_CHECK = "field_check", "需实地核查"
    SAME = "same", "同一人（已合并）"
    DIFFERENT = "different", "不同的人"
    CLEARED = "cleared", "数据已变更，提示撤销"


#: a pair in these states is waiting for a person
PENDING = (PairStatus.OPEN, PairStatus.FIELD_CHECK)


class DecisionBatch(models.Model):
    """Decisions taken together: all applied or none."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+", verbose_name="裁决人")
    created_at = models.DateTimeField("裁决时间", auto_now_add=True)
    size = models.PositiveIntegerField("裁决数", default=0)

    class Meta:
        verbose_name = "批量裁决"
        verbose_name_plural = "批量裁决"

    def __str__(self) -> str:
        return f"批量裁决 {self.pk}"


class CandidatePair(models.Model):
    """Two register records the model scored as possibly one person (person_a.pk < person_b.pk)."""

    person_a = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+",
                                 verbose_name="人员甲")
    person_b = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+",
                                 verbose_name="人员乙")
    scope = models.CharField("发现方式", max_length=12)  # county | change | import
    match_probability = models.FloatField("匹配概率")
    model_version = models.CharField("模型版本", max_length=12)
    comparisons = models.JSONField("各项比较", default=list)  # [{comparison, level, weight}]
    fingerprint = models.CharField(max_length=64)  # of both records' compared data
    status = models.CharField("状态", max_length=12, choices=PairStatus.choices,
                              default=PairStatus.OPEN, db_index=True)
    found_at = models.DateTimeField("发现时间", auto_now_add=True)
    rescored_at = models.DateTimeField("最近评分", auto_now=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+",
                                   verbose_name="裁决人")
    decided_at = models.DateTimeField("裁决时间", null=True, blank=True)
    decision_reason = models.TextField("裁决理由", blank=True)
    batch = models.ForeignKey(DecisionBatch, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="pairs")

    class Meta:
        ordering = ["-match_probability", "id"]
        verbose_name = "疑似重复人员"
        verbose_name_plural = "疑似重复人员"
        constraints = [
            models.UniqueConstraint(fields=["person_a", "person_b"], name="uniq_candidate_pair"),
            models.CheckConstraint(condition=models.Q(person_a__lt=models.F("person_b")),
                                   name="candidate_pair_ordered"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"CC{self.pk:06d}"


class ClaimKind(models.TextChoices):
    TWO_COUNTIES = "two_counties", "同一人在两个县申领"
    TWO_CLAIMANTS = "two_claimants", "同一人由两名申请人申领（如父母各申请一次）"
    TWO_PROGRAMS = "two_programs", "同一人享受两个不可兼得的项目"
    REPEATED = "repeated", "同一人重复申领"


class DuplicateClaim(models.Model):
    """A person of this county with a claim elsewhere in a provincial or national snapshot."""

    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT,
                               related_name="+", verbose_name="人员")
    kind = models.CharField("类型", max_length=16, choices=ClaimKind.choices)
    counties = models.JSONField("涉及县", default=list)
    claims = models.PositiveIntegerField("申领次数", default=0)
    snapshot = models.CharField("快照", max_length=200)
    fingerprint = models.CharField(max_length=64)
    status = models.CharField("状态", max_length=12, choices=PairStatus.choices,
                              default=PairStatus.OPEN, db_index=True)
    found_at = models.DateTimeField("发现时间", auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-found_at", "id"]
        verbose_name = "疑似重复申领"
        verbose_name_plural = "疑似重复申领"

    def __str__(self) -> str:
        return f"疑似重复申领 {self.pk}"


class PersonMerge(models.Model):
    """A dropped record merged into the kept one: what moved, who decided, why."""

    keep = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+",
                             verbose_name="保留记录")
    drop = models.OneToOneField("registry.Person", on_delete=models.PROTECT, related_name="+",
                                verbose_name="并入记录")
    pair = models.ForeignKey(CandidatePair, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    reason = models.TextField("理由")
    moved = models.JSONField("转移内容", default=dict)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+", verbose_name="经办人")
    merged_at = models.DateTimeField("合并时间", auto_now_add=True)

    class Meta:
        verbose_name = "人员合并"
        verbose_name_plural = "人员合并"

    def __str__(self) -> str:
        return f"{self.drop_id} → {self.keep_id}"
