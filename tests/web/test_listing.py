"""The lists' search, filters, sorting, pages and exports (huimin.listing).

A bad parameter is a Chinese message and a 400, never a 500; the search by the last four
characters of an identity number finds only the user's own; exports are masked by default,
unmasked only for the roles a list names, and each export is audited.
"""

from __future__ import annotations

import io
import json
import re
import secrets
from datetime import date
from typing import Any

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from huimin import listing
from huimin.audit.models import AuditEvent
from huimin.registry import actions
from huimin.registry.crypto import id_last4_hash
from huimin.registry.models import Person
from tests.conftest import PASSWORD, VILLAGE_A, VILLAGE_B, VILLAGE_C, Personas, make_family

pytestmark = pytest.mark.django_db

LISTS = ["registry:persons", "registry:households", "cases:list", "notices:list",
         "payments:list", "payments:cycles", "audit:search"]


def login(user: Any) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _rows(data: bytes) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [tuple(r) for r in book.worksheets[0].iter_rows(values_only=True)]


@pytest.mark.parametrize("name", LISTS)
def test_a_bad_parameter_is_a_chinese_message_not_a_500(name: str, personas: Personas) -> None:
    client = login(personas.auditor if name == "audit:search" else personas.county)
    url = reverse(name)
    for params, message in (
        ({"sort": "password"}, "排序：不能按「password」排序"),
        ({"page": "abc"}, "页码：「abc」应为正整数"),
        ({"page": "0"}, "页码：「0」应为正整数"),
        ({"page": "99"}, "页码：共 1 页，没有第 99 页"),
        ({"from": "2026-13-01"}, "「2026-13-01」不是有效日期"),
    ):
        resp = client.get(url, params)
        assert resp.status_code == 400, (name, params)
        assert message in resp.content.decode(), (name, params)
    assert client.get(url).status_code == 200


def test_each_filter_kind_refuses_what_it_cannot_apply(personas: Personas) -> None:
    client = login(personas.township)
    for params, message in (
        ({"area": VILLAGE_B}, f"区域：{VILLAGE_B} 不在您的管辖范围内"),
        ({"area": "12"}, "区域：应为 12 位区划代码"),
        ({"state": "nope"}, "状态：没有「nope」这一项"),
        ({"year": "26"}, "申领年度：应为四位数字年份"),
        ({"q": "2026-x1"}, "案件号或姓名"),
    ):
        resp = client.get(reverse("cases:list"), params)
        assert resp.status_code == 400 and message in resp.content.decode(), params


def test_filters_and_sorting_of_the_person_list(personas: Personas) -> None:
    a = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2), surname="林")
    b = make_family(personas.cadre_b, VILLAGE_B, date(2024, 3, 3), surname="黄")
    client = login(personas.county)
    html = client.get(reverse("registry:persons"), {"area": VILLAGE_B}).content.decode()
    assert b.child.name in html and a.child.name not in html
    html = client.get(reverse("registry:persons"), {"sex": "M"}).content.decode()
    assert a.father.name in html and "陈秀英" not in html
    resp = client.get(reverse("registry:persons"), {"sort": "name", "q": "小宝"})
    html = resp.content.decode()
    assert resp.status_code == 200 and html.index("林小宝") < html.index("黄小宝")
    # ages, never birth dates
    assert "2024-02-02" not in html and "1990-03-04" not in html


def test_pages_count_up_to_the_limit_and_jump(personas: Personas, monkeypatch: Any) -> None:
    for i in range(3):
        make_family(personas.cadre_a, VILLAGE_A, date(2024, 1, 1 + i), surname="林")
    from huimin.accounts.access import persons_for
    from huimin.registry import lists

    monkeypatch.setattr(listing, "COUNT_LIMIT", 5)
    small = listing.ListSpec(**{**lists.PERSONS.__dict__, "per_page": 2})
    got = listing.run(small, personas.cadre_a, persons_for(personas.cadre_a), {"page": "3"})
    assert (got.capped, got.count, got.num_pages, got.number) == (True, 5, 3, 3)
    # on PostgreSQL the planner's estimate may follow, and only when above the rows counted
    about = re.fullmatch(r"超过 5(?:（约 (\d+)）)?", got.count_label)
    assert about is not None and (about.group(1) is None or int(about.group(1)) > 5)
    assert len(got.rows) == 2 and not got.errors
    assert "page=2" in got.previous_query and got.has_previous
    # past the counted rows the next page goes by key (the 9 persons are all reachable)
    assert got.has_next and "after=" in got.next_query and "page=" not in got.next_query
    deep = listing.run(small, personas.cadre_a, persons_for(personas.cadre_a), {"page": "4"})
    assert deep.errors == ["页码：共 3 页，没有第 4 页；更多记录请用「下一页」逐页查看，"
                           "或增加筛选条件缩小范围"]


