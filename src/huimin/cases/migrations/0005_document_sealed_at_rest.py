"""Case documents sealed at rest (a flag for files stored before: ``huimin manage
seal_documents`` seals them), and the identity numbers on notices re-masked to the first
and last character: the old "first 6 + last 4" was undone by any birth date shown beside it."""

from django.db import migrations, models

REMASK = ("UPDATE cases_noticeentry SET id_masked = substr(id_masked, 1, 1) || "
          "'****************' || substr(id_masked, 18, 1) WHERE length(id_masked) = 18")


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0004_state_out_of_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='casedocument',
            name='sealed',
            field=models.BooleanField(default=False, editable=False, verbose_name='加密存储'),
        ),
        migrations.RunSQL(REMASK, migrations.RunSQL.noop),
    ]
