"""What a family and the paper file read: decision letters, notices and the 一户一档 file,
checked as rendered text."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.cases import actions
from huimin.cases.letters import plain
from huimin.lib.money import format_yuan
from huimin.programs.models import Program
from tests.conftest import PASSWORD, VILLAGE_A, Family, Personas, artifacts_dir
from tests.web.cases_helpers import apply_rural, make_rural_couple
from tests.web.feeds_helpers import childcare_case

DOUBLED = re.compile(r"元\s*元")
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
                             tick=False):
        yield


def login(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def pdf_text(data: bytes, tmp_path: Path, name: str) -> str:
    assert data.startswith(b"%PDF")
    path = tmp_path / name
    path.write_bytes(data)
    (artifacts_dir() / name).write_bytes(data)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         check=True, text=True).stdout
    return "".join(out.split())  # CJK text wraps anywhere: compare without whitespace


def test_plain_words_drop_empty_facts_only() -> None:
    assert plain("符合：在世（出生日期：2023-12-10，死亡日期：空）") == (
        "符合：在世（出生日期：2023-12-10）")
    assert plain("符合：申领年度开始时在世（死亡日期：空）") == "符合：申领年度开始时在世"
    assert plain("符合：申领年度在制度实施之后") == "符合：申领年度在制度实施之后"
    assert plain("不符合：子女数（子女数：2）") == "不符合：子女数（子女数：2）"


def test_approval_letter_reads_plainly_and_states_the_remedies(
        personas: Personas, family_a: Family, tmp_path: Path) -> None:
    case = childcare_case(personas, family_a)
    resp = login(personas.cadre_a).get(reverse("cases:letter", args=[case.pk]))
    assert resp.status_code == 200
    text = pdf_text(resp.content, tmp_path, "letter-approved.pdf")
    assert "予以核准" in text and "3,600.00元（12个月×300元=3600元）" in text
    assert not DOUBLED.search(text), "元 printed twice"
    assert "：空" not in text and "死亡日期" not in text  # no empty facts
    assert "childcare-subsidy" not in text and "@" not in text  # no internal codes
    assert "《育儿补贴制度实施方案》" in text  # the policy the decision rests on
    # the issuing office, the seal area, a contact, and both time limits with their bodies
    assert text.count("惠来县卫生健康局") == 2 and "（印章）" in text and "12345" in text
    assert "60日内向惠来县人民政府申请行政复议" in text
    assert "6个月内向惠来县人民法院提起行政诉讼" in text


def test_village_rejection_names_the_township_for_review(personas: Personas,
                                                          tmp_path: Path) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A, children=2)
    case = apply_rural(personas.cadre_a, couple.husband, record_rejected=True)
    text = pdf_text(login(personas.cadre_a).get(reverse("cases:letter", args=[case.pk])).content,
                    tmp_path, "letter-rejected.pdf")
    assert "不予核准" in text and "只有一个子女或两个女孩" in text
    assert "向惠城镇人民政府提出复核" in text and "60日内" in text and "6个月内" in text
    assert text.count("四香村委会") >= 2  # issued and signed by the village that decided


def test_notice_and_timeline_print_yuan_once(personas: Personas, tmp_path: Path) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    actions.decide(personas.cadre_a, case, "approve")
    notice = actions.publish_notice(personas.cadre_a,
                                    program=Program.objects.get(code="rural-reward"),
                                    start_on=date(2026, 6, 16), objection_info="村委会")
    cadre = login(personas.cadre_a)
    text = pdf_text(cadre.get(reverse("notices:pdf", args=[notice.pk])).content, tmp_path,
                    "notice-yuan.pdf")
    case.refresh_from_db()
    amount = format_yuan(case.amount_fen)  # "960.00 元"
    assert case.amount_fen > 0 and f"合计{amount.replace(' ', '')}。" in text
    assert not DOUBLED.search(text)
    assert "（印章）" in text
    page = cadre.get(reverse("notices:detail", args=[notice.pk])).content.decode()
    assert f"合计 {amount}" in page and not DOUBLED.search(page)
    household = cadre.get(reverse("registry:household", args=[couple.household.pk]))
    timeline = household.content.decode()
    assert f"金额 {amount}" in timeline and not DOUBLED.search(timeline)


def test_household_file_pdf_is_masked_logged_and_scoped(personas: Personas, family_a: Family,
                                                        tmp_path: Path) -> None:
    case = childcare_case(personas, family_a)
    url = reverse("registry:household_pdf", args=[family_a.mother.household_id])
    resp = login(personas.township).get(url)
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"
    text = pdf_text(resp.content, tmp_path, "household-file.pdf")
    assert "一户一档" in text and case.number in text and "县级审批" in text
    assert family_a.child.name in text and "4****************" in text
    assert family_a.child.id_number not in text and family_a.child.id_number[-4:] not in text
    assert not DOUBLED.search(text) and "（印章）" in text
    members = family_a.mother.household.members.count()
    assert AuditEvent.objects.filter(action="person.view", actor=personas.township,
                                     data__via="household-pdf").count() == members
    # another village's cadre: not found, and nothing logged for them
    assert login(personas.cadre_b).get(url).status_code == 404
    assert not AuditEvent.objects.filter(action="person.view", actor=personas.cadre_b).exists()
    # not logged in: to the login page
    assert Client().get(url).status_code == 302
