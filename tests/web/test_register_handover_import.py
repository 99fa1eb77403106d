"""迁入登记: the receiving county registers a person from the other county's hand-over record."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from huimin.accounts.access import persons_for
from huimin.audit.models import AuditEvent
from huimin.cases.actions import local_today
from huimin.lib.idnumber import make
from huimin.registry import actions, handover
from huimin.registry.models import Handover, Person
from tests.conftest import PASSWORD, VILLAGE_A, VILLAGE_C, Personas
from tests.web.cases_helpers import apply_rural, make_rural_couple

pytestmark = pytest.mark.django_db


def upload(username: str, data: bytes, c: Client | None = None) -> Any:
    if c is None:
        c = Client()
        assert c.login(username=username, password=PASSWORD)
    f = io.BytesIO(data)
    f.name = "移交.json"
    return c.post(reverse("registry:handover_import"), {"file": f})


def record_for(personas: Personas) -> tuple[Any, bytes]:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    apply_rural(personas.cadre_a, couple.husband)
    actions.move_person(personas.cadre_a, couple.husband, to_code=VILLAGE_C,
                        moved_on=local_today() - timedelta(days=2))
    return couple.husband, handover.as_json(Handover.objects.get(person=couple.husband))


def test_the_receiving_county_takes_the_person_in(personas: Personas) -> None:
    person, data = record_for(personas)
    page = Client()
    page.login(username="cadre_c", password=PASSWORD)
    r = upload("cadre_c", data, page)
    assert r.status_code == 302
    person.refresh_from_db()
    assert person.area.code == VILLAGE_C and person.moved_out_on is None
    assert person.household is not None and person.household.head == person
    assert persons_for(personas.cadre_c).filter(pk=person.pk).exists()
    assert not persons_for(personas.cadre_a).filter(pk=person.pk).exists()
    ev = AuditEvent.objects.get(action="handover.import")
    assert ev.data["cases"][0]["program"] == "rural-reward"
    assert "请按本县规定重新受理" in page.get(r["Location"]).content.decode()


def test_a_person_new_to_this_deployment_is_registered(personas: Personas) -> None:
    number = make("440000", date(1980, 2, 3), 13)
    doc = {"format": handover.FORMAT, "number": "YJ2026-00009", "moved_on": "2026-10-01",
           "from_code": "440111001001", "to_code": VILLAGE_C,
           "person": {"name": "何志明", "id_number": number, "sex": "M",
                      "birth_date": "1980-02-03", "hukou_type": "urban"}, "cases": []}
    person, summary = handover.import_handover(personas.cadre_c,
                                               json.dumps(doc).encode())
    assert person.id_number == number and person.area.code == VILLAGE_C
    assert person.hukou_type == "urban" and summary["cases"] == []


def test_wrong_role_outsider_and_bad_records(personas: Personas) -> None:
    person, data = record_for(personas)
    assert upload("finance_b", data).status_code == 403
    assert upload("cadre_a", data).status_code == 403  # VILLAGE_C is not theirs
    assert upload("cadre_b", data).status_code == 403
    doc = json.loads(data)
    bad = [
        (b"not json", "不是 UTF-8 编码的 JSON"),
        (json.dumps({**doc, "format": "x"}).encode(), "format：应为"),
        (json.dumps({**doc, "to_code": "445222102999"}).encode(), "to_code："),
        (json.dumps({**doc, "person": {**doc["person"], "birth_date": "1964-03-02"}}).encode(),
         "身份证号码："),
    ]
    for body, message in bad:
        r = upload("cadre_c", body)
        assert r.status_code == 400 and message in r.content.decode(), message
    staying = make_rural_couple(personas.cadre_a, VILLAGE_A, surname="周")
    clash = {**doc, "person": {**doc["person"], "id_number": staying.wife.id_number,
                               "sex": "F", "birth_date": staying.wife.birth_date.isoformat()}}
    r = upload("cadre_c", json.dumps(clash).encode())
    assert r.status_code == 409 and "已在本系统登记" in r.content.decode()
    person.refresh_from_db()
    assert person.area.code == VILLAGE_A and person.moved_out_on is not None
    assert not AuditEvent.objects.filter(action="handover.import").exists()
    assert Person.objects.filter(area__code=VILLAGE_C).count() == 0