def test_search_by_last_four_is_a_post_and_finds_only_the_users_own(
        personas: Personas) -> None:
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))
    number = fam.child.id_number
    last4 = number[-4:]
    assert Person.objects.get(pk=fam.child.pk).id_last4_hash == id_last4_hash(number, VILLAGE_A)
    found = login(personas.cadre_a).post(reverse("registry:persons"), {"id_number": last4})
    html = found.content.decode()
    assert found.status_code == 200 and f'href="/registry/persons/{fam.child.pk}/"' in html
    assert number not in html
    for outsider in (personas.cadre_b, personas.cadre_c, personas.county_b):
        html = login(outsider).post(reverse("registry:persons"),
                                    {"id_number": last4}).content.decode()
        assert f'/registry/persons/{fam.child.pk}/' not in html, outsider.username
        html = login(outsider).post(reverse("registry:persons"),
                                    {"id_number": number}).content.decode()
        assert f'/registry/persons/{fam.child.pk}/' not in html, outsider.username
    # in a URL: refused with the reason
    resp = login(personas.cadre_a).get(reverse("registry:persons"), {"q": last4})
    assert resp.status_code == 400 and "不能放在网址中" in resp.content.decode()
    bad = login(personas.cadre_a).post(reverse("registry:persons"), {"id_number": "12x"})
    assert bad.status_code == 400 and "后 4 位" in bad.content.decode()
    logged = json.dumps(list(AuditEvent.objects.filter(action="person.search")
                             .values_list("data", flat=True)), ensure_ascii=False)
    assert number not in logged and f'"{last4}"' not in logged


def test_cases_are_found_by_the_subjects_id_number_in_a_post_only_the_users_own(
        personas: Personas) -> None:
    """A family calls: the office finds their case by the child's whole ID number or its
    last four, with the list's other filters; an outsider finds nothing; the number is
    in no URL and no audit event; a bad number is named as such."""
    from huimin.cases import actions as case_actions
    from huimin.programs.models import Program

    fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))
    other = make_family(personas.cadre_a, VILLAGE_A, date(2024, 3, 3), surname="黄")
    program = Program.objects.get(code="childcare-subsidy")
    case, _ = (case_actions.submit_application(
        personas.cadre_a, program=program, subject=f.child, claim_year=2026,
        applicant=f.mother, bank_account=f.account) for f in (fam, other))
    number = fam.child.id_number
    href = f'href="/cases/{case.pk}/"'
    for value in (number, number[-4:].lower()):
        resp = login(personas.county).post(reverse("cases:list"), {"id_number": value})
        html = resp.content.decode()
        assert resp.status_code == 200, value
        assert set(re.findall(r'href="/cases/(\d+)/"', html)) == {str(case.pk)}, value
        assert number not in html and "按身份证号码查询：1 件" in html
    # with the list's filters: another state finds nothing
    html = login(personas.cadre_a).post(reverse("cases:list"), {
        "id_number": number[-4:], "state": "approved"}).content.decode()
    assert href not in html and "按身份证号码查询：0 件" in html
    for outsider in (personas.cadre_b, personas.county_b):
        for value in (number, number[-4:]):
            html = login(outsider).post(reverse("cases:list"),
                                        {"id_number": value}).content.decode()
            assert href not in html, (outsider.username, value)
    bad = login(personas.cadre_a).post(reverse("cases:list"), {"id_number": "12x"})
    assert bad.status_code == 400 and "身份证号码：请输入完整的 18 位号码，或号码的后 4 位" in (
        bad.content.decode())
    logged = json.dumps(list(AuditEvent.objects.filter(action="case.search")
                             .values_list("data", flat=True)), ensure_ascii=False)
    assert AuditEvent.objects.filter(action="case.search").count() == 8
    assert number not in logged and f'"{number[-4:]}"' not in logged
    anon = Client().post(reverse("cases:list"), {"id_number": number})
    assert anon.status_code == 302 and "/login/" in anon["Location"]


def test_a_name_and_the_last_four_together(personas: Personas) -> None:
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))
    client = login(personas.county)
    last4 = fam.father.id_number[-4:]
    html = client.post(reverse("registry:persons"),
                       {"id_number": last4, "q": "建国"}).content.decode()
    assert f"/registry/persons/{fam.father.pk}/" in html
    html = client.post(reverse("registry:persons"),
                       {"id_number": last4, "q": "秀英"}).content.decode()
    assert f"/registry/persons/{fam.father.pk}/" not in html


def test_identity_correction_moves_the_last_four(personas: Personas) -> None:
    from huimin.lib.idnumber import make

    fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))
    old = fam.child.id_number
    new = make("445224", date(2024, 2, 2), 998)
    assert new[-4:] != old[-4:]
    actions.correct_identity(personas.township, fam.child, id_number=new, via="test")
    fresh = Person.objects.get(pk=fam.child.pk)
    assert fresh.id_last4_hash == id_last4_hash(new, VILLAGE_A)
    client = login(personas.cadre_a)
    assert f"/registry/persons/{fam.child.pk}/" in client.post(
        reverse("registry:persons"), {"id_number": new[-4:]}).content.decode()
    assert f"/registry/persons/{fam.child.pk}/" not in client.post(
        reverse("registry:persons"), {"id_number": old[-4:]}).content.decode()


