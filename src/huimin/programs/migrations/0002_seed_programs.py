from django.db import migrations

PROGRAMS = [
    ("childcare-subsidy", "育儿补贴", "Childcare subsidy", False),
    ("rural-reward", "农村部分计划生育家庭奖励扶助", "Rural reward-assistance", True),
    ("special-assistance", "计划生育家庭特别扶助", "Special assistance", True),
]


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    Program = apps.get_model("programs", "Program")
    for code, name, name_en, notice in PROGRAMS:
        Program.objects.update_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "public_notice": notice}
        )


class Migration(migrations.Migration):
    dependencies = [("programs", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
