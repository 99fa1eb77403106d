"""迁出移交 by the API and the command line: the county the person left takes the record
(JSON or Excel), the receiving county registers the person from it; refusals name the
reason and change nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from typer.testing import CliRunner

from huimin.audit.models import AuditEvent
from huimin.cli import app
from huimin.registry.models import Handover, Person
from tests.conftest import PASSWORD, VILLAGE_C, Personas
from tests.web.test_register_handover_import import record_for

pytestmark = pytest.mark.django_db


def login(username: str) -> Client:
    c = Client()
    assert c.login(username=username, password=PASSWORD)
    return c


def post_file(c: Client, data: bytes, name: str = "移交.json") -> Any:
    f = io.BytesIO(data)
    f.name = name
    return c.post("/api/registry/handovers/import", {"file": f})


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["registry", "handover", *args])
    return result.exit_code, result.output


def changed() -> list[Any]:
    return list(AuditEvent.objects.filter(action__in=["handover.import", "person.change"])
                .values_list("id", flat=True))


def test_the_api_takes_the_record_out_and_in(personas: Personas) -> None:
    person, _ = record_for(personas)
    item = Handover.objects.get(person=person)
    resp = login("cadre_a").get(f"/api/registry/handovers/{item.pk}")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/json"
    doc = resp.json()
    assert doc["person"]["id_number"] == person.id_number and doc["to_code"] == VILLAGE_C
    taken = AuditEvent.objects.filter(action="handover.download", object_id=str(item.pk))
    assert taken.count() == 1 and taken.get().data["format"] == "json"

    receiving = login("cadre_c")
    resp = post_file(receiving, resp.content)
    assert resp.status_code == 201, resp.content
    out = resp.json()
    assert out["person"]["id"] == person.pk and out["person"]["area_code"] == VILLAGE_C
    assert person.id_number not in resp.content.decode()  # the answer shows the mask only
    assert [c["program"] for c in out["cases"]] == ["rural-reward"]
    assert out["household"] == Person.objects.get(pk=person.pk).household.number
    # the same record again: the person is registered here now
    before = changed()
    resp = post_file(receiving, json.dumps(doc).encode())
    assert resp.status_code == 409 and "已在本系统登记" in resp.json()["detail"]
    assert changed() == before


def test_the_api_refuses_a_bad_record_and_another_village(personas: Personas) -> None:
    person, data = record_for(personas)
    before = changed()
    resp = post_file(login("cadre_c"), b'{"format": "huimin-handover/1"')
    assert resp.status_code == 400 and "JSON" in resp.json()["detail"]
    resp = post_file(login("cadre_a"), data)  # VILLAGE_C is not cadre_a's
    assert resp.status_code == 403 and "不在您的管辖范围内" in resp.json()["detail"]
    resp = post_file(login("county"), data)
    assert resp.status_code == 403
    assert changed() == before
    assert Person.objects.get(pk=person.pk).area.code != VILLAGE_C


def test_the_command_line_exports_and_imports_excel(personas: Personas, tmp_path: Path) -> None:
    person, _ = record_for(personas)
    item = Handover.objects.get(person=person)
    out = tmp_path / "移交.xlsx"
    code, text = run("export", str(item.pk), "--user", "township", "--out", str(out),
                     "--format", "xlsx")
    assert code == 0 and f"已导出移交记录 {item.number}" in text, text
    assert out.read_bytes()[:4] == b"PK\x03\x04"
    assert AuditEvent.objects.filter(action="handover.download", object_id=str(item.pk),
                                     actor__username="township").exists()
    code, text = run("import", str(out), "--user", "cadre_c")
    assert code == 0, text
    assert f"已登记迁入人员 {person.name}" in text and "请按本县规定重新受理" in text
    assert person.id_number not in text
    assert Person.objects.get(pk=person.pk).area.code == VILLAGE_C
    code, text = run("import", str(out), "--user", "cadre_c", "--json")
    assert code == 1 and "已在本系统登记" in text


def test_the_command_line_refuses_naming_why(personas: Personas, tmp_path: Path) -> None:
    person, data = record_for(personas)
    item = Handover.objects.get(person=person)
    record = tmp_path / "r.json"
    record.write_bytes(data)
    before = changed()
    assert run("export", str(item.pk), "--user", "cadre_b", "--out",
               str(tmp_path / "x.json"))[0] == 2  # another township's person
    code, text = run("export", str(item.pk), "--user", "finance", "--out",
                     str(tmp_path / "x.json"))
    assert code == 1 and "此操作仅限" in text
    assert run("export", str(item.pk), "--user", "township", "--out", str(tmp_path / "x"),
               "--format", "pdf")[0] == 2
    assert not (tmp_path / "x.json").exists()
    code, text = run("import", str(tmp_path / "none.json"), "--user", "cadre_c")
    assert code == 2 and "无法读取" in text
    code, text = run("import", str(record), "--user", "finance")
    assert code == 1 and "您的角色不能导入迁入人员" in text
    code, text = run("import", str(record), "--user", "cadre_a")
    assert code == 1 and "不在您的管辖范围内" in text
    assert run("import", str(record), "--user", "nobody")[0] == 2
    assert changed() == before
