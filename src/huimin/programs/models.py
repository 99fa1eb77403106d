"""Programs administered by the office. Their rules live as data in huimin.rules."""

from __future__ import annotations

from django.db import models


class Program(models.Model):
    code = models.CharField("项目代码", max_length=60, unique=True)
    name = models.CharField("项目名称", max_length=100)
    name_en = models.CharField("英文名称", max_length=150, blank=True)
    public_notice = models.BooleanField("需要公示", default=False)
    active = models.BooleanField("启用", default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = "项目"
        verbose_name_plural = "项目"

    def __str__(self) -> str:
        return self.name


class DocumentType(models.Model):
    """One item of a program's checklist of documents (scans or photos kept with the case)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="document_types",
                                verbose_name="项目")
    code = models.CharField("材料代码", max_length=40)
    name = models.CharField("材料名称", max_length=100)
    required = models.BooleanField("必交", default=True)
    order = models.PositiveSmallIntegerField("顺序", default=0)

    class Meta:
        ordering = ["program", "order", "id"]
        verbose_name = "申请材料"
        verbose_name_plural = "申请材料"
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="uniq_document_type_code"),
        ]

    def __str__(self) -> str:
        return self.name
