"""The register's interfaces for a death and a move (registry.actions.record_death,
move_person; cases.actions.move_case, transfer_out) and the person_changed signal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from huimin.accounts.access import cases_for, persons_for
from huimin.audit.models import AuditEvent
from huimin.cases import actions as case_actions
from huimin.cases.states import State
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.registry import actions
from huimin.registry.models import Area, Handover, Person
from huimin.registry.signals import person_changed
from tests.conftest import VILLAGE_A, VILLAGE_B, VILLAGE_C, Personas
from tests.web.cases_helpers import apply_rural, make_rural_couple

pytestmark = pytest.mark.django_db
VILLAGE_A2 = "445224100202"  # another village of 惠城镇 (same township as VILLAGE_A)


@pytest.fixture
def sent() -> Iterator[list[dict[str, Any]]]:
    got: list[dict[str, Any]] = []

    def receiver(sender: Any, **kw: Any) -> None:
        got.append(kw)

    person_changed.connect(receiver, weak=False, dispatch_uid="test-life-events")
    yield got
    person_changed.disconnect(dispatch_uid="test-life-events")


def today() -> date:
    return case_actions.local_today()


# ------------------------------------------------------------------------ deaths

def test_township_records_a_death(personas: Personas, sent: list[dict[str, Any]]) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    died = today() - timedelta(days=3)
    person = actions.record_death(personas.township, couple.wife, death_date=died,
                                  source="县卫生健康局", certificate="Q445224-001")
    person.refresh_from_db()
    assert (person.death_date, person.death_source, person.death_certificate) == (
        died, "县卫生健康局", "Q445224-001")
    ev = AuditEvent.objects.get(action="person.death", person_id=person.pk)
    assert ev.actor == personas.township and ev.data["via"] == "change_request"
    assert ev.data["changes"][0] == {"field": "死亡日期", "old": "", "new": died.isoformat()}
    assert [(s["kind"], s["person"].pk, s["effective_on"], s["via"]) for s in sent] == [
        ("death", person.pk, died, "change_request")]
    # the same date again changes nothing; another date is a conflict
    actions.record_death(personas.county, couple.wife, death_date=died, source="公安")
    assert AuditEvent.objects.filter(action="person.death").count() == 1 and len(sent) == 1
    with pytest.raises(Conflict, match="死亡日期"):
        actions.record_death(personas.county, couple.wife, death_date=died - timedelta(days=1),
                             source="公安")


def test_death_wrong_role_and_outsiders(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    died = today() - timedelta(days=3)
    for actor in (personas.cadre_a, personas.finance, personas.auditor):
        with pytest.raises(Forbidden):
            actions.record_death(actor, couple.wife, death_date=died, source="村委会")
    for actor in (personas.township_b, personas.township_c, personas.county_b):
        with pytest.raises(Forbidden, match="管辖范围"):
            actions.record_death(actor, couple.wife, death_date=died, source="村委会")
    assert Person.objects.get(pk=couple.wife.pk).death_date is None
    assert not AuditEvent.objects.filter(action="person.death").exists()


@pytest.mark.parametrize(("offset", "source", "message"), [
    (1, "卫健局", "死亡日期：晚于今天"),
    (None, "卫健局", "死亡日期：早于出生日期"),
    (-1, "", "死亡信息来源：不能为空"),
    (-1, "卫健\n局", "死亡信息来源"),
])
def test_death_bad_input_names_the_field(personas: Personas, offset: int | None, source: str,
                                         message: str) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    died = (today() + timedelta(days=offset) if offset is not None
            else couple.wife.birth_date - timedelta(days=1))
    with pytest.raises(ActionError, match=message):
        actions.record_death(personas.township, couple.wife, death_date=died, source=source)
    assert Person.objects.get(pk=couple.wife.pk).death_date is None


# ------------------------------------------------------------------------ moves in the county

def test_move_within_county_carries_open_cases(personas: Personas,
                                               sent: list[dict[str, Any]]) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    case_actions.decide(personas.cadre_a, case, "approve")
    moved_on = today() - timedelta(days=10)
    person = actions.move_person(personas.cadre_a, couple.husband, to_code=VILLAGE_B,
                                 moved_on=moved_on)
    person.refresh_from_db()
    case.refresh_from_db()
    assert person.area.code == VILLAGE_B and person.moved_out_on is None
    assert person.household is None  # the wife stays: he leaves the household
    assert case.area.code == VILLAGE_B and case.state == State.VILLAGE_APPROVED
    assert case.decisions.count() == 2  # history kept
    move = AuditEvent.objects.get(action="case.move", case_id=case.pk)
    assert move.data["from_code"] == VILLAGE_A and move.data["to_code"] == VILLAGE_B
    assert sent[0]["kind"] == "move" and sent[0]["effective_on"] == moved_on
    # the last member moves: the household follows
    actions.move_person(personas.cadre_a, couple.wife, to_code=VILLAGE_B, moved_on=moved_on)
    actions.move_person(personas.cadre_a, couple.child, to_code=VILLAGE_B, moved_on=moved_on)
    couple.household.refresh_from_db()
    assert couple.household.area.code == VILLAGE_B
    # the village it went to now sees it; the one it left does not
    assert cases_for(personas.cadre_b).filter(pk=case.pk).exists()
    assert not cases_for(personas.cadre_a).filter(pk=case.pk).exists()
    assert persons_for(personas.cadre_b).filter(pk=person.pk).exists()


def test_move_out_of_county_hands_over(personas: Personas, sent: list[dict[str, Any]]) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    moved_on = today() - timedelta(days=5)
    person = actions.move_person(personas.cadre_a, couple.husband, to_code=VILLAGE_C,
                                 moved_on=moved_on, note="投靠子女")
    person.refresh_from_db()
    case.refresh_from_db()
    assert person.area.code == VILLAGE_A  # stays on this county's register, moved out
    assert (person.moved_out_on, person.moved_to_code) == (moved_on, VILLAGE_C)
    assert case.state == State.TRANSFERRED and case.stopped_on == moved_on
    assert case.awaiting_role == ""
    handover = Handover.objects.get(person=person)
    assert handover.case_ids == [case.pk] and handover.to_name.endswith("菜仔园村委会")
    assert AuditEvent.objects.filter(action="case.transfer_out", case_id=case.pk).exists()
    assert sent[-1]["data"]["new"]["area"] == VILLAGE_C
    with pytest.raises(Conflict, match="迁出本县"):  # no more changes once moved out
        actions.move_person(personas.cadre_a, person, to_code=VILLAGE_B, moved_on=moved_on)


def test_move_wrong_role_and_outsiders(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    for actor in (personas.finance, personas.auditor):
        with pytest.raises(Forbidden):
            actions.move_person(actor, couple.wife, to_code=VILLAGE_B, moved_on=today())
    for actor in (personas.cadre_b, personas.cadre_c, personas.township_c):
        with pytest.raises(Forbidden, match="管辖范围"):
            actions.move_person(actor, couple.wife, to_code=VILLAGE_B, moved_on=today())
    assert Person.objects.get(pk=couple.wife.pk).area.code == VILLAGE_A
    assert not AuditEvent.objects.filter(action="person.move").exists()


@pytest.mark.parametrize(("code", "message"), [
    ("445224100999", "不是已知的区划代码"),
    ("4452241002", "应为 12 位数字"),
    ("445224100000", "不是村（居）委会一级"),
    (VILLAGE_A, "户籍已在"),
])
def test_move_bad_destination(personas: Personas, code: str, message: str) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    with pytest.raises(ActionError, match=f"迁往区划代码：.*{message}"):
        actions.move_person(personas.cadre_a, couple.husband, to_code=code, moved_on=today())
    case.refresh_from_db()
    assert case.area.code == VILLAGE_A and case.state == State.SUBMITTED


def test_move_bad_dates_and_dead_person(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    with pytest.raises(ActionError, match="迁移日期：晚于今天"):
        actions.move_person(personas.cadre_a, couple.wife, to_code=VILLAGE_B,
                            moved_on=today() + timedelta(days=1))
    with pytest.raises(ActionError, match="迁移日期：早于出生日期"):
        actions.move_person(personas.cadre_a, couple.wife, to_code=VILLAGE_B,
                            moved_on=date(1900, 1, 1))
    actions.record_death(personas.township, couple.wife, death_date=today(), source="卫健局")
    with pytest.raises(ActionError, match="已登记死亡"):
        actions.move_person(personas.cadre_a, couple.wife, to_code=VILLAGE_B, moved_on=today())


# ------------------------------------------------------------------------ the case steps

def test_move_case_and_transfer_out_roles(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    other = apply_rural(personas.cadre_a, couple.wife)
    village_a2 = Area.objects.get(code=VILLAGE_A2)
    for actor in (personas.finance, personas.auditor):
        with pytest.raises(Forbidden):
            case_actions.move_case(actor, case, to_area=village_a2, moved_on=today())
        with pytest.raises(Forbidden):
            case_actions.transfer_out(actor, case, moved_on=today(), to_code=VILLAGE_C)
    for actor in (personas.cadre_b, personas.cadre_c):
        with pytest.raises(Forbidden, match="管辖范围"):
            case_actions.move_case(actor, case, to_area=village_a2, moved_on=today())
        with pytest.raises(Forbidden, match="管辖范围"):
            case_actions.transfer_out(actor, case, moved_on=today(), to_code=VILLAGE_C)
    with pytest.raises(ActionError, match="本县"):
        case_actions.move_case(personas.cadre_a, case, to_area=Area.objects.get(code=VILLAGE_C),
                               moved_on=today())
    moved = case_actions.move_case(personas.township, case, to_area=village_a2,
                                   moved_on=today())
    assert moved.area == village_a2 and moved.version == case.version + 1
    ended = case_actions.transfer_out(personas.cadre_a, other, moved_on=today(),
                                      to_code=VILLAGE_C)
    assert ended.state == State.TRANSFERRED
    with pytest.raises(Conflict, match="已迁出移交"):
        case_actions.move_case(personas.cadre_a, ended, to_area=village_a2, moved_on=today())
