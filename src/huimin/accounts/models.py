"""Users, their role and the areas they are assigned to."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    VILLAGE_CADRE = "village_cadre", "村级专干"
    TOWNSHIP_REVIEWER = "township_reviewer", "乡镇审核员"
    COUNTY_APPROVER = "county_approver", "县级审批员"
    FINANCE_OFFICER = "finance_officer", "财务人员"
    AUDITOR = "auditor", "审计人员"
    ADMIN = "admin", "系统管理员"


class User(AbstractUser):
    role = models.CharField("角色", max_length=20, choices=Role.choices)
    display_name = models.CharField("显示名称", max_length=50, blank=True)
    areas = models.ManyToManyField(
        "registry.Area", blank=True, related_name="users", verbose_name="负责区域"
    )

    class Meta:
        verbose_name = "用户"
        verbose_name_plural = "用户"

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else ""
