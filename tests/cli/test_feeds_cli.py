"""``huimin feeds import | effects | confirm``, run in-process on the test database."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import time_machine
from typer.testing import CliRunner

from huimin.cli import app
from huimin.verification.models import Effect, FeedFile
from tests.conftest import VILLAGE_A, Personas, new_id
from tests.web.feeds_helpers import DISABILITY, NOW, apply_for, csv_bytes, death_file, older_family

pytestmark = pytest.mark.django_db
runner = CliRunner()


@pytest.fixture(autouse=True)
def _now() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def feeds(*args: str) -> Any:
    return runner.invoke(app, ["feeds", *args])


def test_import_prints_counts_and_exits_0_with_unmatched_and_quarantined(
        personas: Personas, family_a: Any, tmp_path: Path) -> None:
    c = family_a.child
    f = tmp_path / "deaths.csv"
    f.write_bytes(death_file([["D1", c.id_number, c.name, "2026-03-05", "", ""],
                              ["D2", new_id(date(1970, 1, 1), "M"), "无此人", "2026-03-05", "",
                               ""],
                              ["D3", "123", "某", "2026-03-05", "", ""]], encoding="gbk"))
    r = feeds("import", "--kind", "death", str(f), "--user", "county")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    for want in ("rows read: 3", "matched: 1", "unmatched: 1", "quarantined: 1",
                 "effects proposed: 1"):
        assert want in lines
    assert FeedFile.objects.get().via == "cli"


@pytest.mark.parametrize("content", [b"event_id,name\r\n1,x\r\n", b"\xff\xfe\x00\x01garbage"])
def test_unreadable_file_exits_2_nothing_stored(personas: Personas, tmp_path: Path,
                                                content: bytes) -> None:
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    r = feeds("import", "--kind", "death", str(f), "--user", "county")
    assert r.exit_code == 2 and "未保存任何内容" in r.output
    assert not FeedFile.objects.exists()


def test_missing_file_and_unknown_user_exit_2(personas: Personas, tmp_path: Path) -> None:
    assert feeds("import", "--kind", "death", str(tmp_path / "no.csv"), "--user",
                 "county").exit_code == 2
    f = tmp_path / "d.csv"
    f.write_bytes(death_file([]))
    assert feeds("import", "--kind", "death", str(f), "--user", "nobody").exit_code == 2
    assert feeds("import", "--kind", "wedding", str(f), "--user", "county").exit_code == 2


def test_wrong_role_exits_1(personas: Personas, family_a: Any, tmp_path: Path) -> None:
    f = tmp_path / "d.csv"
    f.write_bytes(death_file([["D1", family_a.child.id_number, family_a.child.name,
                               "2026-03-05", "", ""]]))
    r = feeds("import", "--kind", "death", str(f), "--user", "cadre_a")
    assert r.exit_code == 1 and not FeedFile.objects.exists()


def _disability(personas: Personas, tmp_path: Path) -> Any:
    fam = older_family(personas.cadre_a, VILLAGE_A, father_born=date(1970, 1, 5),
                       mother_born=date(1972, 2, 6), child_born=date(2000, 3, 7))
    sa = apply_for(personas, "special-assistance", fam.mother, policy_status_confirmed=True)
    f = tmp_path / "cj.csv"
    c = fam.child
    f.write_bytes(csv_bytes(DISABILITY, [["C1", c.id_number, c.name, "CJ1", "1",
                                          "2026-03-01"]]))
    r = feeds("import", "--kind", "disability", str(f), "--user", "county")
    assert r.exit_code == 0, r.output
    return sa


def test_effects_json_and_confirm(personas: Personas, tmp_path: Path) -> None:
    sa = _disability(personas, tmp_path)
    r = feeds("effects", "--user", "county", "--status", "proposed", "--json")
    assert r.exit_code == 0, r.output
    listed = json.loads(r.stdout)
    assert [e["case_id"] for e in listed] == [sa.pk]
    assert listed[0]["kind"] == "recalculate" and listed[0]["new_amount_fen"] == 180000
    assert json.loads(feeds("effects", "--user", "cadre_b", "--json").stdout) == []
    r = feeds("confirm", "--user", "finance", "--all")
    assert r.exit_code == 1
    r = feeds("confirm", "--user", "county", "--effect", str(listed[0]["id"]))
    assert r.exit_code == 0 and "confirmed: 1" in r.stdout
    sa.refresh_from_db()
    assert sa.amount_fen == 180000
    assert json.loads(feeds("effects", "--user", "county", "--status", "confirmed",
                            "--json").stdout)[0]["status"] == "confirmed"


def test_confirm_all_and_arguments(personas: Personas, tmp_path: Path) -> None:
    _disability(personas, tmp_path)
    assert feeds("confirm", "--user", "county").exit_code == 2
    assert feeds("confirm", "--user", "county", "--effect", "999999").exit_code == 1
    assert feeds("confirm", "--user", "county_b", "--all").stdout.strip() == "confirmed: 0"
    r = feeds("confirm", "--user", "county", "--all")
    assert r.exit_code == 0 and "confirmed: 1" in r.stdout
    assert set(Effect.objects.values_list("status", flat=True)) == {"confirmed"}


def test_issue_and_revoke_token(personas: Personas) -> None:
    r = feeds("issue-token", "--user", "county", "--label", "公安人口系统", "--source",
              "public_security")
    assert r.exit_code == 0 and "hmf_" in r.stdout
    from huimin.verification.models import FeedToken

    token = FeedToken.objects.get()
    assert feeds("revoke-token", "--user", "finance", "--token", str(token.pk)).exit_code == 1
    assert feeds("revoke-token", "--user", "county", "--token", str(token.pk)).exit_code == 0
    token.refresh_from_db()
    assert token.revoked_at is not None
