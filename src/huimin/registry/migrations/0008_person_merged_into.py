"""A merged duplicate record points at the record it was merged into (filled from the
existing merges, a chain followed to its end)."""

import django.db.models.deletion
from django.db import migrations, models



def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    PersonMerge = apps.get_model("identity", "PersonMerge")
    Person = apps.get_model("registry", "Person")
    into = dict(PersonMerge.objects.values_list("drop_id", "keep_id"))
    for drop in into:
        keep = into[drop]
        while keep in into:
            keep = into[keep]
        Person.objects.filter(pk=drop).update(merged_into_id=keep)


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0007_bankaccount_kind'),
        ('identity', '0001_candidate_pairs_claims_merges'),
    ]

    operations = [
        migrations.AddField(
            model_name='person',
            name='merged_into',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='merged_records', to='registry.person', verbose_name='已并入'),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
