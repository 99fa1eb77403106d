from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

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
