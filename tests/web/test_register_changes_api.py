"""API: change requests submitted, listed, read, confirmed and rejected."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.test import Client

from huimin.registry.models import BankAccount, ChangeRequest, Person
from tests.conftest import PASSWORD, VILLAGE_A, Personas
from tests.web.cases_helpers import make_rural_couple
from tests.web.changes_helpers import (
    CARD,
    PNG,
    _media_root,  # noqa: F401  (autouse)
)

pytestmark = pytest.mark.django_db


def api(username: str) -> Client:
    c = Client()
    assert c.login(username=username, password=PASSWORD)
    return c


def post(c: Client, url: str, body: dict[str, Any]) -> Any:
    return c.post(url, body, content_type="application/json")


def test_submit_list_detail_confirm(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    a = api("cadre_a")
    r = post(a, "/api/registry/changes", {
        "kind": "identity", "person_id": couple.wife.pk, "reason": "户口簿为王桂芳",
        "values": {"name": "王桂芳"},
        "evidence": {"name": "户口簿.png", "content_base64": base64.b64encode(PNG).decode()}})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "submitted" and body["confirm_level"] == "township"
    assert body["changes"] == [{"field": "姓名", "old": "王桂兰", "new": "王桂芳"}]
    assert a.get("/api/registry/changes").json() == []  # not the submitter's to confirm
    t = api("township")
    assert [x["id"] for x in t.get("/api/registry/changes").json()] == [body["id"]]
    assert t.get(f"/api/registry/changes/{body['id']}").json()["number"] == body["number"]
    r = t.post(f"/api/registry/changes/{body['id']}/confirm")
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    assert Person.objects.get(pk=couple.wife.pk).name == "王桂芳"
    assert t.post(f"/api/registry/changes/{body['id']}/confirm").status_code == 409
    listed = t.get("/api/registry/changes", {"status": "confirmed"}).json()
    assert [x["decided_by"] for x in listed] == ["township"]


def test_reject_and_bad_input(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    a = api("cadre_a")
    r = post(a, "/api/registry/changes", {
        "kind": "account_add", "person_id": couple.wife.pk, "reason": "新卡",
        "values": {"bank_name": "农商银行", "account": "6228480012345678901",
                   "verified_how": "持卡核对"}})
    assert r.status_code == 400 and "银行卡号：校验位不符" in r.json()["detail"]
    r = post(a, "/api/registry/changes", {"kind": "head", "person_id": couple.wife.pk,
                                          "reason": "x"})
    assert r.status_code == 400 and r.json()["detail"].startswith("household_id")
    r = post(a, "/api/registry/changes", {"kind": "nonsense", "person_id": couple.wife.pk,
                                          "reason": "x"})
    assert r.status_code == 422
    r = post(a, "/api/registry/changes", {
        "kind": "account_add", "person_id": couple.wife.pk, "reason": "新卡",
        "values": {"bank_name": "农商银行", "account": CARD, "verified_how": "持卡核对"}})
    assert r.status_code == 201
    change = r.json()["id"]
    t = api("township")
    r = post(t, f"/api/registry/changes/{change}/reject", {"reason": ""})
    assert r.status_code == 400 and "驳回理由" in r.json()["detail"]
    r = post(t, f"/api/registry/changes/{change}/reject", {"reason": "卡号与存折不符"})
    assert r.json()["status"] == "rejected"
    assert not BankAccount.objects.filter(person=couple.wife).exists()


def test_wrong_role_403_and_outsider_404(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    body = {"kind": "death", "person_id": couple.husband.pk, "reason": "村委会报告",
            "values": {"death_date": "2026-01-05", "source": "村委会"}}
    assert post(api("finance"), "/api/registry/changes", body).status_code == 403
    assert post(api("cadre_b"), "/api/registry/changes", body).status_code == 404
    change = post(api("cadre_a"), "/api/registry/changes", body).json()["id"]
    assert api("cadre_a").post(f"/api/registry/changes/{change}/confirm").status_code == 403
    assert api("finance").post(f"/api/registry/changes/{change}/confirm").status_code == 403
    for outsider in ("township_b", "township_c"):
        c = api(outsider)
        assert c.get(f"/api/registry/changes/{change}").status_code == 404
        assert c.post(f"/api/registry/changes/{change}/confirm").status_code == 404
        assert c.get("/api/registry/changes", {"status": "all"}).json() == []
    assert ChangeRequest.objects.get(pk=change).status == "submitted"
