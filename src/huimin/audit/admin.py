from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from huimin.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: audit events are written by actions, never added, changed or deleted here."""

    list_display = ("at", "actor", "action", "object_type", "object_id", "person_id", "case_id")
    list_filter = ("action",)
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
