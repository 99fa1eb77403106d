"""Audit events: every state change and every view of a person's record.

Events are append-only: a saved event is never changed or deleted, through the model, its
manager, the admin or (on PostgreSQL) SQL, where a trigger refuses UPDATE and DELETE.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    """An attempt to change or delete an audit event."""

    def __init__(self, what: str) -> None:
        super().__init__(f"审计事件只能追加，不能{what}")


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("修改")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("删除")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise AppendOnlyError("修改")

    def update_or_create(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("修改")


AuditEventManager = models.Manager.from_queryset(AuditEventQuerySet)


class AuditEvent(models.Model):
    at = models.DateTimeField("时间", auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, verbose_name="操作人"
    )
    action = models.CharField("操作", max_length=60, db_index=True)
    object_type = models.CharField("对象类型", max_length=40)
    object_id = models.CharField("对象编号", max_length=40)
    person_id = models.BigIntegerField("相关人员", null=True, blank=True, db_index=True)
    case_id = models.BigIntegerField("相关案件", null=True, blank=True, db_index=True)
    area_code = models.CharField("区划代码", max_length=12, blank=True)
    data = models.JSONField("内容", default=dict, blank=True)

    objects = AuditEventManager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "审计事件"
        verbose_name_plural = "审计事件"
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            # the audit log list: scoped by area code (prefix), newest first
            models.Index(fields=["area_code", "at", "id"], name="audit_area_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("修改")
        if kwargs.get("force_update") or kwargs.get("update_fields"):
            raise AppendOnlyError("修改")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("删除")
