from django.db import migrations

CHECKLISTS = {
    "childcare-subsidy": [
        ("birth_certificate", "出生医学证明", True),
        ("hukou_register", "户口簿", True),
        ("bank_card", "银行卡或存折", True),
        ("guardianship", "监护关系证明（非父母申领时）", False),
    ],
    "rural-reward": [
        ("id_card", "夫妻双方身份证", True),
        ("hukou_register", "户口簿", True),
        ("status_proof", "独生子女父母光荣证或村级证明", True),
        ("marriage_certificate", "结婚证", False),
        ("bank_card", "银行卡或存折", True),
    ],
    "special-assistance": [
        ("id_card", "夫妻双方身份证", True),
        ("hukou_register", "户口簿", True),
        ("marriage_certificate", "结婚证", True),
        ("status_proof", "独生子女父母光荣证或村级证明", True),
        ("death_or_disability", "子女死亡证明或残疾证", True),
        ("bank_card", "银行卡或存折", True),
    ],
}


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    Program = apps.get_model("programs", "Program")
    DocumentType = apps.get_model("programs", "DocumentType")
    for code, items in CHECKLISTS.items():
        program = Program.objects.filter(code=code).first()
        if program is None:
            continue
        for order, (doc_code, name, required) in enumerate(items, start=1):
            DocumentType.objects.update_or_create(
                program=program, code=doc_code,
                defaults={"name": name, "required": required, "order": order})


class Migration(migrations.Migration):
    dependencies = [("programs", "0003_document_types")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
