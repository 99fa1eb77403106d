"""Cases: one application of one subject to one program for one claim year."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from huimin.cases.states import LEVEL_LABELS, REVIEW_STATES, State, step_name


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
    facts = models.JSONField("申请时登记的事实", default=dict, blank=True)
    review_chain = models.JSONField("审核流程", default=list)
    level = models.CharField("当前审核层级", max_length=10, blank=True)
    awaiting_role = models.CharField("待办角色", max_length=20, blank=True, db_index=True)
    pending_posting = models.CharField("待公示层级", max_length=10, blank=True, db_index=True)
    ready_on = models.DateField("可办理日期", null=True, blank=True)
    # set when the case is stopped, suspended or handed over after a change of life: the
    # first day without entitlement, and why (a death, a move …), as the effect recorded it
    stopped_on = models.DateField("停发日期", null=True, blank=True)
    stop_reason = models.CharField("停发原因", max_length=200, blank=True)
    due_on = models.DateField("办理期限", null=True, blank=True)
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
        # No index reads ``state``: moving a million cases into payment (or paid) then rewrites
        # each row in place on its page (heap-only tuples) instead of touching every index;
        # the table keeps room on each page for that (fillfactor, migration 0004).
        # The case list and /api/cases filter by area and sort by acceptance time: one index
        # serves both (a township's list walks its own area's entries, newest first); a
        # county's list covers every area, and walks (created_at, id) from its newest end.
        indexes = [models.Index(fields=["program", "claim_year"], name="case_program_year"),
                   models.Index(fields=["area", "created_at", "id"], name="case_area_created"),
                   models.Index(fields=["created_at", "id"], name="case_created")]

    def __str__(self) -> str:
        return f"案件 {self.pk}"

    @property
    def number(self) -> str:
        return f"{self.claim_year}-{self.pk:06d}"

    @property
    def state_label(self) -> str:
        if self.state in REVIEW_STATES and self.level:
            return f"待{self.step_label}"
        if self.state == State.RETURNED:
            return "退回补正中"
        return State(self.state).label

    @property
    def step_label(self) -> str:
        """What the current level's review is called (乡镇初审, 县级确认 …)."""
        return step_name(self.review_chain, self.level) if self.level else ""

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(self.level, self.level)

    @property
    def in_review(self) -> bool:
        return self.state in REVIEW_STATES


class Level(models.TextChoices):
    VILLAGE = "village", "村级"
    TOWNSHIP = "township", "乡镇"
    COUNTY = "county", "县级"


class Outcome(models.TextChoices):
    SUBMITTED = "submitted", "受理"
    APPROVED = "approved", "通过"
    REJECTED = "rejected", "不通过"
    RETURNED = "returned", "退回补正"
    RESUBMITTED = "resubmitted", "补正后重新提交"
    OBJECTION_UPHELD = "objection_upheld", "公示异议成立，退回重审"
    REVIEW_REQUESTED = "review_requested", "申请复核"


