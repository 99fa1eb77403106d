from django.contrib import admin

from huimin.programs.models import DocumentType, Program


class DocumentTypeInline(admin.TabularInline):  # type: ignore[type-arg]
    model = DocumentType
    extra = 1


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "public_notice", "active")
    inlines = [DocumentTypeInline]
