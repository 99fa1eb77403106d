"""The online channel and the office's API: intake, worklist, decisions, notices, objections."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from huimin.cases.models import Case
from tests.conftest import PASSWORD, VILLAGE_A, Personas
from tests.web.cases_helpers import PNG, make_rural_couple

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def login(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def at(day: int) -> time_machine.travel:
    return time_machine.travel(datetime(2026, 6, day, 10, 0, tzinfo=SH), tick=False)


def test_rural_reward_through_the_api(personas: Personas, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    cadre, township = login(personas.cadre_a), login(personas.township)
    with at(15):
        resp = cadre.post("/api/cases", {
            "program": "rural-reward", "subject_id": couple.husband.pk, "claim_year": 2026,
            "facts": {"policy_status_confirmed": True}}, content_type="application/json")
        assert resp.status_code == 201, resp.content
        body = resp.json()
        assert (body["state"], body["level"], body["amount_fen"]) == ("submitted", "village",
                                                                      96000)
        work = cadre.get("/api/worklist").json()
        assert [w["case"]["id"] for w in work] == [body["id"]]
        assert work[0]["deadline_text"] == "还剩 20 个工作日"
        f = io.BytesIO(PNG)
        f.name = "id.png"
        up = cadre.post(f"/api/cases/{body['id']}/documents", {"doc_type": "id_card", "file": f})
        assert up.status_code == 201 and up.json()["content_type"] == "image/png"
        bad = io.BytesIO(b"plain text")
        bad.name = "id.txt"
        refused = cadre.post(f"/api/cases/{body['id']}/documents",
                             {"doc_type": "id_card", "file": bad})
        assert refused.status_code == 400 and "PDF、JPG、PNG" in refused.json()["detail"]
        decided = cadre.post(f"/api/cases/{body['id']}/decide",
                             {"action": "approve", "version": body["version"]},
                             content_type="application/json")
        assert decided.json()["state"] == "village_approved"
        notice = cadre.post("/api/notices", {"program": "rural-reward", "start_on": "2026-06-15",
                                             "objection_info": "村委会"},
                            content_type="application/json").json()
        assert notice["end_on"] == "2026-06-21"
        assert notice["entries"][0]["name"] == "李**"
        early = township.post(f"/api/cases/{body['id']}/decide", {"action": "approve"},
                              content_type="application/json")
        assert early.status_code == 400 and "公示期至 2026-06-21 结束" in early.json()["detail"]
        objection = township.post(f"/api/cases/{body['id']}/objections",
                                  {"content": "子女情况与申报不符"},
                                  content_type="application/json").json()
        assert objection["status"] == "open"
    with at(18):
        upheld = cadre.post(f"/api/objections/{objection['id']}/resolve",
                            {"upheld": True, "finding": "经核实另有一子"},
                            content_type="application/json")
        assert upheld.json()["status"] == "upheld"
        back = cadre.get(f"/api/cases/{body['id']}").json()
        assert (back["state"], back["level"]) == ("submitted", "village")
        rejected = cadre.post(f"/api/cases/{body['id']}/decide",
                              {"action": "reject", "reason_codes": ["objection_upheld"]},
                              content_type="application/json").json()
        assert rejected["state"] == "rejected"
        reopened = cadre.post(f"/api/cases/{body['id']}/review-request",
                              {"comment": "该子已于 2020 年去世，附死亡证明"},
                              content_type="application/json").json()
        assert (reopened["state"], reopened["level"]) == ("submitted", "village")
    outcomes = list(Case.objects.get(pk=body["id"]).decisions.values_list("outcome", flat=True))
    assert outcomes == ["submitted", "approved", "objection_upheld", "rejected",
                        "review_requested"]
