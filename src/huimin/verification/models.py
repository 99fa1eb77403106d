"""Feed files, their rows kept raw (sealed), the tokens source systems post with, and the
effects proposed for each matched event."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Kind(models.TextChoices):
    DEATH = "death", "死亡"
    MOVE = "move", "户籍迁移"
    BIRTH = "birth", "出生"
    DISABILITY = "disability", "残疾证"


class Source(models.TextChoices):
    CIVIL_AFFAIRS = "civil_affairs", "民政"
    HEALTH = "health", "卫生健康"
    PUBLIC_SECURITY = "public_security", "公安"
    DISABLED_FEDERATION = "disabled_federation", "残联"


class Via(models.TextChoices):
    UPLOAD = "upload", "网页上传"
    CLI = "cli", "命令行"
    API = "api", "接口推送"


class FeedToken(models.Model):
    """A source system's credential for the feed API: only its hash is kept."""

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField("令牌前缀", max_length=12, editable=False)
    label = models.CharField("名称", max_length=100)
    source = models.CharField("数据来源", max_length=24, choices=Source.choices)
    area = models.ForeignKey("registry.Area", on_delete=models.PROTECT, verbose_name="所属区域")
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+", verbose_name="签发人")
    issued_at = models.DateTimeField("签发时间", auto_now_add=True)
    revoked_at = models.DateTimeField("吊销时间", null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+",
                                   verbose_name="吊销人")

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = "数据接口令牌"
        verbose_name_plural = "数据接口令牌"

    def __str__(self) -> str:
        return f"{self.label}（{self.prefix}…）"


class FeedFile(models.Model):
    """One file (or one API post) of events from one source."""

    kind = models.CharField("类型", max_length=12, choices=Kind.choices)
    source = models.CharField("数据来源", max_length=24, choices=Source.choices)
    name = models.CharField("文件名", max_length=200)
    sha256 = models.CharField(max_length=64)
    area = models.ForeignKey("registry.Area", on_delete=models.PROTECT, verbose_name="所属区域")
    via = models.CharField("方式", max_length=8, choices=Via.choices)
    loaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+",
                                  verbose_name="导入人")
    token = models.ForeignKey(FeedToken, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="files", verbose_name="接口令牌")
    received_at = models.DateTimeField("接收时间", auto_now_add=True)
    rows_read = models.PositiveIntegerField("行数", default=0)
    matched = models.PositiveIntegerField("已匹配", default=0)
    unmatched = models.PositiveIntegerField("未匹配", default=0)
    quarantined = models.PositiveIntegerField("已隔离", default=0)
    duplicates = models.PositiveIntegerField("重复", default=0)
    effects_proposed = models.PositiveIntegerField("拟处理事项", default=0)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "比对数据文件"
        verbose_name_plural = "比对数据文件"

    def __str__(self) -> str:
        return f"{self.get_kind_display()}数据 {self.pk}"


class RowStatus(models.TextChoices):
    MATCHED = "matched", "已匹配"
    UNMATCHED = "unmatched", "未匹配"
    QUARANTINED = "quarantined", "已隔离"
    DUPLICATE = "duplicate", "重复（未变更）"


