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