def test_the_last_four_hash_is_scoped_by_county() -> None:
    number = "44522420240202123X"
    assert id_last4_hash(number, VILLAGE_A) == id_last4_hash(number, VILLAGE_B)
    assert id_last4_hash(number, VILLAGE_A) != id_last4_hash(number, VILLAGE_C)


def test_key_rotation_rebuilds_the_last_four(personas: Personas, settings: Any,
                                             tmp_path: Any) -> None:
    from huimin.accounts.keys import rotate_data_key
    from huimin.registry import crypto

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DATA_KEY = settings.DATA_KEY  # restored after the test
    crypto.box.cache_clear()
    try:
        fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))
        before, number = Person.objects.get(pk=fam.child.pk).id_last4_hash, fam.child.id_number
        summary = rotate_data_key(secrets.token_urlsafe(40), actor=personas.admin)
        after = Person.objects.get(pk=fam.child.pk)
        assert summary["person_last4"] == Person.objects.count()
        assert after.id_last4_hash != before
        assert after.id_number == number
        assert after.id_last4_hash == id_last4_hash(number, VILLAGE_A)
    finally:
        crypto.box.cache_clear()


def test_person_export_is_masked_and_audited(personas: Personas) -> None:
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))
    make_family(personas.cadre_c, VILLAGE_C, date(2024, 2, 2), surname="曾")
    resp = login(personas.cadre_a).post(reverse("registry:persons_export"), {"q": "小宝"})
    assert resp.status_code == 200
    rows = _rows(resp.content)
    assert rows[0][:4] == ("姓名", "身份证号码", "性别", "年龄")
    assert rows[1:] == [(fam.child.name, fam.child.id_masked, "女", rows[1][3],
                         fam.child.area.full_name(), "农业",
                         fam.child.household.number, "在册")]
    assert fam.child.id_number not in resp.content.decode("latin-1")
    assert "岁" in rows[1][3] or "个月" in rows[1][3]
    ev = AuditEvent.objects.get(action="list.export")
    assert ev.data == {"list": "persons", "filters": {"q": "小宝"}, "rows": 1, "masked": True}
    assert ev.actor == personas.cadre_a
    assert not AuditEvent.objects.filter(action="person.export_unmasked").exists()


def test_unmasked_export_only_for_the_county_approver_and_logged_per_person(
        personas: Personas) -> None:
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))
    for user in (personas.cadre_a, personas.township, personas.finance, personas.auditor):
        resp = login(user).post(reverse("registry:persons_export"), {"unmasked": "1"})
        assert resp.status_code == 403, user.username
    assert not AuditEvent.objects.filter(action="list.export").exists()
    resp = login(personas.county).post(reverse("registry:persons_export"),
                                       {"unmasked": "1", "q": "小宝"})
    assert resp.status_code == 200
    assert _rows(resp.content)[1][1] == fam.child.id_number
    assert AuditEvent.objects.get(action="list.export").data["masked"] is False
    reads = AuditEvent.objects.filter(action="person.export_unmasked")
    assert list(reads.values_list("person_id", flat=True)) == [fam.child.pk]
    # the other county's approver: nothing of this county
    other = login(personas.county_b).post(reverse("registry:persons_export"), {"unmasked": "1"})
    assert other.status_code == 200 and _rows(other.content)[1:] == []


def test_case_export_unmasked_for_finance(personas: Personas) -> None:
    from huimin.cases import actions as case_actions
    from huimin.programs.models import Program

    fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))
    case = case_actions.submit_application(
        personas.cadre_a, program=Program.objects.get(code="childcare-subsidy"),
        subject=fam.child, claim_year=2026, applicant=fam.mother, bank_account=fam.account)
    masked = login(personas.cadre_a).post(reverse("cases:export"), {})
    assert _rows(masked.content)[1][:4] == (case.number, case.program.name, fam.child.name,
                                            fam.child.id_masked)
    assert login(personas.cadre_a).post(reverse("cases:export"),
                                        {"unmasked": "1"}).status_code == 403
    full = login(personas.finance).post(reverse("cases:export"), {"unmasked": "1"})
    assert _rows(full.content)[1][3] == fam.child.id_number
    assert login(personas.cadre_c).post(reverse("cases:export"), {}).status_code == 200
    assert _rows(login(personas.cadre_c).post(reverse("cases:export"), {}).content)[1:] == []
    bad = login(personas.finance).post(reverse("cases:export"), {"from": "2026-13-01"})
    assert bad.status_code == 400 and "不是有效日期" in bad.content.decode()


def test_audit_export_is_the_auditors_county(personas: Personas) -> None:
    make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))
    make_family(personas.cadre_c, VILLAGE_C, date(2024, 2, 2), surname="曾")
    resp = login(personas.auditor).post(reverse("audit:export"), {"user": "cadre_a"})
    rows = _rows(resp.content)
    assert resp.status_code == 200 and len(rows) > 1
    assert {r[6][:6] for r in rows[1:]} == {"445224"}
    assert login(personas.county).post(reverse("audit:export"), {}).status_code == 403
    ev = AuditEvent.objects.get(action="list.export")
    assert ev.data["list"] == "audit" and ev.data["filters"] == {"user": "cadre_a"}
