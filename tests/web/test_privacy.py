"""Personal data outside the sealed columns (issue 12, finding 7) and logged reads (finding 6):
identity numbers searched only in a POST body and never kept whole in an audit row, case
documents sealed at rest with restrictive modes, every read of personal data logged, and the
audit search's filters answering 400 (not 500) for digits it cannot use."""

from __future__ import annotations

import importlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from cryptography.exceptions import InvalidTag
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.cases import actions
from huimin.cases.models import CaseDocument
from huimin.programs.models import DocumentType
from tests.conftest import PASSWORD, Family, Personas
from tests.web.cases_helpers import PNG, apply_rural, make_rural_couple
from tests.web.test_access_matrix import World  # the world fixture, in this test's transaction:
from tests.web.test_access_matrix import own_world as world  # noqa: F401

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def login(user: Any) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def audit_text() -> str:
    return json.dumps(list(AuditEvent.objects.values("data", "object_id")), ensure_ascii=False)


def test_id_number_search_is_post_only_and_logged_without_the_number(
        personas: Personas, family_a: Family) -> None:
    child = family_a.child
    number = child.id_number
    cadre = login(personas.cadre_a)
    fullwidth = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    for q in (number, number[:12], fullwidth):  # no number (or part of one) in a URL
        page = cadre.get(reverse("registry:persons"), {"q": q})
        assert page.status_code == 400 and "不能放在网址中" in page.content.decode()
        api = cadre.get("/api/persons", {"q": q})
        assert api.status_code == 400 and "POST /api/persons/search" in api.json()["detail"]
    assert cadre.get(reverse("registry:persons"), {"q": "小宝"}).status_code == 200

    page = cadre.post(reverse("registry:persons"), {"id_number": number.lower()})
    assert page.status_code == 200 and child.name in page.content.decode()
    assert number not in page.content.decode()
    found = cadre.post("/api/persons/search", {"id_number": number},
                       content_type="application/json")
    assert [p["id"] for p in found.json()] == [child.pk]
    assert "birth_date" not in found.json()[0] and found.json()[0]["age_text"]
    bad = cadre.post("/api/persons/search", {"id_number": "12345"},
                     content_type="application/json")
    assert bad.status_code == 400 and "身份证号码" in bad.json()["detail"]
    outsider = login(personas.cadre_b).post("/api/persons/search", {"id_number": number},
                                            content_type="application/json")
    assert outsider.status_code == 200 and outsider.json() == []

    searches = AuditEvent.objects.filter(action="person.search", data__by="id_number")
    assert searches.count() == 3  # web, API, and the outsider's (found nothing)
    assert {e.data["id_hash"] for e in searches} == {child.id_hash}
    assert {e.data["id_masked"] for e in searches} == {child.id_masked}
    assert {e.data["found"] for e in searches} == {0, 1}
    assert AuditEvent.objects.filter(action="person.list", person_id=child.pk,
                                     data__via="id_search").exists()
    assert number not in audit_text() and number[6:14] not in audit_text()


def test_audit_search_keeps_no_number_and_answers_400_for_bad_digits(
        personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, "445224100201")
    apply_rural(personas.cadre_a, couple.husband)
    number = couple.husband.id_number
    auditor = login(personas.auditor)
    url = reverse("audit:search")
    found = auditor.post(url, {"person": number})
    assert found.status_code == 200 and "受理申请" in found.content.decode()
    assert auditor.get(url, {"person": number}).status_code == 400  # not in a URL
    row = AuditEvent.objects.filter(action="audit.search").latest("id")
    assert row.data["filters"]["person"] == number[0] + "*" * 16 + number[-1]
    assert row.data["filters"]["person_id_hash"] == couple.husband.id_hash
    assert number not in audit_text()
    for field, value, label in (("case", "²", "案件"), ("case", "2026-" + "9" * 40, "案件"),
                                ("case", "٣", "案件"), ("person", "²", "人员"),
                                ("person", "9" * 40, "人员"), ("person", "12³", "人员")):
        resp = auditor.post(url, {field: value})
        assert resp.status_code == 400, (field, value)
        assert label in resp.content.decode()
        assert auditor.get(url, {field: value}).status_code == 400


def test_old_audit_rows_lose_the_number(personas: Personas) -> None:

    from huimin.audit.events import record

    number = "11010519491231002X"
    record(personas.auditor, "audit.search", personas.auditor,
           filters={"person": number, "user": "cadre_a"})
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    module = importlib.import_module("huimin.audit.migrations.0002_no_id_numbers_in_searches")
    # the migration runs on the models as they were then, before rows became append-only
    # (the trigger of audit 0003 comes after it; disabled here as it is not yet there)
    state = MigrationLoader(connection).project_state(("audit", "0002_no_id_numbers_in_searches"))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        module.scrub(state.apps, None)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    row = AuditEvent.objects.get(action="audit.search")
    assert row.data["filters"]["person"] == "1****************X"
    assert row.data["filters"]["user"] == "cadre_a" and number not in audit_text()


def test_old_masks_are_remasked(personas: Personas, family_a: Family) -> None:
    from django.db import connection

    from huimin.registry.models import Person

    child = family_a.child
    number = child.id_number
    Person.objects.filter(pk=child.pk).update(id_masked=number[:6] + "*" * 8 + number[-4:])
    module = importlib.import_module("huimin.registry.migrations.0002_id_masked_first_and_last")
    with connection.cursor() as cursor:
        cursor.execute(module.REMASK)
    child.refresh_from_db()
    assert child.id_masked == number[0] + "*" * 16 + number[-1]


