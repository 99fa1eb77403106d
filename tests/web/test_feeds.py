"""Feed ingest: each kind, quarantine reasons, duplicates, encodings, XLSX, 15-digit numbers,
unmatched rows, nothing stored for a file that cannot be read."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
import time_machine
from openpyxl import Workbook

from huimin.audit.models import AuditEvent
from huimin.errors import FileRejected
from huimin.lib import idnumber
from huimin.registry.models import Person
from huimin.verification.models import Effect, FeedFile, FeedRow, RowStatus
from tests.conftest import Personas, new_id
from tests.web.feeds_helpers import (
    BIRTH,
    DISABILITY,
    MOVE,
    NOW,
    childcare_case,
    csv_bytes,
    death_file,
    load,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def _death(person: Any, died: str = "2026-03-05", event: str = "D1", name: str = "") -> list[str]:
    return [event, person.id_number, name or person.name, died, "惠来县民政局", "SW001"]


def test_death_row_kept_raw_and_matched(personas: Personas, family_a: Any) -> None:
    s = load(personas.county, death_file([_death(family_a.child)]))
    assert (s.file.rows_read, s.file.matched, s.file.quarantined) == (1, 1, 0)
    row = FeedRow.objects.get()
    assert row.person == family_a.child and row.status == RowStatus.MATCHED
    assert row.row_number == 2 and row.file.source == "civil_affairs"
    assert row.raw()["certificate_no"] == "SW001"
    assert family_a.child.id_number not in row.raw_sealed  # sealed at rest
    assert row.id_masked.startswith("4") and "*" in row.id_masked
    assert AuditEvent.objects.filter(action="feed.import", object_id=str(s.file.pk)).exists()


@pytest.mark.parametrize(("cells", "reason"), [
    (lambda p: ["D1", p.id_number[:-1] + ("0" if p.id_number[-1] != "0" else "1"), p.name,
                "2026-03-05", "", ""], "「id_number」：身份证号码无效：校验码错误"),
    (lambda p: ["D1", p.id_number, p.name, "2022-01-01", "", ""],
     "「death_date」：2022-01-01 早于出生日期"),
    (lambda p: ["D1", p.id_number, p.name, "2026-07-01", "", ""],
     "「death_date」：2026-07-01 晚于今天"),
    (lambda p: ["D1", p.id_number, "王某某", "2026-03-05", "", ""], "「name」：与登记的姓名不一致"),
    (lambda p: ["", p.id_number, p.name, "2026-03-05", "", ""], "「event_id」：不能为空"),
    (lambda p: ["D1", p.id_number, p.name, "2026-13-01", "", ""], "「death_date」："),
])
def test_death_quarantine_reasons(personas: Personas, family_a: Any, cells: Any,
                                  reason: str) -> None:
    case = childcare_case(personas, family_a)
    s = load(personas.county, death_file([cells(family_a.child),
                                          _death(family_a.father, "2026-01-02", "D2")]))
    bad = FeedRow.objects.get(row_number=2)
    assert bad.status == RowStatus.QUARANTINED and bad.reason.startswith(reason), bad.reason
    assert "王" not in bad.reason.replace("王某某", "") and family_a.child.name not in bad.reason
    assert (s.file.quarantined, s.file.matched) == (1, 1)  # the valid row goes on
    assert not Effect.objects.filter(row=bad).exists()
    case.refresh_from_db()
    assert case.state == "approved" and case.amount_fen == 360000


def test_move_to_unknown_division_is_quarantined(personas: Personas, family_a: Any) -> None:
    p = family_a.father
    load(personas.county, csv_bytes(MOVE, [
        ["M1", p.id_number, p.name, "2026-05-01", "445224999999"],
        ["M2", p.id_number, p.name, "2026-05-01", "44522410020"],
        ["M3", p.id_number, p.name, "2026-05-01", "445224110202"]]), kind="move")
    rows = {r.event_id: r for r in FeedRow.objects.all()}
    assert rows["M1"].reason == "「to_code」：445224999999 不是已知的村（居）委会区划代码"
    assert rows["M2"].reason.startswith("「to_code」：「44522410020」应为 12 位区划代码")
    assert rows["M3"].status == RowStatus.MATCHED and rows["M3"].file.source == "public_security"


def test_duplicate_event_same_content_changes_nothing(personas: Personas,
                                                      family_a: Any) -> None:
    childcare_case(personas, family_a)
    data = death_file([_death(family_a.child)])
    first = load(personas.county, data)
    effects = Effect.objects.count()
    assert first.effects > 0
    again = load(personas.county, data)
    assert (again.file.duplicates, again.file.matched, again.effects) == (1, 0, 0)
    assert Effect.objects.count() == effects
    assert FeedRow.objects.filter(status=RowStatus.DUPLICATE).get().reason.endswith("未作变更")


def test_duplicate_event_different_content_is_quarantined(personas: Personas,
                                                          family_a: Any) -> None:
    load(personas.county, death_file([_death(family_a.child)]))
    s = load(personas.county, death_file([_death(family_a.child, "2026-03-06")]))
    row = s.file.rows.get()
    assert row.status == RowStatus.QUARANTINED
    assert "事件编号重复且内容不同" in row.reason and "第 2 行" in row.reason
    # another source may use the same event id
    other = load(personas.county, death_file([_death(family_a.child)]), source="health")
    assert other.file.matched == 1


def test_duplicate_within_one_file(personas: Personas, family_a: Any) -> None:
    s = load(personas.county, death_file([_death(family_a.child), _death(family_a.child),
                                          _death(family_a.child, "2026-03-07")]))
    assert (s.file.matched, s.file.duplicates, s.file.quarantined) == (1, 1, 1)


def test_gbk_file(personas: Personas, family_a: Any) -> None:
    s = load(personas.county, death_file([_death(family_a.child)], encoding="gbk"))
    assert s.file.matched == 1 and FeedRow.objects.get().name == family_a.child.name


def test_wrong_encoding_refused_nothing_stored(personas: Personas, family_a: Any) -> None:
    data = death_file([_death(family_a.child)], encoding="utf-16")
    with pytest.raises(FileRejected, match="编码无法识别"):
        load(personas.county, data)
    assert not FeedFile.objects.exists() and not FeedRow.objects.exists()


def test_missing_columns_refused_whole(personas: Personas, family_a: Any) -> None:
    data = csv_bytes(["event_id", "id_number", "name"], [["D1", family_a.child.id_number,
                                                         family_a.child.name]])
    with pytest.raises(FileRejected) as exc:
        load(personas.county, data)
    assert "缺少必需的列：death_date" in exc.value.message
    assert not FeedFile.objects.exists() and not AuditEvent.objects.filter(
        action="feed.import").exists()


def test_xlsx_file(personas: Personas, family_a: Any) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["event_id", "id_number", "name", "death_date", "extra"])
    ws.append(["X1", family_a.child.id_number, family_a.child.name, date(2026, 3, 5), "备注"])
    out = io.BytesIO()
    wb.save(out)
    s = load(personas.county, out.getvalue(), name="deaths.xlsx")
    row = FeedRow.objects.get()
    assert s.file.matched == 1 and row.event_date == date(2026, 3, 5)
    assert row.raw()["extra"] == "备注"  # extra columns kept raw


def test_damaged_xlsx_refused(personas: Personas) -> None:
    with pytest.raises(FileRejected):
        load(personas.county, b"PK\x03\x04 not a workbook", name="x.xlsx")
    assert not FeedFile.objects.exists()


def test_fifteen_digit_number_is_upgraded_and_matched(personas: Personas,
                                                      family_a: Any) -> None:
    from huimin.registry import actions

    born = date(1950, 3, 4)
    number = new_id(born, "M")
    old = actions.create_person(personas.cadre_a, name="郑老伯", id_number=number, sex="M",
                                birth_date=born, area=family_a.child.area, hukou_type="rural")
    short = number[:6] + number[8:17]
    assert idnumber.upgrade15(short) == number
    s = load(personas.county, death_file([["D15", short, "郑老伯", "2026-02-01", "", ""]]))
    assert s.file.matched == 1 and FeedRow.objects.get().person == old


def test_unmatched_rows_listed_never_guessed(personas: Personas, family_a: Any) -> None:
    stranger = new_id(date(1980, 1, 1), "F")
    s = load(personas.county, death_file([[
        "D9", stranger, family_a.mother.name, "2026-02-01", "", ""]]))
    row = FeedRow.objects.get()
    assert s.file.unmatched == 1 and row.person is None and row.status == RowStatus.UNMATCHED
    assert row.reason == "未在本辖区登记，未作推测匹配"
    assert not Effect.objects.exists()
    family_a.mother.refresh_from_db()
    assert family_a.mother.death_date is None


def test_outside_the_loaders_area_is_unmatched(personas: Personas, family_a: Any,
                                               family_b: Any) -> None:
    # the township reviewer of 惠城镇 loads a row of 隆江镇: not matched, nothing revealed
    s = load(personas.township, death_file([_death(family_b.child, "2026-03-01")]))
    assert s.file.unmatched == 1 and FeedRow.objects.get().person is None


def test_birth_row_for_a_registered_child(personas: Personas, family_a: Any) -> None:
    from huimin.registry import actions

    born = date(2026, 2, 10)
    number = new_id(born, "M")
    baby = actions.create_person(personas.cadre_a, name="林小明", id_number=number, sex="M",
                                 birth_date=born, area=family_a.child.area, hukou_type="rural",
                                 household=family_a.child.household)
    actions.link_parent(family_a.mother, baby, "mother")
    s = load(personas.county, csv_bytes(BIRTH, [[
        "B1", number, "林小明", "男", "2026-02-10", family_a.mother.id_number, "", "",
        "N4401"]]), kind="birth")
    assert s.file.matched == 1 and FeedRow.objects.get().person == baby
    offer = Effect.objects.get(kind="offer")
    assert offer.subject == baby and offer.program.code == "childcare-subsidy"
    assert offer.claim_year == 2026 and offer.new_amount_fen == 360000


def test_birth_row_checks_sex_and_date_against_the_number(personas: Personas,
                                                          family_a: Any) -> None:
    number = new_id(date(2026, 2, 10), "M")
    load(personas.county, csv_bytes(BIRTH, [
        ["B1", number, "林小明", "女", "2026-02-10", family_a.mother.id_number, "", "", "N1"],
        ["B2", number, "林小明", "男", "2026-02-11", family_a.mother.id_number, "", "", "N1"],
        ["B3", number, "林小明", "男", "2026-02-10", "", "", "", "N1"]]), kind="birth")
    reasons = [r.reason for r in FeedRow.objects.order_by("row_number")]
    assert reasons == ["「sex」：与新生儿身份证号码中的性别不一致",
                       "「birth_date」：与新生儿身份证号码中的出生日期不一致",
                       "「mother_id_number」：母亲或父亲身份证号码至少填写一个"]


def test_birth_of_an_unregistered_child_offers_through_the_parent(personas: Personas,
                                                                  family_a: Any) -> None:
    number = new_id(date(2026, 4, 1), "F")
    s = load(personas.county, csv_bytes(BIRTH, [[
        "B7", number, "林小花", "女", "2026-04-01", family_a.mother.id_number,
        family_a.father.id_number, "", "N7"]]), kind="birth")
    assert s.file.matched == 1
    offer = Effect.objects.get()
    assert offer.kind == "offer" and offer.subject is None and offer.person == family_a.mother
    assert offer.new_amount_fen == 360000 and "尚未登记" in offer.summary
    assert not Person.objects.filter(name="林小花").exists()  # the register is not touched


def test_disability_row_checks_grade(personas: Personas, family_a: Any) -> None:
    p = family_a.child
    load(personas.county, csv_bytes(DISABILITY, [
        ["C1", p.id_number, p.name, "CJ1", "5", "2026-01-01"],
        ["C2", p.id_number, p.name, "CJ1", "2", "2026-01-01"]]), kind="disability")
    rows = list(FeedRow.objects.order_by("row_number"))
    assert rows[0].reason == "「grade」：「5」应为 1–4 的等级"
    assert rows[1].status == RowStatus.MATCHED and rows[1].file.source == "disabled_federation"


def test_wrong_source_for_kind_refused(personas: Personas, family_a: Any) -> None:
    from huimin.errors import ActionError

    with pytest.raises(ActionError, match="数据来源"):
        load(personas.county, death_file([_death(family_a.child)]), source="disabled_federation")
    assert not FeedFile.objects.exists()


def test_wrong_role_cannot_load(personas: Personas, family_a: Any) -> None:
    from django.core.exceptions import PermissionDenied

    for who in (personas.cadre_a, personas.finance, personas.auditor):
        with pytest.raises(PermissionDenied):
            load(who, death_file([_death(family_a.child)]))
    assert not FeedFile.objects.exists()


def test_key_rotation_reseals_feed_rows_and_duplicates_still_found(
        personas: Personas, family_a: Any, settings: Any, tmp_path: Any) -> None:
    import secrets

    from django.core.management import call_command

    from huimin.registry import crypto

    settings.DATA_KEY = settings.DATA_KEY
    crypto.box.cache_clear()
    data = death_file([_death(family_a.child)])
    number = family_a.child.id_number
    load(personas.county, data)
    before = FeedRow.objects.get()
    key_file = tmp_path / "new.key"
    key_file.write_text(secrets.token_urlsafe(40), encoding="utf-8")
    try:
        call_command("rotate_data_key", "--new-key-file", str(key_file), "--actor",
                     "admin_user")
        row = FeedRow.objects.get()
        assert row.raw_sealed != before.raw_sealed and row.raw()["event_id"] == "D1"
        assert row.id_hash == crypto.id_hash(number) != before.id_hash
        again = load(personas.county, data)  # the content hash was rebuilt with the key
        assert again.file.duplicates == 1
        ev = AuditEvent.objects.get(action="system.rotate_data_key")
        assert ev.data["feed_rows"] == 1 and ev.data["feed_row_ids"] == 1
    finally:
        crypto.box.cache_clear()
