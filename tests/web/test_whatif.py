"""What-if in the web UI: a proposed rate over the user's area, as a table and an Excel file."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

import huimin.rules
from huimin.programs.registry_view import registry_rows
from huimin.programs.subjects import subject_facts
from huimin.registry.models import Area, Person
from huimin.registry.synth_db import populate
from tests.conftest import PASSWORD, Personas

pytestmark = pytest.mark.django_db
SHIPPED = Path(huimin.rules.__file__).parent / "programs" / "childcare-subsidy.yaml"


def proposal(rate: int = 400) -> io.BytesIO:
    text = SHIPPED.read_text(encoding="utf-8")
    assert "monthly_rate_yuan: 300" in text
    f = io.BytesIO(text.replace("monthly_rate_yuan: 300", f"monthly_rate_yuan: {rate}")
                   .replace('version: "2025.1"', 'version: "2026.proposal"').encode())
    f.name = "育儿补贴-提标方案.yaml"
    return f


@pytest.fixture
def county(personas: Personas) -> None:
    populate("445224", 1500, seed=11, as_of=date(2026, 6, 1))


def test_registry_view_matches_the_single_person_facts(county: None) -> None:
    rows = {r["person_id"]: r for r in registry_rows(Person.objects.all())}
    persons = list(Person.objects.select_related("area").order_by("id"))
    assert len(rows) == len(persons)
    for p in persons[::7]:
        single = subject_facts(p)
        assert {k: rows[str(p.pk)].get(k) for k in single} == single, p.pk


def test_raising_the_rate_scales_cost_not_counts(county: None) -> None:
    c = Client()
    c.login(username="county", password=PASSWORD)
    resp = c.post(reverse("programs:whatif"), {"program": "childcare-subsidy",
                                               "years": "2026", "proposal": proposal()})
    assert resp.status_code == 200, resp.content.decode()[-800:]
    rows = resp.context["rows"]
    assert rows and sum(r.base_count for r in rows) > 0
    for r in rows:
        assert r.proposal_count == r.base_count
        assert r.proposal_cost_fen * 3 == r.base_cost_fen * 4  # 400 / 300 yuan a month
    total = resp.context["totals"][2026]
    assert total.base_count == sum(r.base_count for r in rows)

    xlsx = c.post(reverse("programs:whatif"), {"program": "childcare-subsidy", "years": "2026",
                                               "proposal": proposal(), "export": "1"})
    assert xlsx.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert ws is not None
    body = [row for row in ws.iter_rows(min_row=3, values_only=True)]
    assert [(b[0], b[3], b[5]) for b in body] == [
        (r.area_code, r.base_count, r.proposal_count) for r in rows]
    # each township by its name beside its code
    names = dict(Area.objects.filter(level="township").values_list("code", "name"))
    assert all(b[1] == names[b[0] + "000"] for b in body) and body
    from huimin.audit.models import AuditEvent

    runs = AuditEvent.objects.filter(action="programs.whatif", actor__username="county")
    assert [e.data["export"] for e in runs.order_by("id")] == [False, True]
    assert runs.first() is not None and runs.first().data["proposal"] == "育儿补贴-提标方案.yaml"


def test_bad_input_is_named(county: None) -> None:
    c = Client()
    c.login(username="county", password=PASSWORD)
    broken = io.BytesIO(b"id: childcare-subsidy\ncriteria: [\n")
    broken.name = "broken.yaml"
    resp = c.post(reverse("programs:whatif"), {"program": "childcare-subsidy", "years": "2026",
                                               "proposal": broken})
    assert resp.status_code == 400 and "方案文件有误：broken.yaml" in resp.content.decode()
    resp = c.post(reverse("programs:whatif"), {"program": "childcare-subsidy", "years": "20x6",
                                               "proposal": proposal()})
    assert resp.status_code == 400 and "测算年度" in resp.content.decode()
    txt = io.BytesIO(b"x")
    txt.name = "plan.txt"
    resp = c.post(reverse("programs:whatif"), {"program": "childcare-subsidy", "years": "2026",
                                               "proposal": txt})
    assert resp.status_code == 400 and "只接受 .yaml" in resp.content.decode()
    from huimin.audit.models import AuditEvent

    assert not AuditEvent.objects.filter(action="programs.whatif").exists()


def test_other_area_is_not_counted(county: None, personas: Personas) -> None:
    """A township reviewer may not run it; a county user sees only their own county's people."""
    c = Client()
    c.login(username="township", password=PASSWORD)
    assert c.post(reverse("programs:whatif"), {"program": "childcare-subsidy", "years": "2026",
                                               "proposal": proposal()}).status_code == 403
    from huimin.accounts.models import User
    from huimin.registry.areas import load_county
    from huimin.registry.models import Area

    load_county("440523")
    outsider = User.objects.create_user(username="county_other", password=PASSWORD,
                                        role="county_approver")
    outsider.areas.set([Area.objects.get(code="440523000000")])
    c.login(username="county_other", password=PASSWORD)
    resp = c.post(reverse("programs:whatif"), {"program": "childcare-subsidy", "years": "2026",
                                               "proposal": proposal()})
    assert resp.status_code == 400 and "没有登记人员" in resp.content.decode()


