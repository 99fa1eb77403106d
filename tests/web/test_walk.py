"""The walking skeleton of 育儿补贴, through the web UI and through the API."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from huimin.cases.models import Case
from huimin.cases.timeline import case_entries
from huimin.payments import actions as pay_actions
from huimin.payments.models import PaymentBatch, PaymentCycle, PaymentLine
from tests.conftest import PASSWORD, Family, Personas

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_time():  # type: ignore[no-untyped-def]
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        yield


def login(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_walk_through_the_web_ui(personas: Personas, family_a: Family) -> None:
    cadre = login(personas.cadre_a)
    resp = cadre.post(reverse("cases:new"), {
        "child_id_number": family_a.child.id_number,
        "applicant_id_number": family_a.mother.id_number,
    })
    assert resp.status_code == 302
    case = Case.objects.get(subject=family_a.child)
    assert case.state == "submitted"
    assert (case.months, case.amount_fen) == (12, 360000)  # born 2023-12: 12 months in 2026
    page = cadre.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "12 个月 × 300 元" in page and "3,600.00 元" in page

    township = login(personas.township)
    assert case.number in township.get(reverse("home")).content.decode()  # on the worklist
    resp = township.post(reverse("cases:act", args=[case.pk]),
                         {"transition": "township_approve", "version": case.version})
    assert resp.status_code == 302
    case.refresh_from_db()
    assert case.state == "township_approved"

    county = login(personas.county)
    county.post(reverse("cases:act", args=[case.pk]),
                {"transition": "county_approve", "version": case.version, "comment": "同意"})
    case.refresh_from_db()
    assert case.state == "approved"

    finance = login(personas.finance)
    resp = finance.post(reverse("payments:cycle_new"),
                        {"program": "childcare-subsidy", "claim_year": "2026"})
    assert resp.status_code == 302
    cycle = PaymentCycle.objects.get()
    assert cycle.payable_count == 1
    resp = finance.post(reverse("payments:new"), {"cycle": cycle.pk})
    assert resp.status_code == 302
    batch = PaymentBatch.objects.get()
    assert (batch.line_count, batch.total_fen) == (1, 360000)
    case.refresh_from_db()
    assert case.state == "in_payment"

    assert finance.post(reverse("payments:export", args=[batch.pk])).status_code == 302
    batch.refresh_from_db()
    assert batch.state == "draft"  # not exported before a second person
    county.post(reverse("payments:release", args=[batch.pk]))
    assert finance.post(reverse("payments:export", args=[batch.pk])).status_code == 302
    resp = finance.get(reverse("payments:download", args=[batch.pk]))
    assert resp.status_code == 200
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8"))))
    assert rows[0] == ["流水号", "户名", "账号", "开户银行", "金额", "用途"]
    assert rows[1][1:5] == ["陈秀英", "6228480012345678901", "中国农业银行惠来县支行", "3600.00"]
    assert rows[-1][:3] == ["合计", "1", "3600.00"] and rows[-1][3].startswith("SHA256:")
    again = finance.get(reverse("payments:download", args=[batch.pk]))
    assert again.content == resp.content  # same batch, same bytes

    ret = pay_actions.sample_return(batch)
    upload = io.BytesIO(ret)
    upload.name = "return.csv"
    resp = finance.post(reverse("payments:return", args=[batch.pk]), {"file": upload})
    assert resp.status_code == 302
    case.refresh_from_db()
    assert case.state == "paid"
    assert "已发放" in cadre.get(reverse("cases:detail", args=[case.pk])).content.decode()
    actions = [e.action for e in case_entries({case.pk: case}, {})]
    assert actions == ["case.submit", "case.township_review", "case.county_confirm",
                       "case.freeze", "case.add_to_batch", "case.paid"]
    # the auditor finds the batch and the return by the case, and by the person
    auditor = login(personas.auditor)

    def events(**params: str) -> str:
        page = auditor.post(reverse("audit:search"), params).content.decode()
        return page.split('data-testid="events"')[1]

    for params in ({"case": case.number}, {"person": family_a.child.id_number}):
        found = events(**params)
        assert "生成发放批次" in found and "导入银行回盘" in found, params
    assert "生成发放批次" not in events(case="2026-999999")
    household = cadre.get(reverse("registry:household", args=[family_a.child.household_id]))
    page = household.content.decode()
    assert "纳入发放批次" in page and "发放成功" in page and batch.number in page


def test_walk_through_the_api_with_a_failed_line_paid_later(
    personas: Personas, family_a: Family
) -> None:
    cadre = login(personas.cadre_a)
    resp = cadre.post("/api/cases", {
        "subject_id": family_a.child.pk, "applicant_id": family_a.mother.pk, "claim_year": 2026,
    }, content_type="application/json")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["amount_fen"] == 360000 and body["eligible"]
    assert body["criteria"] and all(c["passed"] for c in body["criteria"])
    case_id = body["id"]

    dup = cadre.post("/api/cases", {
        "subject_id": family_a.child.pk, "applicant_id": family_a.father.pk, "claim_year": 2026,
    }, content_type="application/json")
    assert dup.status_code == 409
    assert body["number"] in dup.json()["detail"]

    township = login(personas.township)
    r = township.post(f"/api/cases/{case_id}/township-review",
                      {"approve": True, "version": body["version"]},
                      content_type="application/json")
    assert r.status_code == 200 and r.json()["state"] == "township_approved"
    stale = login(personas.county).post(f"/api/cases/{case_id}/county-confirm",
                                        {"approve": True, "version": body["version"]},
                                        content_type="application/json")
    assert stale.status_code == 409  # acted on an old version
    r = login(personas.county).post(f"/api/cases/{case_id}/county-confirm",
                                    {"approve": True}, content_type="application/json")
    assert r.json()["state"] == "approved"

    finance = login(personas.finance)
    county = login(personas.county)
    cyc = finance.post("/api/cycles", {"claim_year": 2026}, content_type="application/json")
    assert cyc.status_code == 201 and cyc.json()["payable_count"] == 1
    cycle_id = cyc.json()["id"]
    b1 = finance.post("/api/batches", {"cycle_id": cycle_id}, content_type="application/json")
    assert b1.status_code == 201
    batch1 = PaymentBatch.objects.get(pk=b1.json()["id"])
    assert county.post(f"/api/batches/{batch1.pk}/release").status_code == 200
    assert finance.post(f"/api/batches/{batch1.pk}/export").json()["state"] == "exported"
    assert finance.get(f"/api/batches/{batch1.pk}/bank-file").status_code == 200
    line = batch1.lines.get()
    failed = pay_actions.sample_return(batch1, {line.reference: "账户已冻结"})
    r = finance.post(f"/api/batches/{batch1.pk}/return",
                     {"file": _upload(failed)})
    assert r.json() == {"paid": 0, "failed": 1, "returned": 0, "unchanged": 0}
    r = finance.post(f"/api/batches/{batch1.pk}/return", {"file": _upload(failed)})
    assert r.json() == {"paid": 0, "failed": 0, "returned": 0, "unchanged": 1}  # no change
    assert Case.objects.get(pk=case_id).state == "payment_failed"

    r = finance.post(f"/api/lines/{line.pk}/correct",
                     {"bank_account_id": family_a.account.pk, "note": "已核实，账户已解冻"},
                     content_type="application/json")
    assert r.status_code == 200
    b2 = finance.post("/api/batches", {"cycle_id": cycle_id}, content_type="application/json")
    batch2 = PaymentBatch.objects.get(pk=b2.json()["id"])
    county.post(f"/api/batches/{batch2.pk}/release")
    finance.post(f"/api/batches/{batch2.pk}/export")
    r = finance.post(f"/api/batches/{batch2.pk}/return",
                     {"file": _upload(pay_actions.sample_return(batch2))})
    assert r.json()["paid"] == 1
    assert Case.objects.get(pk=case_id).state == "paid"
    assert PaymentLine.objects.filter(case_id=case_id, status="paid").count() == 1
    none_left = finance.post("/api/batches", {"cycle_id": cycle_id},
                             content_type="application/json")
    assert none_left.status_code == 400  # a paid case never enters another batch


def _upload(data: bytes) -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = "return.csv"
    return f


def test_ineligible_application_is_recorded_and_cannot_be_approved(
    personas: Personas, family_a: Family
) -> None:
    from huimin.registry.models import Person

    Person.objects.filter(pk=family_a.child.pk).update(birth_date="2021-12-31")
    cadre = login(personas.cadre_a)
    r = cadre.post("/api/cases", {"subject_id": family_a.child.pk,
                                  "applicant_id": family_a.mother.pk, "claim_year": 2026},
                   content_type="application/json")
    assert r.status_code == 201 and not r.json()["eligible"]
    township = login(personas.township)
    r2 = township.post(f"/api/cases/{r.json()['id']}/township-review", {"approve": True},
                       content_type="application/json")
    assert r2.status_code == 400 and "2022 年 1 月 1 日" in r2.json()["detail"]
    r3 = township.post(f"/api/cases/{r.json()['id']}/township-review",
                       {"approve": False, "comment": "出生日期不在补贴范围"},
                       content_type="application/json")
    assert r3.json()["state"] == "rejected"


def test_bad_return_file_is_refused_whole(personas: Personas, family_a: Family,
                                          family_b: Family) -> None:
    from huimin.cases import actions

    for fam, cadre in ((family_a, personas.cadre_a), (family_b, personas.cadre_b)):
        from huimin.programs.models import Program

        case = actions.submit_application(
            cadre, program=Program.objects.get(code="childcare-subsidy"), subject=fam.child,
            claim_year=2026, applicant=fam.mother, bank_account=fam.account)
        township = personas.township if fam is family_a else personas.township_b
        actions.township_review(township, case, approve=True)
        actions.county_confirm(personas.county, case, approve=True)
    cycle = pay_actions.build_cycle(personas.finance, program=case.program, claim_year=2026)
    batch = pay_actions.create_batch(personas.finance, cycle)
    pay_actions.release_batch(personas.county, batch)
    pay_actions.export_batch(personas.finance, batch)
    good = pay_actions.sample_return(batch).decode()
    lines = good.splitlines()
    tampered = "\r\n".join([lines[0], lines[1], lines[2].replace("3600.00", "3601.00"),
                             lines[3]])
    finance = login(personas.finance)
    r = finance.post(f"/api/batches/{batch.pk}/return", {"file": _upload(tampered.encode())})
    assert r.status_code == 400
    assert [(e["row"], e["column"]) for e in r.json()["errors"]] == [
        (3, "金额"), (4, "金额"), (4, "校验码")]  # the line, the control total, the checksum
    assert r.json()["errors"][0]["reason"] == "与批次金额不符"
    assert not PaymentLine.objects.filter(batch=batch).exclude(status="pending").exists()
    foreign = good.replace(batch.number, "PB202699999")
    r = finance.post(f"/api/batches/{batch.pk}/return", {"file": _upload(foreign.encode())})
    assert r.status_code == 400
    assert [e["column"] for e in r.json()["errors"]] == ["流水号", "流水号", "校验码"]
