"""No index reads a case's state, and each case page keeps free room (PostgreSQL), so moving
a million cases into payment, or paid, rewrites each row in place (heap-only tuples)."""

from typing import Any

from django.conf import settings
from django.db import migrations, models


def fillfactor(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE cases_case SET (fillfactor = 50)")


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0003_fill_review_chains'),
        ('programs', '0004_seed_document_checklists'),
        ('registry', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='case',
            name='cases_case_state_b8c5fa_idx',
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(fields=['program', 'claim_year'], name='case_program_year'),
        ),
        migrations.RunPython(fillfactor, migrations.RunPython.noop),
    ]