class FeedRow(models.Model):
    """One row as received: the cells sealed (``raw_sealed``, JSON of header → text), the
    identity number sealed apart with its keyed hash (the register's), the outcome."""

    file = models.ForeignKey(FeedFile, on_delete=models.PROTECT, related_name="rows")
    kind = models.CharField("类型", max_length=12, choices=Kind.choices)
    source = models.CharField("数据来源", max_length=24, choices=Source.choices)
    row_number = models.PositiveIntegerField("行号")
    event_id = models.CharField("事件编号", max_length=64, blank=True)
    raw_sealed = models.TextField(editable=False)
    content_hash = models.CharField(max_length=64, editable=False)
    id_sealed = models.TextField(editable=False, blank=True)
    id_hash = models.CharField(max_length=64, editable=False, blank=True, db_index=True)
    id_masked = models.CharField("身份证号码", max_length=18, blank=True)
    name = models.CharField("姓名", max_length=50, blank=True)
    event_date = models.DateField("事件日期", null=True, blank=True)
    status = models.CharField("结果", max_length=12, choices=RowStatus.choices)
    reason = models.TextField("原因", blank=True)
    person = models.ForeignKey("registry.Person", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="feed_rows",
                               verbose_name="匹配人员")
    # the matched person's area (for who may see the row); else the file's
    area_code = models.CharField(max_length=12, db_index=True)
    # the first row seen of a (source, kind, event id): later ones are compared with it
    primary = models.BooleanField(default=False)
    received_at = models.DateTimeField("接收时间", auto_now_add=True)

    class Meta:
        ordering = ["file", "row_number"]
        verbose_name = "比对数据行"
        verbose_name_plural = "比对数据行"
        constraints = [
            models.UniqueConstraint(fields=["source", "kind", "event_id"],
                                    condition=Q(primary=True), name="uniq_feed_event"),
        ]

    def __str__(self) -> str:
        return f"{self.file_id}#{self.row_number}"

    def raw(self) -> dict[str, str]:
        import json

        from huimin.registry.crypto import box

        data: dict[str, str] = json.loads(box().unseal(self.raw_sealed))
        return data


class EffectKind(models.TextChoices):
    RECORD = "record", "登记变更"
    STOP = "stop", "停发"
    SUSPEND = "suspend", "暂停发放"
    RECALCULATE = "recalculate", "重新核定金额"
    MOVE = "move", "随迁移转"
    REVERIFY = "reverify", "重新核实资格"
    OFFER = "offer", "免申即享（符合条件未申请）"
    ENROL = "enrol", "自动纳入"


class EffectStatus(models.TextChoices):
    PROPOSED = "proposed", "待确认"
    CONFIRMED = "confirmed", "已确认"
    DISMISSED = "dismissed", "已驳回"


class Effect(models.Model):
    """What an event means for one case (or, for an offer, one subject not yet applied),
    as the rules engine decided it; a person confirms or dismisses it."""

    row = models.ForeignKey(FeedRow, null=True, blank=True, on_delete=models.PROTECT,
                            related_name="effects", verbose_name="数据行")
    origin = models.CharField("来源", max_length=16, default="feed")  # feed / change_request
    event_kind = models.CharField("事件", max_length=12, choices=Kind.choices)
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT,
                               related_name="feed_effects", verbose_name="事件当事人")
    case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="feed_effects", verbose_name="案件")
    subject = models.ForeignKey("registry.Person", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+",
                                verbose_name="补贴对象")
    program = models.ForeignKey("programs.Program", null=True, blank=True,
                                on_delete=models.PROTECT, verbose_name="项目")
    claim_year = models.PositiveIntegerField("申领年度", null=True, blank=True)
    kind = models.CharField("处理", max_length=12, choices=EffectKind.choices)
    from_date = models.DateField("起始日期", null=True, blank=True)
    old_months = models.PositiveIntegerField("原月数", default=0)
    new_months = models.PositiveIntegerField("新月数", default=0)
    old_amount_fen = models.BigIntegerField("原金额（分）", default=0)
    new_amount_fen = models.BigIntegerField("新金额（分）", default=0)
    summary = models.CharField("说明", max_length=300)
    explanation = models.JSONField("计算依据", default=dict)
    # what the confirmation needs beyond the case: the event's date, destination, grade …
    params = models.JSONField(default=dict)
    area_code = models.CharField(max_length=12, db_index=True)
    key = models.CharField(max_length=200, unique=True, editable=False)
    status = models.CharField("状态", max_length=10, choices=EffectStatus.choices,
                              default=EffectStatus.PROPOSED, db_index=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+",
                                   verbose_name="确认人")
    decided_at = models.DateTimeField("确认时间", null=True, blank=True)
    note = models.TextField("意见", blank=True)
    applied = models.JSONField("执行结果", default=dict, blank=True)
    created_at = models.DateTimeField("提出时间", auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "比对处理事项"
        verbose_name_plural = "比对处理事项"

    def __str__(self) -> str:
        return f"事项 {self.pk}"
