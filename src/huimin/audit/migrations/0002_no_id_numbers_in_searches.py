"""Auditor searches kept the filters as typed, so a search by identity number kept the full
number in the audit row (issue 12, finding 7): keep its mask and keyed hash instead."""

import re
from typing import Any

from django.db import migrations

ID_NUMBER = re.compile(r"[0-9]{17}[0-9Xx]")


def scrub(apps: Any, schema_editor: Any) -> None:
    from huimin.registry.crypto import id_hash

    AuditEvent = apps.get_model("audit", "AuditEvent")
    for e in AuditEvent.objects.filter(action="audit.search").iterator():
        filters = dict((e.data or {}).get("filters") or {})
        person = str(filters.get("person", "")).strip()
        if not ID_NUMBER.fullmatch(person):
            continue
        number = person.upper()
        filters["person"] = number[0] + "*" * 16 + number[-1]
        filters["person_id_hash"] = id_hash(number)
        AuditEvent.objects.filter(pk=e.pk).update(data={**e.data, "filters": filters})


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(scrub, migrations.RunPython.noop),
    ]
