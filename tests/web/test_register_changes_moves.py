"""Change requests: moves within the county and out of it (village level)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from huimin.cases.actions import local_today
from huimin.cases.states import State
from huimin.errors import ActionError, Forbidden
from huimin.registry import changes
from huimin.registry.models import ChangeRequest, Handover, Person
from tests.conftest import VILLAGE_A, VILLAGE_B, VILLAGE_C, Personas, make_family
from tests.web.cases_helpers import apply_rural, make_rural_couple
from tests.web.changes_helpers import (
    _media_root,  # noqa: F401  (autouse)
    assert_roles,
    submit,
)

pytestmark = pytest.mark.django_db


def test_whole_household_moves_within_county(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    moved_on = (local_today() - timedelta(days=3)).isoformat()
    req = submit(personas.township, "move", couple.husband,
                 {"to_code": VILLAGE_B, "moved_on": moved_on, "whole_household": "1"},
                 evidence=False)
    assert req.confirm_level == "village" and req.new_values["area"].endswith("竹湖村委会")
    changes.confirm_change(personas.cadre_a, req)
    couple.household.refresh_from_db()
    case.refresh_from_db()
    assert couple.household.area.code == VILLAGE_B
    assert set(Person.objects.filter(household=couple.household)
               .values_list("area__code", flat=True)) == {VILLAGE_B}
    assert case.area.code == VILLAGE_B and case.state == State.SUBMITTED


def test_move_out_of_county_ends_cases_with_handover(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    case = apply_rural(personas.cadre_a, couple.husband)
    req = submit(personas.cadre_a, "move", couple.husband,
                 {"to_code": VILLAGE_C, "moved_on": local_today().isoformat()})
    assert "迁出本县" in req.new_values["area"]
    changes.confirm_change(personas.township, req)
    case.refresh_from_db()
    assert case.state == State.TRANSFERRED
    assert Handover.objects.get(person=couple.husband).case_ids == [case.pk]


def test_move_wrong_role_and_outsiders(personas: Personas) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    values = {"to_code": VILLAGE_B, "moved_on": local_today().isoformat()}
    with pytest.raises(Forbidden):
        submit(personas.finance, "move", couple.wife, values)
    with pytest.raises(Forbidden):
        submit(personas.cadre_c, "move", couple.wife, values)
    req = submit(personas.cadre_a, "move", couple.wife, values)
    assert_roles(personas, req, wrong=[personas.finance, personas.auditor],
                 outsiders=[personas.cadre_b, personas.township_b, personas.cadre_c])
    assert Person.objects.get(pk=couple.wife.pk).area.code == VILLAGE_A


@pytest.mark.parametrize(("values", "message"), [
    ({"to_code": "445224100999"}, "迁往区划代码：.*不是已知的区划代码"),
    ({"to_code": "12345"}, "迁往区划代码：.*12 位数字"),
    ({"to_code": VILLAGE_A}, "迁往区划代码：.*户籍已在"),
    ({"to_code": VILLAGE_B, "moved_on": "2999-01-01"}, "迁移日期：晚于今天"),
    ({"to_code": VILLAGE_B, "moved_on": "昨天"}, "迁移日期：.*不是有效日期"),
])
def test_move_bad_input(personas: Personas, values: dict[str, str], message: str) -> None:
    couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
    with pytest.raises(ActionError, match=message):
        submit(personas.cadre_a, "move", couple.wife,
               {"moved_on": local_today().isoformat(), **values})
    assert not ChangeRequest.objects.exists()


def test_a_case_at_the_bank_stops_the_whole_move(personas: Personas) -> None:
    """Confirming fails as a whole when one step cannot be done: nothing half-applied."""
    from huimin.cases import actions as case_actions
    from huimin.payments import actions as pay_actions
    from huimin.programs.models import Program

    fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 4, 4))
    program = Program.objects.get(code="childcare-subsidy")
    paying = case_actions.submit_application(
        personas.cadre_a, program=program, subject=fam.child, claim_year=2026,
        applicant=fam.mother, bank_account=fam.account)
    case_actions.township_review(personas.township, paying, approve=True)
    case_actions.county_confirm(personas.county, paying, approve=True)
    waiting = case_actions.submit_application(
        personas.cadre_a, program=program, subject=fam.child, claim_year=2025,
        applicant=fam.mother, bank_account=fam.account)
    batch = pay_actions.create_batch(personas.finance, pay_actions.build_cycle(
        personas.finance, program=program, claim_year=2026))
    pay_actions.release_batch(personas.county, batch)
    pay_actions.export_batch(personas.finance, batch)
    paying.refresh_from_db()
    assert paying.state == State.IN_PAYMENT
    req = submit(personas.cadre_a, "move", fam.child,
                 {"to_code": VILLAGE_C, "moved_on": local_today().isoformat()})
    with pytest.raises(ActionError, match="发放中"):
        changes.confirm_change(personas.township, req)
    waiting.refresh_from_db()
    req.refresh_from_db()
    assert waiting.state == State.SUBMITTED and req.status == "submitted"
    assert Person.objects.get(pk=fam.child.pk).moved_out_on is None
    assert not Handover.objects.exists()