def test_the_page_names_programs_and_townships(county: None) -> None:
    c = Client()
    c.login(username="county", password=PASSWORD)
    page = c.get(reverse("programs:whatif")).content.decode()
    assert '<option value="childcare-subsidy" >育儿补贴</option>' in page
    assert ">农村部分计划生育家庭奖励扶助</option>" in page
    resp = c.post(reverse("programs:whatif"), {"program": "childcare-subsidy",
                                               "years": "2026", "proposal": proposal()})
    html = resp.content.decode()
    assert "育儿补贴测算" in html and "惠城镇" in html


def test_the_current_document_downloads_as_the_start_of_a_proposal(county: None) -> None:
    c = Client()
    c.login(username="county", password=PASSWORD)
    resp = c.get(reverse("programs:whatif_document") + "?program=childcare-subsidy")
    assert resp.status_code == 200
    assert resp.content == SHIPPED.read_bytes()
    assert "attachment" in resp["Content-Disposition"]
    assert c.get(reverse("programs:whatif_document") + "?program=nope").status_code == 404
    # uploaded back unchanged, it costs what the current rules cost
    f = io.BytesIO(resp.content)
    f.name = "same.yaml"
    same = c.post(reverse("programs:whatif"), {"program": "childcare-subsidy",
                                               "years": "2026", "proposal": f})
    assert same.status_code == 200
    assert all(r.delta_cost_fen == 0 for r in same.context["rows"])
    township = Client()
    township.login(username="township", password=PASSWORD)
    assert township.get(reverse("programs:whatif_document")
                        + "?program=childcare-subsidy").status_code == 403


def test_a_proposal_for_another_program_is_refused(county: None) -> None:
    c = Client()
    c.login(username="county", password=PASSWORD)
    resp = c.post(reverse("programs:whatif"), {"program": "rural-reward", "years": "2026",
                                               "proposal": proposal()})
    assert resp.status_code == 400
    assert "文件中的项目是「childcare-subsidy」，不是所选的项目「rural-reward」" in (
        resp.content.decode())
    from huimin.audit.models import AuditEvent

    assert not AuditEvent.objects.filter(action="programs.whatif").exists()


def test_document_errors_are_in_chinese_with_their_line(county: None) -> None:
    c = Client()
    c.login(username="county", password=PASSWORD)
    text = SHIPPED.read_text(encoding="utf-8").replace("subject: child\n",
                                                      "subject: child\ncolour: red\n")
    f = io.BytesIO(text.encode())
    f.name = "bad.yaml"
    resp = c.post(reverse("programs:whatif"), {"program": "childcare-subsidy", "years": "2026",
                                               "proposal": f})
    html = resp.content.decode()
    assert resp.status_code == 400
    assert "方案文件有误：bad.yaml 第 10 行：" in html and "未知的键「colour」" in html


def test_potential_beneficiaries_count_those_who_never_applied(county: None) -> None:
    """奖励扶助 needs the status a case records: by default only those with a case count;
    the potential population takes every registered couple of age as a beneficiary."""
    c = Client()
    c.login(username="county", password=PASSWORD)
    rural = Path(huimin.rules.__file__).parent / "programs" / "rural-reward-2012.yaml"
    text = rural.read_text(encoding="utf-8")

    def run(population: str) -> int:
        f = io.BytesIO(text.encode())
        f.name = "same.yaml"
        resp = c.post(reverse("programs:whatif"), {"program": "rural-reward", "years": "2026",
                                                   "proposal": f, "population": population})
        assert resp.status_code == 200, resp.content.decode()[-600:]
        return int(resp.context["totals"][2026].base_count)

    recorded, potential = run("recorded"), run("potential")
    assert recorded == 0  # nobody has applied in this county yet
    assert potential > 0
