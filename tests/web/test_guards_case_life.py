"""Refusals and no-ops of the changes of a case's life (``huimin.cases.actions.life``).

A refusal asserts its message and that nothing changed; a no-op (suspending a suspended
case, moving a case to the village it is in) records nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from huimin.audit.models import AuditEvent
from huimin.cases import actions
from huimin.cases.models import Case
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.programs.models import Program
from huimin.registry import actions as registry_actions
from huimin.registry.areas import load_county
from huimin.registry.models import Area
from tests.conftest import VILLAGE_A, Family, Personas, make_family, make_user, new_id
from tests.web.cases_helpers import apply_rural, make_rural_couple

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        yield


def snapshot() -> dict[str, Any]:
    return {
        "events": list(AuditEvent.objects.order_by("id").values_list("id", flat=True)),
        "cases": list(Case.objects.order_by("id").values_list(
            "id", "state", "version", "area_id", "facts", "bank_account_id", "amount_fen")),
    }


def refused(exc: type[Exception], match: str, call: Callable[[], object]) -> None:
    before = snapshot()
    with pytest.raises(exc, match=match):
        call()
    assert snapshot() == before


def approved(personas: Personas, fam: Family) -> Case:
    case = actions.submit_application(
        personas.cadre_a, program=Program.objects.get(code="childcare-subsidy"),
        subject=fam.child, claim_year=2026, applicant=fam.mother, bank_account=fam.account)
    actions.township_review(personas.township, case, approve=True)
    return actions.county_confirm(personas.county, case, approve=True)


def test_only_the_county_changes_a_case(personas: Personas, family_a: Family) -> None:
    case = approved(personas, family_a)
    refused(Forbidden, "只有县级审批员可以确认停发、暂停或重新核定", lambda: actions.stop_case(
        personas.cadre_a, case, stopped_on=date(2026, 7, 1), reason="x"))
    refused(Conflict, "已不是暂停状态",
            lambda: actions.resume_case(personas.county, case, reason="x"))


def test_suspending_twice_records_once_and_resuming_without_a_hold(personas: Personas,
                                                                  family_a: Family) -> None:
    case = approved(personas, family_a)
    actions.suspend_case(personas.county, case, from_date=date(2026, 7, 1), reason="复核")
    before = snapshot()
    again = actions.suspend_case(personas.county, case, from_date=date(2026, 8, 1), reason="再次")
    assert again.state == "suspended" and snapshot() == before
    resumed = actions.resume_case(personas.county, case, reason="复核无误")
    assert resumed.state == "approved"  # no payment was held, so none is released
    assert AuditEvent.objects.filter(case_id=case.pk, action="case.resume").count() == 1
    assert not AuditEvent.objects.filter(action="payment.release").exists()


def test_a_grade_of_none_removes_the_grade(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    Case.objects.filter(pk=case.pk).update(facts={**case.facts, "child_disability_grade": 2})
    case.refresh_from_db()
    after = actions.recalculate_case(personas.county, case, reason="残疾等级复核撤销",
                                     facts={"child_disability_grade": None})
    assert "child_disability_grade" not in after.facts
    assert after.facts["policy_status_confirmed"] is True


def test_enrolment_refusals(personas: Personas, family_a: Family) -> None:
    program = Program.objects.get(code="childcare-subsidy")
    refused(Forbidden, "只有县级审批员可以确认自动纳入", lambda: actions.enrol_case(
        personas.cadre_a, program=program, subject=family_a.child, claim_year=2026, reason="x"))
    refused(ActionError, "不是自动纳入（免申即享）的项目", lambda: actions.enrol_case(
        personas.county, program=program, subject=family_a.child, claim_year=2026, reason="x"))
    load_county("150102")
    village = Area.objects.get(code="150102001001")
    cadre = make_user("cadre_h", "village_cadre", village.code)
    county_h = make_user("county_h", "county_approver", "150102000000")
    born = date(2026, 3, 3)
    orphan = registry_actions.create_person(
        cadre, name="巴特尔", id_number=new_id(born, "M", "150102"), sex="M", birth_date=born,
        area=village, hukou_type="urban")
    refused(ActionError, "未登记父母，不能自动纳入", lambda: actions.enrol_case(
        county_h, program=program, subject=orphan, claim_year=2026, reason="出生登记"))
    mother = registry_actions.create_person(
        cadre, name="其其格", id_number=new_id(date(1995, 5, 5), "F", "150102"), sex="F",
        birth_date=date(1995, 5, 5), area=village, hukou_type="urban")
    registry_actions.link_parent(mother, orphan, "mother")
    actions.enrol_case(county_h, program=program, subject=orphan, claim_year=2026,
                       reason="出生登记")
    refused(Conflict, "年度.*已有案件", lambda: actions.enrol_case(
        county_h, program=program, subject=orphan, claim_year=2026, reason="再次"))


def test_moving_a_case_to_its_own_village_records_nothing(personas: Personas,
                                                          family_a: Family) -> None:
    case = approved(personas, family_a)
    before = snapshot()
    same = actions.move_case(personas.cadre_a, case, to_area=case.area,
                             moved_on=date(2026, 6, 1))
    assert same.area_id == case.area_id and snapshot() == before


def test_account_change_refusals(personas: Personas, family_a: Family) -> None:
    case = approved(personas, family_a)
    refused(Forbidden, "您的角色不能更改案件的收款账户",
            lambda: actions.change_account(personas.finance, case, family_a.account))
    stranger = make_family(personas.cadre_a, VILLAGE_A, date(2025, 2, 2), surname="钱")
    refused(ActionError, "收款账户：须为申请人或补贴对象的有效账户",
            lambda: actions.change_account(personas.cadre_a, case, stranger.account))
