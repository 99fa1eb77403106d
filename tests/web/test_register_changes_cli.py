"""`huimin registry changes list|submit|confirm|reject`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from huimin.cli import app
from huimin.registry.models import ChangeRequest, Person
from tests.conftest import VILLAGE_A, Personas
from tests.web.cases_helpers import make_rural_couple
from tests.web.changes_helpers import (
    PNG,
    _media_root,  # noqa: F401  (autouse)
)

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["registry", "changes", *args])
    return result.exit_code, result.output


def test_submit_list_confirm_and_reject(personas: Personas, tmp_path: Path) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    scan = tmp_path / "户口簿.png"
    scan.write_bytes(PNG)
    code, out = run("submit", "--user", "cadre_a", "--kind", "identity", "--person",
                    str(couple.wife.pk), "--reason", "户口簿为王桂芳", "--set", "name=王桂芳",
                    "--evidence", str(scan))
    assert code == 0, out
    req = ChangeRequest.objects.get()
    assert req.number in out and req.read_evidence() == PNG
    code, out = run("list", "--user", "township", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == [req.pk]
    code, out = run("confirm", str(req.pk), "--user", "cadre_a")  # the submitter
    assert code == 1
    code, out = run("confirm", str(req.pk), "--user", "township")
    assert code == 0 and "已确认并生效" in out
    assert Person.objects.get(pk=couple.wife.pk).name == "王桂芳"
    code, out = run("submit", "--user", "cadre_a", "--kind", "death", "--person",
                    str(couple.husband.pk), "--reason", "村委会报告",
                    "--set", "death_date=2026-01-05", "--set", "source=村委会")
    assert code == 0
    death = ChangeRequest.objects.get(kind="death")
    code, out = run("reject", str(death.pk), "--user", "township", "--reason", "本人健在")
    assert code == 0 and ChangeRequest.objects.get(pk=death.pk).status == "rejected"
    code, out = run("list", "--user", "township", "--status", "all")
    assert code == 0 and death.number in out and req.number in out


def test_refusals_and_usage_errors(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    code, out = run("submit", "--user", "cadre_a", "--kind", "death", "--person",
                    str(couple.husband.pk), "--reason", "x", "--set", "death_date=2999-01-01",
                    "--set", "source=村委会")
    assert code == 1 and "死亡日期：晚于今天" in out
    code, out = run("submit", "--user", "finance", "--kind", "death", "--person",
                    str(couple.husband.pk), "--reason", "x")
    assert code == 1 and "角色" in out
    code, out = run("submit", "--user", "cadre_b", "--kind", "death", "--person",
                    str(couple.husband.pk), "--reason", "x")
    assert code == 2 and "不在您的管辖范围内" in out
    code, out = run("submit", "--user", "cadre_a", "--kind", "death", "--person",
                    str(couple.husband.pk), "--reason", "x", "--set", "oops")
    assert code == 2
    code, out = run("list", "--user", "nobody")
    assert code == 2
    assert not ChangeRequest.objects.exists()