def test_documents_are_sealed_at_rest(personas: Personas, settings: Any, tmp_path: Path
                                      ) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    couple = make_rural_couple(personas.cadre_a, "445224100201")
    case = apply_rural(personas.cadre_a, couple.husband)
    kind = DocumentType.objects.get(program__code="rural-reward", code="hukou_register")
    scan = PNG + b"ID-CARD-SCAN-PIXELS" * 20
    doc = actions.add_document(personas.cadre_a, case, doc_type=kind, data=scan,
                               filename="身份证.png")
    path = Path(doc.file.path)
    assert b"ID-CARD-SCAN-PIXELS" not in path.read_bytes()
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    cadre = login(personas.cadre_a)
    got = cadre.get(reverse("cases:document", args=[case.pk, doc.pk]))
    assert got.status_code == 200 and b"".join(got.streaming_content) == scan  # type: ignore[attr-defined]
    assert "no-store" in got["Cache-Control"]
    assert AuditEvent.objects.filter(action="case.document_view", object_id=str(doc.pk),
                                     actor=personas.cadre_a).count() == 1
    # a sealed file moved under another document's name does not open
    other = actions.add_document(personas.cadre_a, case, doc_type=kind, data=PNG,
                                 filename="户口簿.png")
    Path(other.file.path).write_bytes(path.read_bytes())
    with pytest.raises(InvalidTag):
        other.read()
    broken = cadre.get(reverse("cases:document", args=[case.pk, other.pk]))
    assert broken.status_code == 500 and "材料文件无法打开" in broken.content.decode()

    # a document stored in plain form before sealing: the command seals it
    legacy = CaseDocument(case=case, doc_type=kind, original_name="旧.png",
                          content_type="image/png", size=len(scan), sha256="x",
                          uploaded_by=personas.cadre_a, stored_name="legacy.png")
    legacy.file.save("legacy.png", ContentFile(scan), save=False)
    legacy.save()
    plain_path = legacy.file.path
    os.chmod(plain_path, 0o644)
    assert legacy.read() == scan and not legacy.sealed
    call_command("seal_documents", stdout=open(os.devnull, "w"))  # noqa: SIM115
    legacy.refresh_from_db()
    assert legacy.sealed and legacy.read() == scan
    assert b"ID-CARD-SCAN-PIXELS" not in Path(legacy.file.path).read_bytes()
    assert not os.path.exists(plain_path) or plain_path == legacy.file.path
    assert Path(legacy.file.path).stat().st_mode & 0o777 == 0o600
    got = cadre.get(reverse("cases:document", args=[case.pk, legacy.pk]))
    assert b"".join(got.streaming_content) == scan  # type: ignore[attr-defined]


def test_every_read_of_personal_data_is_logged(personas: Personas, world: World) -> None:  # noqa: F811
    from huimin.accounts.access import persons_for

    def count(action: str, **kw: Any) -> int:
        return AuditEvent.objects.filter(action=action, **kw).count()

    cadre = login(personas.cadre_a)
    with time_machine.travel(datetime(2026, 6, 15, 11, 0, tzinfo=SH), tick=False):
        shown = min(persons_for(personas.cadre_a).count(), 50)
        cadre.get(reverse("registry:persons"))
        assert count("person.list", actor=personas.cadre_a, data__via="list") == shown
        cadre.get(reverse("registry:persons"), {"q": "林"})
        assert count("person.search", actor=personas.cadre_a, data__q="林") == 1
        listed = cadre.get("/api/persons", {"limit": 3}).json()
        assert {e.person_id for e in AuditEvent.objects.filter(
            action="person.list", data__via="api")} == {p["id"] for p in listed}
        household = cadre.get(reverse("registry:household", args=[world.person.household_id]))
        assert "查看人员名单" not in household.content.decode()  # reads stay out of 一户一档
        cadre.get(f"/api/cases/{world.submitted.pk}")
        assert count("case.view", case_id=world.submitted.pk, actor=personas.cadre_a) == 1
        cadre.get(reverse("cases:letter", args=[world.cases.rejected.pk]), {"format": "html"})
        assert count("case.letter", case_id=world.cases.rejected.pk, data__format="html") == 1
        finance = login(personas.finance)
        assert finance.get(reverse("payments:detail", args=[world.batch.pk])).status_code == 200
        assert count("batch.view", object_id=str(world.batch.pk), actor=personas.finance) == 1
        cycle = world.pay.cycle if world.pay else None
        assert cycle is not None
        finance.get(reverse("payments:reconcile", args=[cycle.pk]))
        finance.get(reverse("payments:reconcile_xlsx", args=[cycle.pk]))
        assert count("cycle.reconcile_view", object_id=str(cycle.pk)) == 1
        assert count("cycle.reconcile_export", object_id=str(cycle.pk)) == 1
    # the auditor finds the list reads of a person and the scoped events
    auditor = login(personas.auditor)
    page = auditor.post(reverse("audit:search"), {"person": str(world.person.pk),
                                                   "action": "person.list"})
    assert "查看人员名单" in page.content.decode()
    page = auditor.post(reverse("audit:search"), {"action": "batch.view"})
    assert "查看发放批次明细" in page.content.decode()
