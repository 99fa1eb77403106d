from django.db import migrations
from django.utils import timezone

# The 育儿补贴 chain of cases recorded before review chains were kept with each case.
CHILDCARE_CHAIN = [
    {"level": "township", "role": "township_reviewer", "posting": False, "posting_days": 0,
     "deadline_working_days": 30},
    {"level": "county", "role": "county_approver", "posting": False, "posting_days": 0,
     "deadline_working_days": 30},
]
AWAITING = {"submitted": ("township", "township_reviewer"),
            "township_approved": ("county", "county_approver")}


def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    Case = apps.get_model("cases", "Case")
    for case in Case.objects.filter(review_chain=[]).iterator(chunk_size=1000):
        level, role = AWAITING.get(case.state, ("county", ""))
        case.review_chain = CHILDCARE_CHAIN
        case.level = level
        case.awaiting_role = role
        case.ready_on = timezone.localtime(case.updated_at).date() if role else None
        case.save(update_fields=["review_chain", "level", "awaiting_role", "ready_on"])


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_review_chains_documents_notices_objections")]
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
