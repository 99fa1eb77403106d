"""Identity numbers masked to their first and last character (4****************X).

The old mask kept the first 6 and last 4; the 8 hidden characters were the birth date, shown
beside it, so every masked number could be rebuilt in full (issue 12, finding 1)."""

from django.db import migrations

REMASK = ("UPDATE registry_person SET id_masked = substr(id_masked, 1, 1) || "
          "'****************' || substr(id_masked, 18, 1) WHERE length(id_masked) = 18")


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0001_initial'),
    ]

    operations = [
        migrations.RunSQL(REMASK, migrations.RunSQL.noop),
    ]
