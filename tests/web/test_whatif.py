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
from huimin.registry.models import Person
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
    assert [(b[0], b[2], b[4]) for b in body] == [
        (r.area_code, r.base_count, r.proposal_count) for r in rows]


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
