"""Cases through the web UI: intake, documents, decisions, letters, household file, audit."""

from __future__ import annotations

import io
import subprocess
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook

from huimin.audit.models import AuditEvent
from huimin.cases import actions, bulk
from huimin.cases.models import Case, CaseDocument
from huimin.programs.models import DocumentType, Program
from tests.conftest import PASSWORD, VILLAGE_A, Personas, artifacts_dir
from tests.web.cases_helpers import apply_rural, make_rural_couple

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%test\n"


@pytest.fixture(autouse=True)
def frozen_time():  # type: ignore[no-untyped-def]
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"


def login(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def pdf_text(data: bytes, tmp_path: Path, name: str) -> tuple[str, str]:
    path = tmp_path / name
    path.write_bytes(data)
    (artifacts_dir() / name).write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          check=True, text=True).stdout
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True,
                           text=True).stdout
    return text, fonts


def test_intake_form_records_rural_reward(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    cadre = login(personas.cadre_a)
    resp = cadre.post(reverse("cases:new"), {
        "program": "rural-reward", "claim_year": "2026",
        "subject_id_number": couple.wife.id_number, "policy_status_confirmed": "1"})
    assert resp.status_code == 302
    case = Case.objects.get(subject=couple.wife)
    assert case.facts == {"policy_status_confirmed": True} and case.amount_fen == 96000
    page = cadre.get(resp["Location"]).content.decode()
    assert "待村级审核" in page and "审核通过后公示 7 天" in page and "960.00" in page
    # the explanation keeps the rules' empty facts; the page reads as the letter does
    assert "死亡日期：空" in str(case.explanation) and "死亡日期：空" not in page
    assert "出生日期：" in page


def test_intake_shows_failing_criteria_then_records_rejection(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    cadre = login(personas.cadre_a)
    form = {"program": "rural-reward", "claim_year": "2026",
            "subject_id_number": couple.husband.id_number}  # status not confirmed
    resp = cadre.post(reverse("cases:new"), form)
    page = resp.content.decode()
    assert resp.status_code == 200 and "不符合" in page and "原政策内家庭身份已确认" in page
    assert not Case.objects.exists()  # nothing recorded yet
    resp = cadre.post(reverse("cases:new"), {**form, "record_rejected": "1"})
    assert resp.status_code == 302
    case = Case.objects.get()
    assert case.state == "rejected"
    letter = cadre.get(reverse("cases:letter", args=[case.pk]) + "?format=html")
    assert "不予核准" in letter.content.decode()


def test_duplicate_intake_links_the_existing_case(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    first = apply_rural(personas.cadre_a, couple.husband)
    resp = login(personas.cadre_a).post(reverse("cases:new"), {
        "program": "rural-reward", "claim_year": "2026",
        "subject_id_number": couple.husband.id_number, "policy_status_confirmed": "1"})
    assert resp.status_code == 409
    page = resp.content.decode()
    assert first.number in page and reverse("cases:detail", args=[first.pk]) in page
    assert Case.objects.count() == 1


def test_upload_checks_type_and_size(personas: Personas, settings) -> None:  # type: ignore[no-untyped-def]
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    kind = DocumentType.objects.get(program__code="rural-reward", code="hukou_register")
    cadre = login(personas.cadre_a)
    url = reverse("cases:upload", args=[case.pk])

    def upload(data: bytes, name: str) -> str:
        f = io.BytesIO(data)
        f.name = name
        resp = cadre.post(url, {"doc_type": kind.pk, "file": f}, follow=True)
        return resp.content.decode()

    assert "只接受 PDF、JPG、PNG" in upload(b"MZ\x90\x00", "scan.exe")
    assert "与扩展名 .pdf 不符" in upload(b"<html>", "scan.pdf")
    settings.CASE_UPLOAD_MAX_BYTES = 1024
    assert "不能超过" in upload(PDF + b"0" * 2048, "big.pdf")
    assert not CaseDocument.objects.exists()
    settings.CASE_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
    assert "已上传：户口簿" in upload(PNG, "户口簿.png")
    doc = CaseDocument.objects.get()
    stored = Path(doc.file.path).read_bytes()  # sealed at rest, readable by the owner only
    assert doc.sealed and PNG[8:40] not in stored and doc.read() == PNG
    assert Path(doc.file.path).stat().st_mode & 0o777 == 0o600
    assert Path(doc.file.path).parent.stat().st_mode & 0o777 == 0o700
    assert Path(doc.file.path).is_relative_to(Path(settings.MEDIA_ROOT) / "cases" / str(case.pk))
    got = cadre.get(reverse("cases:document", args=[case.pk, doc.pk]))
    assert got.status_code == 200 and b"".join(got.streaming_content) == PNG  # type: ignore[attr-defined]
    outsider = login(personas.cadre_b).get(reverse("cases:document", args=[case.pk, doc.pk]))
    assert outsider.status_code == 404
    assert AuditEvent.objects.filter(action="case.document", case_id=case.pk).count() == 1


def test_review_through_the_web_with_posting_wait(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    cadre = login(personas.cadre_a)
    resp = cadre.post(reverse("cases:act", args=[case.pk]),
                      {"transition": "approve", "version": case.version})
    assert resp.status_code == 302
    resp = cadre.post(reverse("notices:new"), {
        "program": "rural-reward", "start_on": "2026-06-15",
        "objection_info": "请到四香村委会办公室或致电 0663-6612345"})
    assert resp.status_code == 302
    case.refresh_from_db()
    township = login(personas.township)
    page = township.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "公示期至 2026-06-21 结束" in page and 'data-testid="review"' not in page
    resp = township.post(reverse("cases:act", args=[case.pk]),
                         {"transition": "approve", "version": case.version}, follow=True)
    assert "公示期至 2026-06-21 结束" in resp.content.decode()
    case.refresh_from_db()
    assert case.state == "village_approved"
    with time_machine.travel(datetime(2026, 6, 22, 9, 0, tzinfo=SH), tick=False):
        assert case.number in township.get(reverse("home")).content.decode()
        township.post(reverse("cases:act", args=[case.pk]),
                      {"transition": "reject", "version": case.version,
                       "reason_codes": ["facts_untrue"], "comment": "子女数与户籍登记不符"})
    case.refresh_from_db()
    assert case.state == "rejected"


def test_wrong_role_gets_a_clear_403(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    resp = login(personas.county).post(reverse("cases:act", args=[case.pk]),
                                       {"transition": "approve", "version": case.version})
    assert resp.status_code == 403 and "应由村级专干办理" in resp.content.decode()
    case.refresh_from_db()
    assert case.state == "submitted"


def test_notice_html_and_pdf_are_masked(personas: Personas, tmp_path: Path) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    for person in (couple.husband, couple.wife):
        actions.decide(personas.cadre_a, apply_rural(personas.cadre_a, person), "approve")
    cadre = login(personas.cadre_a)
    cadre.post(reverse("notices:new"), {"program": "rural-reward", "start_on": "2026-06-15",
                                        "objection_info": "四香村委会，电话 0663-6612345"})
    notice = personas.cadre_a.areas.get().notice_set.get()
    html = cadre.get(reverse("notices:detail", args=[notice.pk])).content.decode()
    full_id = couple.husband.id_number
    masked = full_id[0] + "*" * 16 + full_id[-1]
    assert "李**" in html and "王**" in html and "李大山" not in html
    assert masked in html and full_id not in html
    assert "2026-06-15 至 2026-06-21" in html and "0663-6612345" in html
    assert "李春一" not in html  # never the children
    resp = cadre.get(reverse("notices:pdf", args=[notice.pk]))
    assert resp["Content-Type"] == "application/pdf"
    text, fonts = pdf_text(resp.content, tmp_path, "notice.pdf")
    assert "王**" in text and "1,920.00" in text and "2026年6月21日" in text
    assert "李大山" not in text and full_id not in text
    assert "CJK" in fonts and " yes " in fonts.split("\n")[2]  # embedded


def test_notice_masking_is_configurable(personas: Personas, settings) -> None:  # type: ignore[no-untyped-def]
    settings.NOTICE_MASKING = {"name_keep": 1, "show_id": False}
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    actions.decide(personas.cadre_a, apply_rural(personas.cadre_a, couple.husband), "approve")
    notice = actions.publish_notice(personas.cadre_a,
                                    program=Program.objects.get(code="rural-reward"),
                                    start_on=date(2026, 6, 16), objection_info="村委会")
    resp = login(personas.cadre_a).get(reverse("notices:detail", args=[notice.pk]))
    assert resp.status_code == 200
    html = resp.content.decode()
    case = couple.husband.cases.get()
    # the entry is listed, by its masked name, with no ID column and no ID number
    [row] = [r for r in html.split("<tr>") if f'href="/cases/{case.pk}/"' in r]
    cells = row.split("<td>")
    assert cells[1].startswith("1<") and cells[2].startswith("李**<"), row
    assert "共 1 人" in html
    assert couple.husband.id_number[:6] not in row and couple.husband.id_number[-4:] not in row
    assert "身份证号码" not in html


def test_decision_letter_pdf_states_reasons_from_the_rule_trace(personas: Personas,
                                                                tmp_path: Path) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A, children=2)  # a son and a daughter
    case = apply_rural(personas.cadre_a, couple.husband, record_rejected=True)
    resp = login(personas.cadre_a).get(reverse("cases:letter", args=[case.pk]))
    text, fonts = pdf_text(resp.content, tmp_path, "letter.pdf")
    flat = "".join(text.split())
    assert "不予核准" in flat and "只有一个子女或两个女孩" in flat and "复核" in flat
    assert "CJK" in fonts
    assert AuditEvent.objects.filter(action="case.letter", case_id=case.pk).exists()


def test_household_file_shows_the_whole_timeline(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    actions.decide(personas.cadre_a, case, "approve", comment="评议通过")
    actions.publish_notice(personas.cadre_a, program=Program.objects.get(code="rural-reward"),
                           start_on=date(2026, 6, 15), objection_info="村委会")
    case.refresh_from_db()
    actions.record_objection(personas.cadre_a, case, content="对子女情况有异议")
    auditor = login(personas.auditor)
    url = reverse("registry:household", args=[couple.household.pk])
    with CaptureQueriesContext(connection) as ctx:
        resp = auditor.get(url)
    page = resp.content.decode()
    order = ["登记人员", "受理申请", "村级审核通过", "列入公示", "登记公示异议"]
    positions = [page.index(label) for label in order]
    assert positions == sorted(positions)
    assert "评议通过" in page and "对子女情况有异议" in page and "cadre_a" in page
    assert len(ctx.captured_queries) < 20
    views = AuditEvent.objects.filter(action="person.view", actor=personas.auditor)
    assert views.count() == 3  # every member shown is logged
    assert login(personas.cadre_b).get(url).status_code == 404


def test_case_list_query_count_does_not_grow(personas: Personas) -> None:
    cadre = login(personas.cadre_a)
    apply_rural(personas.cadre_a, make_rural_couple(personas.cadre_a, VILLAGE_A).husband)
    cadre.get(reverse("cases:list"))  # the filters' area choices are cached from the first
    with CaptureQueriesContext(connection) as one:
        cadre.get(reverse("cases:list"))
        cadre.get(reverse("home"))
    for surname in "周吴郑":
        apply_rural(personas.cadre_a, make_rural_couple(personas.cadre_a, VILLAGE_A,
                                                        surname=surname).husband)
    with CaptureQueriesContext(connection) as many:
        cadre.get(reverse("cases:list"))
        cadre.get(reverse("home"))
    assert len(many.captured_queries) == len(one.captured_queries)


def test_auditor_searches_by_person_user_case_and_date(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    with time_machine.travel(datetime(2026, 6, 20, 10, 0, tzinfo=SH), tick=False):
        actions.decide(personas.cadre_a, case, "approve")
    auditor = login(personas.auditor)
    url = reverse("audit:search")

    def rows(**params: str) -> str:
        resp = auditor.post(url, params)  # the form posts: an identity number stays out of URLs
        assert resp.status_code == 200
        return resp.content.decode().split('data-testid="events"')[1]

    by_case = rows(case=case.number)
    assert "受理申请" in by_case and "村级审核通过" in by_case
    by_person = rows(person=couple.husband.id_number)
    assert "受理申请" in by_person and "登记人员" in by_person
    assert "村级审核通过" in rows(user="cadre_a", **{"from": "2026-06-20", "to": "2026-06-20"})
    assert "受理申请" not in rows(case=case.number, **{"from": "2026-06-20"})
    assert auditor.get(url, {"from": "yesterday"}).status_code == 400
    assert login(personas.cadre_a).get(url).status_code == 403
    assert AuditEvent.objects.filter(action="audit.search", actor=personas.auditor).exists()


def test_bulk_intake_is_all_or_nothing(personas: Personas) -> None:
    a = make_rural_couple(personas.cadre_a, VILLAGE_A)
    b = make_rural_couple(personas.cadre_a, VILLAGE_A, surname="周")

    def sheet(rows: list[list[object]]) -> io.BytesIO:
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.append(bulk.HEADER)
        for r in rows:
            ws.append(r)
        out = io.BytesIO()
        wb.save(out)
        out.seek(0)
        out.name = "apply.xlsx"
        return out

    cadre = login(personas.cadre_a)
    bad = sheet([["rural-reward", a.husband.id_number, "", 2026, "是", ""],
                 ["rural-reward", "110105194912310021", "", 2026, "是", ""],
                 ["rural-reward", a.husband.id_number, "", 2026, "是", ""]])
    resp = cadre.post(reverse("cases:bulk"), {"file": bad})
    page = resp.content.decode()
    assert resp.status_code == 400 and "未找到此人" in page and "与第 2 行重复" in page
    assert not Case.objects.exists()
    good = sheet([["rural-reward", a.husband.id_number, "", 2026, "是", ""],
                  ["rural-reward", b.wife.id_number, "", 2026, "否", ""]])
    resp = cadre.post(reverse("cases:bulk"), {"file": good})
    assert resp.status_code == 200
    assert Case.objects.filter(eligible=True).get().subject == a.husband
    assert Case.objects.filter(eligible=False).get().subject == b.wife
    template = cadre.get(reverse("cases:bulk_template"))
    assert template.status_code == 200 and template.content[:2] == b"PK"


def test_bulk_intake_names_a_bad_disability_grade(personas: Personas) -> None:
    """A grade that is not 1–4 in an otherwise good row is named (it was a server error: the
    row went on to read the grade as a number)."""
    a = make_rural_couple(personas.cadre_a, VILLAGE_A)
    data = ",".join(bulk.HEADER) + f"\nrural-reward,{a.husband.id_number},,2026,是,1e3\n"
    upload = io.BytesIO(data.encode())
    upload.name = "apply.csv"
    resp = login(personas.cadre_a).post(reverse("cases:bulk"), {"file": upload})
    page = resp.content.decode()
    assert resp.status_code == 400 and "子女残疾等级" in page and "应为 1–4" in page
    assert not Case.objects.exists()