class Decision(models.Model):
    """One decision on a case: who, when, at which level, outcome, reasons."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="decisions")
    level = models.CharField("层级", max_length=10, choices=Level.choices)
    outcome = models.CharField("结果", max_length=20, choices=Outcome.choices)
    from_state = models.CharField("原状态", max_length=24, blank=True)
    to_state = models.CharField("新状态", max_length=24, blank=True)
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

    @property
    def reason_labels(self) -> list[str]:
        from huimin.cases.reasons import reason_labels

        return reason_labels(list(self.reason_codes))


def document_path(instance: CaseDocument, filename: str) -> str:
    return f"cases/{instance.case_id}/{instance.stored_name}"


#: the first bytes of a document file sealed at rest (no PDF, JPG or PNG starts so)
SEALED_MAGIC = b"HMSEAL1\n"


class CaseDocument(models.Model):
    """A scan or photo of one checklist item, kept with the case under MEDIA_ROOT.

    Scans of identity and bank cards are personal data: the file holds them sealed
    (AES-256-GCM under the deployment's data key, bound to the stored name), written with
    mode 0600 in directories of mode 0700 (FILE_UPLOAD_*_PERMISSIONS). ``write`` seals,
    ``read`` opens; a file stored before sealing (``sealed`` false) is read as it is until
    ``huimin manage seal_documents`` seals it.
    """

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="documents")
    doc_type = models.ForeignKey("programs.DocumentType", on_delete=models.PROTECT,
                                 verbose_name="材料")
    file = models.FileField("文件", upload_to=document_path, max_length=200)
    stored_name = models.CharField(max_length=80, editable=False)
    original_name = models.CharField("原文件名", max_length=200)
    content_type = models.CharField("类型", max_length=60)
    size = models.PositiveIntegerField("大小（字节）")
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+", verbose_name="上传人")
    uploaded_at = models.DateTimeField("上传时间", auto_now_add=True)
    sealed = models.BooleanField("加密存储", default=False, editable=False)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = "申请材料"
        verbose_name_plural = "申请材料"

    def __str__(self) -> str:
        return f"{self.doc_type}：{self.original_name}"

    def _context(self) -> str:
        return f"case-document:{self.stored_name}"

    def write(self, data: bytes) -> None:
        """Store the file's bytes sealed (the row is saved by the caller)."""
        from django.core.files.base import ContentFile

        from huimin.registry.crypto import box

        blob = SEALED_MAGIC + box().seal_bytes(data, self._context())
        self.file.save(self.stored_name, ContentFile(blob), save=False)
        self.sealed = True

    def read(self) -> bytes:
        """The file's bytes, opened; refused if the sealed file was altered."""
        from huimin.registry.crypto import box

        with self.file.open("rb") as fh:
            blob = fh.read()
        if not self.sealed:
            return bytes(blob)
        if not blob.startswith(SEALED_MAGIC):
            raise ValueError(f"申请材料 {self.pk} 的文件不是加密存储的格式")
        return box().unseal_bytes(blob[len(SEALED_MAGIC):], self._context())


class Notice(models.Model):
    """A public notice (公示) of one program, for one village, township or county and period."""

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT,
                                verbose_name="项目")
    area = models.ForeignKey("registry.Area", on_delete=models.PROTECT, verbose_name="公示范围")
    level = models.CharField("审核层级", max_length=10, choices=Level.choices)
    start_on = models.DateField("公示开始")
    end_on = models.DateField("公示结束")
    objection_info = models.TextField("异议受理方式")
    masking = models.JSONField("脱敏设置", default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", verbose_name="发布人")
    created_at = models.DateTimeField("发布时间", auto_now_add=True)

    class Meta:
        ordering = ["-start_on", "-id"]
        verbose_name = "公示"
        verbose_name_plural = "公示"

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"GS{self.start_on:%Y}-{self.pk:05d}"

    @property
    def is_announcement(self) -> bool:
        return self.level == Level.COUNTY

    @property
    def title(self) -> str:
        kind = "公告" if self.is_announcement else "公示"
        return f"{self.area.name}{self.program.name}{Level(self.level).label}审核结果{kind}"


class NoticeEntry(models.Model):
    """One case on a notice, as published (masked at publication)."""

    notice = models.ForeignKey(Notice, on_delete=models.PROTECT, related_name="entries")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="notice_entries")
    seq = models.PositiveIntegerField("序号")
    name_masked = models.CharField("姓名", max_length=50)
    id_masked = models.CharField("身份证号码", max_length=18, blank=True)
    village = models.CharField("村（居）", max_length=100)
    amount_fen = models.BigIntegerField("金额（分）")
    withdrawn_at = models.DateTimeField("撤回时间", null=True, blank=True)
    withdrawn_reason = models.TextField("撤回原因", blank=True)

    class Meta:
        ordering = ["notice", "seq"]
        verbose_name = "公示名单"
        verbose_name_plural = "公示名单"
        constraints = [
            models.UniqueConstraint(fields=["notice", "case"], name="uniq_notice_case"),
        ]

    def __str__(self) -> str:
        return f"{self.notice} #{self.seq}"


class ObjectionStatus(models.TextChoices):
    OPEN = "open", "待核实"
    UPHELD = "upheld", "异议成立"
    DISMISSED = "dismissed", "异议不成立"


class Objection(models.Model):
    """An objection to the eligibility facts of a case on a notice, and its finding."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="objections")
    entry = models.ForeignKey(NoticeEntry, on_delete=models.PROTECT, related_name="objections")
    received_on = models.DateField("受理日期")
    objector = models.CharField("异议人", max_length=50, blank=True)
    contact = models.CharField("联系方式", max_length=50, blank=True)
    content = models.TextField("异议内容")
    status = models.CharField("处理结果", max_length=10, choices=ObjectionStatus.choices,
                              default=ObjectionStatus.OPEN)
    finding = models.TextField("核实情况", blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+", verbose_name="登记人")
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+",
                                    verbose_name="核实人")
    resolved_at = models.DateTimeField("核实时间", null=True, blank=True)
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "公示异议"
        verbose_name_plural = "公示异议"

    def __str__(self) -> str:
        return f"异议 {self.pk}"
