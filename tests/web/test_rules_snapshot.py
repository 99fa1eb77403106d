"""`huimin rules snapshot`: a county's register as a dated Parquet file for the province's
cluster, with pseudonymised ids, evaluated by `huimin rules eval` as it is."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.utils import timezone
from typer.testing import CliRunner

from huimin.audit.models import AuditEvent
from huimin.cli import app
from huimin.programs import snapshot as county_snapshot
from huimin.programs.entitlement import catalog
from huimin.programs.registry_view import registry_rows
from huimin.registry.crypto import box
from huimin.registry.models import Person
from huimin.rules.batch import evaluate_registry
from huimin.rules.io import registry_table
from huimin.rules.snapshot import SCHEMA, SnapshotError, key_id, pseudonym, read_metadata
from tests.conftest import VILLAGE_A, VILLAGE_B, VILLAGE_C, Personas, make_family

pytestmark = pytest.mark.django_db
KEY = "province-snapshot-key-0123456789abcdef"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["rules", "snapshot", *args])
    return result.exit_code, result.output.replace("\n", "")  # the console wraps lines


@pytest.fixture
def register(personas: Personas, settings: Any) -> dict[str, Any]:
    """Two families in 惠来县 (one father moved out of the county), one in 揭西县."""
    settings.SNAPSHOT_KEY = KEY
    a = make_family(personas.cadre_a, VILLAGE_A, date(2025, 3, 1))
    b = make_family(personas.cadre_b, VILLAGE_B, date(2023, 12, 10), surname="黄")
    make_family(personas.cadre_c, VILLAGE_C, date(2025, 6, 1), surname="郑")
    Person.objects.filter(pk=b.father.pk).update(moved_out_on=date(2026, 5, 1))
    here = Person.objects.filter(area__code__startswith="445224")
    return {"a": a, "b": b, "listed": here.filter(moved_out_on=None)}


def _numbers(persons: Any) -> dict[int, str]:
    return {pk: box().unseal(sealed) for pk, sealed in persons.values_list("pk", "id_sealed")}


def test_the_county_register_as_a_pseudonymised_snapshot(
        personas: Personas, register: dict[str, Any], tmp_path: Path) -> None:
    code, out = run("--user", "county", "--out", str(tmp_path))
    assert code == 0, out
    today = timezone.localdate()
    path = tmp_path / f"registry-445224-{today.isoformat()}.parquet"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    listed = register["listed"]
    assert f"{listed.count()} 人" in out and "已迁出本县 1 人未列入" in out and str(path) in out
    table = pq.read_table(path)
    assert table.schema.remove_metadata() == SCHEMA
    numbers = _numbers(listed)
    # every listed person once, by the HMAC of their identity number; no number written
    assert sorted(table.column("person_id").to_pylist()) == sorted(
        pseudonym(KEY, n) for n in numbers.values())
    raw = path.read_bytes()
    assert not any(n.encode() in raw for n in numbers.values())
    moved = _numbers(Person.objects.filter(pk=register["b"].father.pk))
    assert pseudonym(KEY, moved[register["b"].father.pk]) not in table.column("person_id")
    assert set(table.column("hukou_area_code").to_pylist()) == {VILLAGE_A, VILLAGE_B}
    meta = read_metadata(path)
    assert (meta["snapshot_date"], meta["county"], meta["rows"], meta["person_id"],
            meta["key_id"], meta["moved_out_excluded"]) == (
        today.isoformat(), "445224", str(listed.count()), "hmac-sha256", key_id(KEY), "1")
    event = AuditEvent.objects.get(action="registry.snapshot")
    assert event.actor == personas.county and event.data["rows"] == listed.count()
    assert event.data["file"] == path.name and event.data["pseudonymised"] is True


def test_the_snapshot_evaluates_as_the_register_does(
        personas: Personas, register: dict[str, Any], tmp_path: Path) -> None:
    """`huimin rules eval` on the file gives each person what the rules give the register."""
    code, out = run("--user", "county", "--out", str(tmp_path), "--date", "2026-06-30")
    assert code == 0, out
    snap = tmp_path / "registry-445224-2026-06-30.parquet"
    result = CliRunner().invoke(app, ["rules", "eval", "--program", "childcare-subsidy",
                                      "--year", "2026", "--input", str(snap), "--output",
                                      str(tmp_path / "out.parquet"), "--engine", "duckdb"])
    assert result.exit_code == 0, result.output
    got = {r["person_id"]: (r["eligible"], r["amount_yuan"], r["reasons"])
           for r in pq.read_table(tmp_path / "out.parquet").to_pylist()}
    listed = register["listed"]
    direct = evaluate_registry(catalog().for_year("childcare-subsidy", 2026), 2026,
                               registry_table(registry_rows(listed.order_by("pk"))),
                               "duckdb")
    numbers = _numbers(listed)
    want = {pseudonym(KEY, numbers[int(r["person_id"])]): (r["eligible"], r["amount_yuan"],
                                                            r["reasons"])
            for r in direct.to_pylist()}
    assert got == want
    # the two children are due (the 2025 child the whole year), the parents are not
    assert sum(1 for v in got.values() if v[0]) == 2 and sum(v[1] for v in got.values()) > 0


def test_the_same_person_has_the_same_pseudonym_in_every_snapshot(
        register: dict[str, Any], tmp_path: Path) -> None:
    first, second = tmp_path / "1", tmp_path / "2"
    first.mkdir()
    second.mkdir()
    assert run("--user", "county", "--out", str(first), "--date", "2026-01-31")[0] == 0
    assert run("--user", "county", "--out", str(second), "--date", "2026-02-28")[0] == 0
    ids = [set(pq.read_table(next(d.iterdir())).column("person_id").to_pylist())
           for d in (first, second)]
    assert ids[0] == ids[1] and len(ids[0]) == register["listed"].count()
    # another key, other pseudonyms that share nothing with these
    other = tmp_path / "3"
    other.mkdir()
    keyfile = tmp_path / "key.txt"
    keyfile.write_text("another-province-key-abcdefghijklmnopqrstuvwxyz\n", encoding="utf-8")
    assert run("--user", "county", "--out", str(other), "--key-file", str(keyfile))[0] == 0
    assert not ids[0] & set(pq.read_table(next(other.iterdir())).column("person_id")
                            .to_pylist())


def test_without_pseudonyms_the_register_numbers_are_written(
        register: dict[str, Any], tmp_path: Path) -> None:
    code, out = run("--user", "county", "--out", str(tmp_path), "--no-pseudonymise")
    assert code == 0 and "本县人员编号" in out
    path = next(tmp_path.iterdir())
    assert sorted(pq.read_table(path).column("person_id").to_pylist()) == sorted(
        str(pk) for pk in register["listed"].values_list("pk", flat=True))
    assert read_metadata(path)["person_id"] == "register"


@pytest.mark.parametrize(("user", "args", "message"), [
    ("cadre_a", (), "仅限县级审批员、系统管理员"),
    ("finance", (), "仅限县级审批员、系统管理员"),
    ("county_b", ("--county", "445224"), "不在用户 county_b 的管辖范围内"),
    ("county", ("--county", "4452"), "应为 6 位县级区划代码"),
    ("county", ("--date", "2026-13-01"), "--date：应为 YYYY-MM-DD"),
    ("county", ("--date", (timezone.localdate() + timedelta(days=2)).isoformat()), "晚于今天"),
    ("nobody", (), "nobody"),
])
def test_refusals_name_the_reason_and_write_nothing(
        register: dict[str, Any], tmp_path: Path, user: str, args: tuple[str, ...],
        message: str) -> None:
    code, out = run("--user", user, "--out", str(tmp_path), *args)
    assert code != 0 and message in out, out
    assert list(tmp_path.iterdir()) == []
    assert not AuditEvent.objects.filter(action="registry.snapshot").exists()


def test_the_key_must_be_set_long_and_not_the_data_key(
        register: dict[str, Any], tmp_path: Path, settings: Any) -> None:
    settings.SNAPSHOT_KEY = ""
    code, out = run("--user", "county", "--out", str(tmp_path))
    assert code == 2 and "未设置假名密钥" in out
    settings.SNAPSHOT_KEY = "short"
    code, out = run("--user", "county", "--out", str(tmp_path))
    assert code == 2 and "假名密钥过短" in out
    settings.SNAPSHOT_KEY = settings.DATA_KEY
    code, out = run("--user", "county", "--out", str(tmp_path))
    assert code == 2 and "不能与本县的数据加密密钥" in out
    settings.SNAPSHOT_KEY = KEY
    code, out = run("--user", "county", "--out", str(tmp_path / "missing"))
    assert code == 2 and "不存在" in out
    code, out = run("--user", "county", "--out", str(tmp_path), "--key-file",
                    str(tmp_path / "none.txt"))
    assert code == 2 and "无法读取" in out
    assert list(tmp_path.iterdir()) == []
    assert not AuditEvent.objects.filter(action="registry.snapshot").exists()


def test_an_existing_snapshot_is_never_overwritten(
        register: dict[str, Any], tmp_path: Path) -> None:
    assert run("--user", "county", "--out", str(tmp_path), "--date", "2026-03-01")[0] == 0
    path = tmp_path / "registry-445224-2026-03-01.parquet"
    before = path.read_bytes()
    code, out = run("--user", "county", "--out", str(tmp_path), "--date", "2026-03-01")
    assert code == 2 and "已存在" in out and path.read_bytes() == before
    assert AuditEvent.objects.filter(action="registry.snapshot").count() == 1


def test_a_write_failing_half_way_leaves_no_file_and_no_event(
        personas: Personas, register: dict[str, Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The persons are written a chunk at a time; the second chunk fails."""
    monkeypatch.setattr(county_snapshot, "CHUNK", 2)
    calls: list[int] = []

    def failing(persons: Any) -> list[dict[str, Any]]:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("磁盘已满")
        return registry_rows(persons)

    monkeypatch.setattr(county_snapshot, "registry_rows", failing)
    with pytest.raises(OSError):
        county_snapshot.write_snapshot(personas.county, tmp_path)
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []
    assert not AuditEvent.objects.filter(action="registry.snapshot").exists()


def test_an_administrator_of_two_counties_names_one(
        personas: Personas, register: dict[str, Any], tmp_path: Path) -> None:
    from huimin.registry.models import Area

    personas.admin.areas.add(Area.objects.get(code="445222000000"))
    with pytest.raises(SnapshotError, match="负责多个县"):
        county_snapshot.write_snapshot(personas.admin, tmp_path)
    snap = county_snapshot.write_snapshot(personas.admin, tmp_path, county="445222")
    assert (snap.county, snap.rows, snap.moved_out) == ("445222", 3, 0)
    assert set(pq.read_table(snap.path).column("hukou_area_code").to_pylist()) == {VILLAGE_C}
