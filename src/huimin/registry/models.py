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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "户"
        verbose_name_plural = "户"

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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "人员"
        verbose_name_plural = "人员"
        indexes = [models.Index(fields=["area", "birth_date"])]

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


class BankAccount(models.Model):
    """An account benefits are paid into. The number is sealed at rest."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="bank_accounts")
    bank_name = models.CharField("开户银行", max_length=100)
    account_sealed = models.TextField(editable=False)
    account_hash = models.CharField(max_length=64, editable=False, db_index=True)
    account_masked = models.CharField("账号", max_length=40, editable=False)
    active = models.BooleanField("有效", default=True)
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
