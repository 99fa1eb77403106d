"""Issue 12, findings 9 and 11: the API's document behind login and served locally, its error
answers, ranges and enums; claim years and paging refused with a 4xx, never a 500; exporting
a batch is a POST, downloading its file a GET that only reads and is logged every time."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.cases import actions as case_actions
from huimin.errors import ActionError
from huimin.payments import actions as pay
from huimin.payments.models import PaymentBatch
from huimin.programs.models import Program
from tests.conftest import PASSWORD, VILLAGE_A, Family, Personas, make_family

SH = ZoneInfo("Asia/Shanghai")
NEXT_YEAR = datetime.now(SH).year + 1  # claim years run to next year, today
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_time() -> Any:
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        yield


def login(user: Any) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


# ---------------------------------------------------------------------------------------------
# The document and Swagger UI


@pytest.mark.parametrize("url", ["/api/docs", "/api/openapi.json"])
def test_api_document_and_docs_need_a_login(url: str, personas: Personas) -> None:
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert login(personas.cadre_a).get(url).status_code == 200


def test_swagger_ui_is_served_locally_without_inline_script(personas: Personas) -> None:
    html = login(personas.cadre_a).get("/api/docs").content.decode()
    sources = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    assert sources == ["/static/ninja/swagger-ui-bundle.js", "/static/ninja/swagger-ui-init.js"]
    styles = re.findall(r'<link[^>]*\bhref="([^"]+)"', html)
    assert all(h.startswith("/static/") for h in styles) and styles
    assert "cdn" not in html.lower() and "//" not in "".join(sources + styles)
    # every script element either loads a file from here or is data (not executed under CSP)
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S):
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs
        assert "src=" not in attrs or not body.strip()


def test_every_operation_documents_its_error_answers() -> None:
    from huimin.api import api

    schema = api.get_openapi_schema()
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"] and "errors" in error["properties"]
    ops = [(path, method, op) for path, item in schema["paths"].items()
           for method, op in item.items()]
    assert len(ops) >= 30
    for path, method, op in ops:
        for code in (400, 401, 403, 404, 409, 422):
            answer = op["responses"][code]
            assert answer["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"}, (method, path, code)


def _param(schema: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    params = schema["paths"][path]["get"]["parameters"]
    return next(p["schema"] for p in params if p["name"] == name)


def test_document_states_ranges_and_enums() -> None:
    from huimin.api import api

    schema = api.get_openapi_schema()
    comps = schema["components"]["schemas"]
    for path in ("/api/cases", "/api/notices", "/api/worklist", "/api/cycles", "/api/batches"):
        assert (_param(schema, path, "limit")["minimum"],
                _param(schema, path, "limit")["maximum"]) == (1, 500)
        assert _param(schema, path, "offset")["minimum"] == 0
    year = comps["CaseIn"]["properties"]["claim_year"]
    assert (year["minimum"], year["maximum"]) == (2000, 2100)
    assert comps["CycleIn"]["properties"]["claim_year"]["minimum"] == 2000
    assert "approved" in comps["State"]["enum"] and "paid" in comps["State"]["enum"]
    assert set(comps["Level"]["enum"]) == {"village", "township", "county"}
    assert "finance_officer" in comps["Role"]["enum"]
    assert comps["DecisionIn"]["properties"]["action"]["enum"] == ["approve", "reject", "return"]
    assert "exported" in comps["BatchState"]["enum"]


def test_validation_errors_name_the_field_in_chinese(personas: Personas) -> None:
    resp = login(personas.county).get("/api/cases?limit=-5")
    assert resp.status_code == 422
    body = resp.json()
    assert body["errors"] == [{"field": "limit", "reason": "须不小于 1"}]
    assert body["detail"] == "limit：须不小于 1"


# ---------------------------------------------------------------------------------------------
# Finding 9: claim years and paging


def _family(personas: Personas) -> Family:
    return make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))


@pytest.mark.parametrize("year", [0, -1, 1999, 2101, 99999, 2**31, 2**63, 2**64])
def test_api_claim_year_out_of_range_is_422(year: int, personas: Personas) -> None:
    fam = _family(personas)
    resp = login(personas.cadre_a).post("/api/cases", {
        "subject_id": fam.child.pk, "applicant_id": fam.mother.pk, "claim_year": year},
        content_type="application/json")
    assert resp.status_code == 422, resp.content
    assert resp.json()["errors"][0]["field"] == "claim_year"


def test_api_claim_year_after_next_year_is_400(personas: Personas) -> None:
    fam = _family(personas)
    resp = login(personas.cadre_a).post("/api/cases", {
        "subject_id": fam.child.pk, "applicant_id": fam.mother.pk, "claim_year": NEXT_YEAR + 1},
        content_type="application/json")
    assert resp.status_code == 400
    assert resp.json()["detail"] == f"申领年度：须为 2000–{NEXT_YEAR} 之间的四位年份"


@pytest.mark.parametrize("year", [0, 10000, 2**31, 2**63, -2026])
def test_submit_application_refuses_claim_years_out_of_range(year: int,
                                                             personas: Personas) -> None:
    fam = _family(personas)
    with pytest.raises(ActionError, match="申领年度"):
        case_actions.submit_application(
            personas.cadre_a, program=Program.objects.get(code="childcare-subsidy"),
            subject=fam.child, claim_year=year, applicant=fam.mother)


@pytest.mark.parametrize("year", ["0", "99999", str(2**31), str(2**63), "²⁰²⁶", "1999",
                                  "２０２６", "-1"])
def test_intake_form_claim_year_out_of_range_is_400(year: str, personas: Personas) -> None:
    fam = _family(personas)
    resp = login(personas.cadre_a).post(reverse("cases:new"), {
        "program": "childcare-subsidy", "claim_year": year,
        "subject_id_number": fam.child.id_number, "applicant_id_number": fam.mother.id_number})
    assert resp.status_code == 400
    assert f"申领年度：须为 2000–{NEXT_YEAR} 之间的四位年份" in resp.content.decode()


@pytest.mark.parametrize("path", ["/api/cases", "/api/notices", "/api/worklist",
                                  "/api/cycles", "/api/batches"])
@pytest.mark.parametrize("query", ["limit=-1", "limit=0", "limit=501", "offset=-1",
                                   f"offset={2**63}", f"limit={2**64}", "offset=x"])
def test_paging_out_of_range_is_422(path: str, query: str, personas: Personas) -> None:
    resp = login(personas.county).get(f"{path}?{query}")
    assert resp.status_code == 422, resp.content
    assert resp.json()["errors"][0]["field"] in ("limit", "offset")


@pytest.mark.parametrize("case_id", [0, -1, 2**63, 2**64])
def test_ids_out_of_range_are_422(case_id: int, personas: Personas) -> None:
    client = login(personas.county)
    assert client.get(f"/api/cases/{case_id}/documents").status_code == 422
    assert client.get(f"/api/batches/{case_id}").status_code == 422


def test_text_with_nul_is_422(personas: Personas) -> None:
    resp = login(personas.cadre_a).post("/api/notices", {
        "program": "childcare-subsidy", "start_on": "2026-06-15", "objection_info": "村\x00委会"},
        content_type="application/json")
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "objection_info"


# ---------------------------------------------------------------------------------------------
# Finding 11: export is a POST, a download a logged GET that only reads


def released(personas: Personas) -> PaymentBatch:
    program = Program.objects.get(code="childcare-subsidy")
    fam = _family(personas)
    case = case_actions.submit_application(
        personas.cadre_a, program=program, subject=fam.child, claim_year=2026,
        applicant=fam.mother, bank_account=fam.account)
    case_actions.township_review(personas.township, case, approve=True)
    case_actions.county_confirm(personas.county, case, approve=True)
    cycle = pay.build_cycle(personas.finance, program=program, claim_year=2026)
    batch = pay.create_batch(personas.finance, cycle)
    pay.release_batch(personas.county, batch)
    batch.refresh_from_db()
    return batch


def _events(batch: PaymentBatch, action: str) -> int:
    return AuditEvent.objects.filter(action=action, object_type="paymentbatch",
                                     object_id=str(batch.pk)).count()


def test_web_download_does_not_export_and_export_is_a_post(personas: Personas) -> None:
    batch = released(personas)
    finance = login(personas.finance)
    resp = finance.get(reverse("payments:download", args=[batch.pk]))
    assert resp.status_code == 302  # not exported yet: back to the batch, nothing changed
    batch.refresh_from_db()
    assert batch.state == "released" and batch.file_sha256 == ""
    assert _events(batch, "batch.export") == _events(batch, "batch.download") == 0
    assert finance.get(reverse("payments:export", args=[batch.pk])).status_code == 405
    page = finance.get(reverse("payments:detail", args=[batch.pk])).content.decode()
    export_url = reverse("payments:export", args=[batch.pk])
    assert f'<form method="post" action="{export_url}">' in page
    assert finance.post(reverse("payments:export", args=[batch.pk])).status_code == 302
    batch.refresh_from_db()
    assert batch.state == "exported" and _events(batch, "batch.export") == 1


def test_every_download_is_logged_and_changes_nothing(personas: Personas) -> None:
    batch = released(personas)
    finance = login(personas.finance)
    finance.post(reverse("payments:export", args=[batch.pk]))
    batch.refresh_from_db()
    before = (batch.state, batch.file_sha256, batch.exported_at)
    page = finance.get(reverse("payments:detail", args=[batch.pk])).content.decode()
    assert 'data-testid="redownload-warning"' not in page
    bodies = {finance.get(reverse("payments:download", args=[batch.pk])).content
              for _ in range(3)}
    bodies.add(finance.get(f"/api/batches/{batch.pk}/bank-file").content)
    assert len(bodies) == 1  # four downloads, the same bytes
    batch.refresh_from_db()
    assert (batch.state, batch.file_sha256, batch.exported_at) == before
    downloads = AuditEvent.objects.filter(action="batch.download", object_id=str(batch.pk))
    assert downloads.count() == 4  # four downloads, four rows
    assert sorted(e.data["n"] for e in downloads) == [1, 2, 3, 4]
    assert {e.data["sha256"] for e in downloads} == {batch.file_sha256}
    assert _events(batch, "batch.export") == 1
    page = finance.get(reverse("payments:detail", args=[batch.pk])).content.decode()
    assert "本批次银行文件已下载 4 次" in page and "再次下载银行文件" in page


def test_api_export_is_a_post_and_bank_file_a_read(personas: Personas) -> None:
    batch = released(personas)
    finance = login(personas.finance)
    early = finance.get(f"/api/batches/{batch.pk}/bank-file")
    assert early.status_code == 409 and "尚未导出" in early.json()["detail"]
    batch.refresh_from_db()
    assert batch.state == "released"
    resp = finance.post(f"/api/batches/{batch.pk}/export")
    assert resp.status_code == 200 and resp.json()["state"] == "exported"
    assert resp.json()["file_sha256"]
    again = finance.post(f"/api/batches/{batch.pk}/export")
    assert again.status_code == 409
    file = finance.get(f"/api/batches/{batch.pk}/bank-file")
    assert file.status_code == 200 and file["Content-Type"].startswith("text/csv")
    assert _events(batch, "batch.export") == 1 and _events(batch, "batch.download") == 1
    assert login(personas.county).post(f"/api/batches/{batch.pk}/export").status_code == 403


@pytest.mark.parametrize("start_on", ["9999-12-31", "0001-01-01", "1999-12-31"])
def test_notice_start_out_of_range_is_refused(start_on: str, personas: Personas) -> None:
    cadre = login(personas.cadre_a)
    resp = cadre.post("/api/notices", {"program": "childcare-subsidy", "start_on": start_on,
                                       "objection_info": "村委会"},
                      content_type="application/json")
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "start_on"
    form = cadre.post(reverse("notices:new"), {"program": "childcare-subsidy",
                                               "start_on": start_on, "objection_info": "村委会"})
    assert form.status_code == 400
    assert "公示开始日期：格式应为 YYYY-MM-DD，年份在 2000–2100 之间" in form.content.decode()
