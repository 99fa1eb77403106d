"""Users and their TOTP devices in the admin; every change goes through ``accounts.actions``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from huimin.accounts import actions
from huimin.accounts.models import User


@admin.register(User)
class HuiminUserAdmin(UserAdmin):  # type: ignore[type-arg]
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("惠民", {"fields": ("role", "display_name", "areas")}),
    )
    list_display = ("username", "display_name", "role", "is_active")
    list_filter = ("role", "is_active")
    filter_horizontal = ("areas",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        request._huimin_before = (  # type: ignore[attr-defined]
            actions.stored_snapshot(obj) if change else None)
        with actions.recording():
            super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        with actions.recording():
            super().save_related(request, form, formsets, change)
        user = form.instance
        before = getattr(request, "_huimin_before", None)
        if before is None:
            actions.record_created(request.user, user, via="admin")
        else:
            actions.record_changes(request.user, user, before, actions.snapshot(user),
                                   via="admin")

    def user_change_password(self, request: HttpRequest, id: str,
                             form_url: str = "") -> HttpResponse:
        with transaction.atomic():
            user = self.get_object(request, unquote(id))
            before = user.password if user is not None else None
            with actions.recording():
                response = super().user_change_password(request, id, form_url)
            if user is not None:
                user.refresh_from_db(fields=["password"])
                if user.password != before:
                    own = request.user.pk == user.pk
                    actions.audit(request.user, "account.password_change" if own
                                  else "account.password_reset", user,
                                  username=user.username, via="admin")
        return response


admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class AuditedTOTPDeviceAdmin(TOTPDeviceAdmin):  # type: ignore[misc]
    """Devices added, changed or removed by an administrator are audited."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:
            actions.audit(request.user, "account.totp_change", obj.user,
                          username=obj.user.username, device=obj.pk,
                          fields=sorted(form.changed_data), via="admin")
        else:
            actions.audit(request.user, "account.totp_enrol", obj.user,
                          username=obj.user.username, device=obj.pk, via="admin")

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        actions.remove_totp(request.user, obj, via="admin")

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for device in queryset.select_related("user"):
            actions.remove_totp(request.user, device, via="admin")
