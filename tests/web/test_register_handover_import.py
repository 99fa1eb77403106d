"""迁入登记: the receiving county registers a person from the other county's hand-over record."""

from __future__ import annotations

import io
import json
import re
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


def test_the_excel_record_round_trips_into_the_receiving_county(personas: Personas) -> None:
    """The receiving office may get the XLSX the other county downloaded: it imports the
    same as the JSON record, cases included."""
    person, _ = record_for(personas)
    record = Handover.objects.get(person=person)
    f = io.BytesIO(handover.as_xlsx(record))
    f.name = "移交.xlsx"
    c = Client()
    assert c.login(username="cadre_c", password=PASSWORD)
    r = c.post(reverse("registry:handover_import"), {"file": f})
    assert r.status_code == 302, r.content.decode()
    person.refresh_from_db()
    assert person.area.code == VILLAGE_C and person.moved_out_on is None
    from_json = handover.payload(record)
    ev = AuditEvent.objects.get(action="handover.import")
    assert ev.data["number"] == record.number
    assert [c["program"] for c in ev.data["cases"]] == [c["program"] for c in from_json["cases"]]
    assert ev.data["cases"][0]["amount_fen"] == from_json["cases"][0]["amount_fen"]
    assert "请按本县规定重新受理" in c.get(r["Location"]).content.decode()


def _edited(record: Handover, edit: Any) -> bytes:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(handover.as_xlsx(record)))
    edit(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_a_spoilt_excel_record_is_refused_naming_its_sheet_row_and_cell(
        personas: Personas) -> None:
    person, _ = record_for(personas)
    record = Handover.objects.get(person=person)

    def id_as_number(wb: Any) -> None:
        ws = wb["人员"]
        row = next(r for r in ws.iter_rows() if r[0].value == "身份证号码")
        # as Excel keeps a number typed in (an X at the end would have kept it text)
        row[1].value = float(person.id_number[:17] + "0")

    def no_cases_sheet(wb: Any) -> None:
        del wb["移交案件"]

    def bad_year(wb: Any) -> None:
        wb["移交案件"]["D2"].value = "二〇二六"

    def no_format(wb: Any) -> None:
        ws = wb["人员"]
        ws.delete_rows(next(r[0].row for r in ws.iter_rows() if r[0].value == "格式"))

    cases = [(id_as_number, "人员 第 7 行「身份证号码」：看起来被 Excel"),
             (no_cases_sheet, "移交案件：第 1 行应为表头"),
             (bad_year, "移交案件 第 2 行「申领年度」：应为整数"),
             (no_format, "人员：缺少「格式」行")]
    for edit, message in cases:
        f = io.BytesIO(_edited(record, edit))
        f.name = "移交.xlsx"
        c = Client()
        assert c.login(username="cadre_c", password=PASSWORD)
        r = c.post(reverse("registry:handover_import"), {"file": f})
        assert r.status_code == 400 and message in r.content.decode(), (
            message, re.findall(r"role=\"status\">([^<]*)", r.content.decode()))
    bomb = b"PK\x03\x04" + b"\x00" * 100
    r = upload("cadre_c", bomb)
    assert r.status_code == 400 and "不是有效的 Excel" in r.content.decode()
    person.refresh_from_db()
    assert person.area.code == VILLAGE_A and person.moved_out_on is not None
    assert not AuditEvent.objects.filter(action="handover.import").exists()
