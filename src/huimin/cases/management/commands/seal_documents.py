"""Seal case documents stored before sealing at rest, and tighten the modes of their files."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from huimin.cases.models import CaseDocument


class Command(BaseCommand):
    help = "加密存储此前以明文保存的申请材料，并把材料目录和文件设为仅服务账户可读"

    def handle(self, *args: Any, **options: Any) -> None:
        sealed = 0
        for doc in CaseDocument.objects.filter(sealed=False).order_by("pk").iterator():
            with transaction.atomic():
                locked = CaseDocument.objects.select_for_update().get(pk=doc.pk)
                if locked.sealed:
                    continue
                data = locked.read()
                old_path = locked.file.path
                locked.write(data)  # a new file under the same stored name, sealed
                locked.save(update_fields=["file", "sealed"])
                if locked.file.path != old_path and os.path.exists(old_path):
                    os.remove(old_path)
            sealed += 1
        root = str(settings.MEDIA_ROOT)
        for dirpath, _dirs, files in os.walk(os.path.join(root, "cases")):
            os.chmod(dirpath, 0o700)
            for name in files:
                os.chmod(os.path.join(dirpath, name), 0o600)
        self.stdout.write(f"已加密 {sealed} 份申请材料")
