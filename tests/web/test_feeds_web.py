"""Feeds pages and the token API: works, outsider, wrong role; masks stay masked."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.registry.models import Area
from huimin.verification import tokens
from huimin.verification.models import Effect, FeedFile, FeedRow, FeedToken
from tests.conftest import PASSWORD, VILLAGE_A, Personas, new_id
from tests.web.feeds_helpers import (
    BIRTH,
    DISABILITY,
    NOW,
    apply_for,
    childcare_case,
    csv_bytes,
    death_file,
    load,
    older_family,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def _client(user: Any) -> Client:
    c = Client()
    c.login(username=user.username, password=PASSWORD)
    return c


def _upload(data: bytes, name: str = "deaths.csv") -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


def test_upload_shows_counts_and_rows(personas: Personas, family_a: Any) -> None:
    childcare_case(personas, family_a)
    c = family_a.child
    data = death_file([["D1", c.id_number, c.name, "2026-03-05", "", ""],
                       ["D2", new_id(date(1970, 1, 1), "M"), "无此人", "2026-03-05", "", ""],
                       ["D3", c.id_number[:-1] + "0" if c.id_number[-1] != "0" else
                        c.id_number[:-1] + "1", c.name, "2026-03-05", "", ""]])
    resp = _client(personas.county).post(reverse("feeds:index"), {
        "kind": "death", "file": _upload(data)})
    assert resp.status_code == 302
    feed = FeedFile.objects.get()
    page = _client(personas.county).get(resp["Location"]).content.decode()
    assert "共 3 行：匹配 1，未匹配 1，隔离 1" in page
    assert c.id_number not in page and FeedRow.objects.get(event_id="D1").id_masked in page
    assert "校验码错误" in page and "未在本辖区登记" in page
    assert AuditEvent.objects.filter(action="feed.rows_view", data__file=feed.pk).exists()
    exc = _client(personas.county).get(reverse("feeds:exceptions") + "?status=quarantined")
    # the event id cells (a bare "D1" could be part of the page's random CSRF token)
    assert "<td>D3</td>" in exc.content.decode() and "<td>D1</td>" not in exc.content.decode()


def test_upload_refused_file_stores_nothing(personas: Personas) -> None:
    resp = _client(personas.county).post(reverse("feeds:index"), {
        "kind": "death", "file": _upload(b"event_id,name\r\n1,x\r\n")})
    assert resp.status_code == 400
    assert "缺少必需的列：id_number、death_date" in resp.content.decode()
    assert not FeedFile.objects.exists()


def test_wrong_role_cannot_upload(personas: Personas, family_a: Any) -> None:
    c = family_a.child
    resp = _client(personas.cadre_a).post(reverse("feeds:index"), {
        "kind": "death", "file": _upload(death_file([["D1", c.id_number, c.name,
                                                       "2026-03-05", "", ""]]))})
    assert resp.status_code == 403 and not FeedFile.objects.exists()


def test_rows_of_other_areas_are_not_shown(personas: Personas, family_a: Any,
                                           family_b: Any) -> None:
    a, b = family_a.child, family_b.child
    s = load(personas.county, death_file([["D1", a.id_number, a.name, "2026-03-05", "", ""],
                                          ["D2", b.id_number, b.name, "2026-03-05", "", ""]]))
    page = _client(personas.cadre_b).get(reverse("feeds:file", args=[s.file.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and "<td>D2</td>" in text and "<td>D1</td>" not in text
    assert "只显示与您辖区人员匹配的行" in text
    assert _client(personas.cadre_c).get(reverse("feeds:file", args=[s.file.pk])) \
        .status_code == 404
    assert _client(personas.county_b).get("/api/feeds/effects").json() == []


def test_effects_preview_and_confirm_on_the_web(personas: Personas) -> None:
    fam = older_family(personas.cadre_a, VILLAGE_A, father_born=date(1970, 1, 5),
                       mother_born=date(1972, 2, 6), child_born=date(2000, 3, 7))
    sa = apply_for(personas, "special-assistance", fam.mother, policy_status_confirmed=True)
    c = fam.child
    load(personas.county, csv_bytes(DISABILITY, [["C1", c.id_number, c.name, "CJ1", "2",
                                                  "2026-03-01"]]), kind="disability")
    e = Effect.objects.get(case=sa)
    county = _client(personas.county)
    listing = county.get(reverse("feeds:effects")).content.decode()
    assert sa.number in listing and "重新核定金额" in listing
    preview = county.post(reverse("feeds:preview"), {"effect": [e.pk]})
    text = preview.content.decode()
    assert preview.status_code == 200 and "0.00 元 → 1,800.00 元" in text
    sa.refresh_from_db()
    assert sa.amount_fen == 0  # a preview changes nothing
    done = county.post(reverse("feeds:confirm"), {"effect": [e.pk], "note": "核实无误"})
    assert done.status_code == 302
    sa.refresh_from_db()
    assert sa.amount_fen == 180000 and Effect.objects.get(pk=e.pk).status == "confirmed"
    # the household's file (一户一档) shows it
    hh = county.get(reverse("registry:household", args=[fam.mother.household_id]))
    text = hh.content.decode()
    assert "比对数据提出处理事项" in text and "确认比对处理事项" in text and "重新核定金额" in text


def test_offers_list_for_the_village(personas: Personas, family_a: Any) -> None:
    number = new_id(date(2026, 4, 1), "F")
    load(personas.county, csv_bytes(BIRTH, [["B1", number, "林小花", "女", "2026-04-01",
                                             family_a.mother.id_number, "", "", "N1"]]),
         kind="birth")
    text = _client(personas.cadre_a).get(reverse("feeds:offers")).content.decode()
    assert "陈秀英 家新生儿（尚未登记）" in text and "3,600.00 元" in text and "待联系" in text
    other = _client(personas.cadre_b).get(reverse("feeds:offers")).content.decode()
    assert "陈秀英" not in other


def test_templates_have_the_columns(personas: Personas) -> None:
    c = _client(personas.auditor)
    csv_text = c.get(reverse("feeds:template", args=["birth", "csv"])).content.decode("utf-8-sig")
    assert csv_text.strip() == ",".join(BIRTH)
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(c.get(reverse("feeds:template",
                                                args=["disability", "xlsx"])).content))
    assert [x.value for x in wb.worksheets[0][1]] == [
        "event_id", "id_number", "name", "certificate_no", "grade", "issued_on", "revoked_on"]
    assert c.get(reverse("feeds:template", args=["other", "csv"])).status_code == 404


# ---- the token API ---------------------------------------------------------------------

def _token(personas: Personas, code: str = "445224000000", source: str = "civil_affairs"
           ) -> tuple[FeedToken, str]:
    return tokens.issue_token(personas.county, label="民政局殡葬系统", source=source,
                              area=Area.objects.get(code=code))


def _post(raw: str, body: dict[str, Any]) -> Any:
    return Client().post("/api/feeds/events", body, content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_token_api_refuses_long_cells(personas: Personas) -> None:
    _, raw = _token(personas)
    resp = _post(raw, {"kind": "death", "events": [{"event_id": "A" * 300}]})
    assert resp.status_code == 400 and "第 1 条「event_id」" in resp.json()["detail"]
    assert not FeedFile.objects.exists()


def test_token_api_ingests(personas: Personas, family_a: Any) -> None:
    token, raw = _token(personas)
    assert FeedToken.objects.get().token_hash != raw and raw not in str(
        AuditEvent.objects.get(action="feed.token_issue").data)
    c = family_a.child
    resp = _post(raw, {"kind": "death", "events": [
        {"event_id": "A1", "id_number": c.id_number, "name": c.name, "death_date": "2026-03-05"},
        {"event_id": "A2", "id_number": "123", "name": "某", "death_date": "2026-03-05"}]})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert (body["rows_read"], body["matched"], body["quarantined"]) == (2, 1, 1)
    feed = FeedFile.objects.get()
    assert feed.token == token and feed.via == "api" and feed.loaded_by is None


def test_bad_token_is_401(personas: Personas, family_a: Any) -> None:
    _token(personas)
    body = {"kind": "death", "events": [{"event_id": "A1"}]}
    assert _post("hmf_wrong", body).status_code == 401
    assert Client().post("/api/feeds/events", body,
                         content_type="application/json").status_code == 401
    assert not FeedFile.objects.exists()


def test_revoked_token_is_401(personas: Personas, family_a: Any) -> None:
    token, raw = _token(personas)
    resp = _client(personas.county).post(reverse("feeds:token_revoke", args=[token.pk]))
    assert resp.status_code == 302
    c = family_a.child
    assert _post(raw, {"kind": "death", "events": [
        {"event_id": "A1", "id_number": c.id_number, "name": c.name,
         "death_date": "2026-03-05"}]}).status_code == 401
    assert AuditEvent.objects.filter(action="feed.token_revoke").count() == 1
    assert not FeedFile.objects.exists()


def test_token_of_another_area_matches_nothing_there(personas: Personas,
                                                     family_a: Any) -> None:
    _, raw = tokens.issue_token(personas.county_b, label="揭西民政", source="civil_affairs",
                                area=Area.objects.get(code="445222000000"))
    c = family_a.child
    resp = _post(raw, {"kind": "death", "events": [
        {"event_id": "A1", "id_number": c.id_number, "name": c.name,
         "death_date": "2026-03-05"}]})
    assert resp.status_code == 200 and resp.json()["unmatched"] == 1
    assert not Effect.objects.exists()
    assert not FeedRow.objects.filter(person__isnull=False).exists()


def test_token_of_another_source_cannot_send_this_kind(personas: Personas,
                                                       family_a: Any) -> None:
    _, raw = _token(personas, source="civil_affairs")
    c = family_a.child
    resp = _post(raw, {"kind": "disability", "events": [
        {"event_id": "A1", "id_number": c.id_number, "name": c.name, "certificate_no": "1",
         "grade": 2, "issued_on": "2026-01-01"}]})
    assert resp.status_code == 403 and not FeedFile.objects.exists()


def test_token_issue_wrong_role_and_outsider(personas: Personas) -> None:
    from huimin.errors import Forbidden

    with pytest.raises(Forbidden):
        tokens.issue_token(personas.finance, label="x", source="health",
                           area=Area.objects.get(code="445224000000"))
    with pytest.raises(Forbidden):
        tokens.issue_token(personas.county_b, label="x", source="health",
                           area=Area.objects.get(code="445224000000"))
    token, _ = _token(personas)
    assert _client(personas.county_b).post(
        reverse("feeds:token_revoke", args=[token.pk])).status_code == 404
    assert FeedToken.objects.get().revoked_at is None
    page = _client(personas.county).post(reverse("feeds:tokens"), {
        "label": "卫健出生证明", "source": "health", "area": "445224000000"})
    assert page.status_code == 200 and "hmf_" in page.content.decode()
