"""The registry: areas, households, persons, parent–child links, bank accounts."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from huimin.lib.divisions import Level


class Area(models.Model):
    """A division: province … county → township → village, by 12-digit statistical code."""

    code = models.CharField("区划代码", max_length=12, unique=True)
    name = models.CharField("名称", max_length=100)
    level = models.CharField("层级", max_length=12, choices=[(lv.value, lv.value) for lv in Level])
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        ordering = ["code"]
        verbose_name = "行政区划"
        verbose_name_plural = "行政区划"

    def __str__(self) -> str:
        return self.name

    @property
    def prefix(self) -> str:
        from huimin.lib.divisions import prefix

        return prefix(self.code)

    def full_name(self) -> str:
        names = []
        node: Area | None = self
        while node is not None and node.level in ("county", "township", "village"):
            names.append(node.name)
            node = node.parent
        return "".join(reversed(names))


class HukouType(models.TextChoices):
    RURAL = "rural", "农业"
    URBAN = "urban", "非农业"


class Sex(models.TextChoices):
    MALE = "M", "男"
    FEMALE = "F", "女"


class Household(models.Model):
    """A registered household (户)."""

    number = models.CharField("户号", max_length=40, unique=True)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, verbose_name="户籍地")
    address = models.CharField("住址", max_length=200, blank=True)
    hukou_type = models.CharField("户籍性质", max_length=8, choices=HukouType.choices)
    head = models.ForeignKey("Person", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name="户主")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "户"
        verbose_name_plural = "户"
        indexes = [models.Index(fields=["area", "created_at", "id"], name="household_area_created")]

    def __str__(self) -> str:
        return self.number


class Person(models.Model):
    """A registered resident. The identity number is sealed at rest; look-ups use its hash."""

    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    name = models.CharField("姓名", max_length=50)
    id_hash = models.CharField(max_length=64, unique=True, editable=False)
    id_sealed = models.TextField(editable=False)
    id_masked = models.CharField("身份证号码", max_length=18, editable=False)
    # the keyed hash of the number's last 4 characters within its county (search by last 4)
    id_last4_hash = models.CharField(max_length=64, editable=False, blank=True)
    sex = models.CharField("性别", max_length=1, choices=Sex.choices)
    birth_date = models.DateField("出生日期")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, verbose_name="户籍地")
    hukou_type = models.CharField("户籍性质", max_length=8, choices=HukouType.choices)
    death_date = models.DateField("死亡日期", null=True, blank=True)
    death_source = models.CharField("死亡信息来源", max_length=100, blank=True)
    death_certificate = models.CharField("死亡证明编号", max_length=60, blank=True)
    # a move out of the county: the person stays on the register of the county it left,
    # marked moved out, with the destination (a 12-digit division code)
    moved_out_on = models.DateField("迁出日期", null=True, blank=True)
    moved_to_code = models.CharField("迁往区划代码", max_length=12, blank=True)
    # a duplicate record merged into the kept one (identity adjudication): it stays readable
    # with its history but leaves the register — lists, intake, matching and snapshots
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="merged_records", verbose_name="已并入")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "人员"
        verbose_name_plural = "人员"
        indexes = [
            models.Index(fields=["area", "birth_date"]),
            # the person list: scope by area, sorted by name or by registration
            models.Index(fields=["area", "name", "id"], name="person_area_name"),
            models.Index(fields=["area", "created_at", "id"], name="person_area_created"),
            models.Index(fields=["id_last4_hash"], name="person_id_last4"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.id_masked}）"

    @property
    def id_number(self) -> str:
        """The full identity number (decrypted): show only where a role needs it."""
        from huimin.registry.crypto import box

        return box().unseal(self.id_sealed)

    def age_on(self, day: object) -> int:
        from datetime import date

        assert isinstance(day, date)
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


class Relation(models.TextChoices):
    FATHER = "father", "父亲"
    MOTHER = "mother", "母亲"
    GUARDIAN = "guardian", "监护人"


class ParentChild(models.Model):
    parent = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="child_links")
    child = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="parent_links")
    relation = models.CharField("关系", max_length=10, choices=Relation.choices)

    class Meta:
        verbose_name = "亲子关系"
        verbose_name_plural = "亲子关系"
        constraints = [
            models.UniqueConstraint(fields=["parent", "child"], name="uniq_parent_child"),
        ]

    def __str__(self) -> str:
        return f"{self.parent_id} → {self.child_id}（{self.get_relation_display()}）"


class AccountKind(models.TextChoices):
    """A bank card's number ends in a Luhn check digit; a passbook's (存折, the 一折通 of
    subsidy payments) has none, so only a card is checked by Luhn."""

    CARD = "card", "银行卡"
    PASSBOOK = "passbook", "存折（一折通）"


class BankAccount(models.Model):
    """An account benefits are paid into. The number is sealed at rest."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="bank_accounts")
    # db_default too: bulk loaders that COPY named columns get a card
    kind = models.CharField("账户类型", max_length=10, choices=AccountKind.choices,
                            default=AccountKind.CARD, db_default=AccountKind.CARD)
    bank_name = models.CharField("开户银行", max_length=100)
    account_sealed = models.TextField(editable=False)
    account_hash = models.CharField(max_length=64, editable=False, db_index=True)
    account_masked = models.CharField("账号", max_length=40, editable=False)
    active = models.BooleanField("有效", default=True)
    # who checked the account against the card or passbook, and how
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+",
                                    verbose_name="核验人")
    verified_how = models.CharField("核验方式", max_length=100, blank=True)
    deactivated_on = models.DateField("停用日期", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "银行账户"
        verbose_name_plural = "银行账户"

    def __str__(self) -> str:
        return f"{self.bank_name} {self.account_masked}"

    @property
    def account_number(self) -> str:
        from huimin.registry.crypto import box

        return box().unseal(self.account_sealed)


class Handover(models.Model):
    """A person moved out of the county, with the cases that ended on the move: the record the
    other county imports (``registry.handover`` writes it as JSON or XLSX)."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="handovers",
                               verbose_name="人员")
    from_code = models.CharField("迁出地区划代码", max_length=12)
    to_code = models.CharField("迁往区划代码", max_length=12)
    to_name = models.CharField("迁往地", max_length=200, blank=True)
    moved_on = models.DateField("迁出日期")
    case_ids = models.JSONField("移交案件", default=list)
    note = models.CharField("说明", max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", verbose_name="经办人")
    created_at = models.DateTimeField("移交时间", auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "迁出移交记录"
        verbose_name_plural = "迁出移交记录"

    def __str__(self) -> str:
        return f"移交 {self.pk}"

    @property
    def number(self) -> str:
        return f"YJ{self.moved_on:%Y}-{self.pk:05d}"


class ChangeKind(models.TextChoices):
    IDENTITY = "identity", "更正身份信息（姓名、出生日期、性别、身份证号码）"
    DEATH = "death", "死亡登记"
    MOVE = "move", "迁移（本县内或迁出本县）"
    SPLIT = "split", "分户"
    MERGE = "merge", "合户"
    HEAD = "head", "变更户主"
    MEMBER_ADD = "member_add", "增加户成员"
    MEMBER_REMOVE = "member_remove", "减少户成员"
    PARENT_LINK = "parent_link", "登记亲子关系"
    PARENT_UNLINK = "parent_unlink", "解除亲子关系"
    ACCOUNT_ADD = "account_add", "增加银行账户"
    ACCOUNT_REPLACE = "account_replace", "更换银行账户"
    ACCOUNT_DEACTIVATE = "account_deactivate", "停用银行账户"


class ChangeStatus(models.TextChoices):
    SUBMITTED = "submitted", "待确认"
    CONFIRMED = "confirmed", "已确认并生效"
    REJECTED = "rejected", "已驳回"


#: what the confirmer decides; everything else of a request is frozen once it is submitted
DECISION_FIELDS = frozenset({"status", "decided_by", "decided_at", "decision_reason"})

#: the first bytes of an evidence file sealed at rest
EVIDENCE_MAGIC = b"HMSEAL1\n"


def evidence_path(instance: ChangeRequest, filename: str) -> str:
    return f"registry/changes/{instance.evidence_stored}"


class ChangeRequest(models.Model):
    """A requested change of the register (变更登记): who asked and why, old and new values,
    evidence; frozen once submitted; confirmed (and applied) or rejected by another user at
    the level the change needs."""

    kind = models.CharField("变更类型", max_length=20, choices=ChangeKind.choices)
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="change_requests", verbose_name="人员")
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="change_requests", verbose_name="户")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, verbose_name="户籍地")
    confirm_level = models.CharField("确认层级", max_length=10)
    applicant = models.CharField("申请人（群众）", max_length=50, blank=True)
    reason = models.TextField("变更原因")
    old_values = models.JSONField("原登记内容", default=dict)
    new_values = models.JSONField("变更后内容", default=dict)  # masked where personal
    params = models.JSONField("办理参数", default=dict)  # ids, dates, codes (not personal)
    secret_sealed = models.TextField(blank=True, editable=False)  # a full ID or card number
    evidence = models.FileField("证明材料", upload_to=evidence_path, max_length=200, blank=True)
    evidence_stored = models.CharField(max_length=80, blank=True, editable=False)
    evidence_name = models.CharField("证明材料文件名", max_length=200, blank=True)
    evidence_type = models.CharField(max_length=60, blank=True)
    evidence_size = models.PositiveIntegerField(default=0)
    evidence_sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField("状态", max_length=10, choices=ChangeStatus.choices,
                              default=ChangeStatus.SUBMITTED, db_index=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+", verbose_name="提交人")
    submitted_at = models.DateTimeField("提交时间", auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+",
                                   verbose_name="确认人")
    decided_at = models.DateTimeField("确认时间", null=True, blank=True)
    decision_reason = models.TextField("驳回理由", blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        verbose_name = "变更申请"
        verbose_name_plural = "变更申请"

    def __str__(self) -> str:
        return self.number

    def save(self, *args: object, **kwargs: object) -> None:
        """Once submitted, only the decision may be written."""
        if self.pk is not None:
            fields = kwargs.get("update_fields")
            if fields is None or not set(fields) <= DECISION_FIELDS:  # type: ignore[call-overload]
                raise ValueError("变更申请提交后内容不能修改；请另行提交新的申请")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def number(self) -> str:
        return f"BG{self.pk:06d}"

    def _context(self) -> str:
        return f"change-evidence:{self.evidence_stored}"

    def write_evidence(self, data: bytes) -> None:
        from django.core.files.base import ContentFile

        from huimin.registry.crypto import box

        blob = EVIDENCE_MAGIC + box().seal_bytes(data, self._context())
        self.evidence.save(self.evidence_stored, ContentFile(blob), save=False)

    def read_evidence(self) -> bytes:
        from huimin.registry.crypto import box

        with self.evidence.open("rb") as fh:
            blob = fh.read()
        if not blob.startswith(EVIDENCE_MAGIC):
            raise ValueError(f"变更申请 {self.pk} 的证明材料不是加密存储的格式")
        return box().unseal_bytes(blob[len(EVIDENCE_MAGIC):], self._context())
