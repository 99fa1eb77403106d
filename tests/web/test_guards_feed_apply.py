"""What confirming a feed effect applies in the cases the other feed tests do not reach
(``huimin.verification.apply``): the preview of an automatic enrolment, a recalculation
below what was paid (a recovery), a move out of the county (the payment held as moved) and
a move within it that changes the amount."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import time_machine

from huimin.audit.models import AuditEvent
from huimin.payments.models import (
    Entitlement,
    EntitlementStatus,
    HeldReason,
    Recovery,
)
from huimin.programs.models import Program
from huimin.verification import apply
from huimin.verification.models import Effect, EffectStatus
from tests.conftest import ID_SEQ, VILLAGE_B, Personas, make_user, new_id
from tests.web.feeds_helpers import BIRTH, MOVE, NOW, balanced, childcare_case, csv_bytes, load

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield



def _move(p: Any, to_code: str, event: str = "M1") -> bytes:
    return csv_bytes(MOVE, [[event, p.id_number, p.name, "2026-05-01", to_code]])


def test_preview_of_an_automatic_enrolment_names_the_case_it_records() -> None:
    """呼和浩特 (hohhot-birth-grant, enrolment automatic): a registered newborn is proposed for
    enrolment; the preview says a case will be set up, for which program and year."""
    from huimin.registry import actions
    from huimin.registry.areas import load_county
    from huimin.registry.models import Area

    load_county("150102")
    village = "150102001001"
    cadre = make_user("cadre_h", "village_cadre", village)
    county_h = make_user("county_h", "county_approver", "150102000000")
    area = Area.objects.get(code=village)
    mother = actions.create_person(cadre, name="其其格", sex="F", birth_date=date(1995, 5, 5),
                                   id_number=new_id(date(1995, 5, 5), "F", "150102"),
                                   area=area, hukou_type="urban")
    number = new_id(date(2026, 3, 3), "M", "150102")
    baby = actions.create_person(cadre, name="巴特尔", id_number=number, sex="M",
                                 birth_date=date(2026, 3, 3), area=area, hukou_type="urban")
    actions.link_parent(mother, baby, "mother")
    load(county_h, csv_bytes(BIRTH, [["B1", number, "巴特尔", "男", "2026-03-03",
                                      mother.id_number, "", "", "N1"]]), kind="birth")
    e = Effect.objects.get(subject=baby)
    assert e.kind == "enrol"
    [step] = apply.preview([e])
    assert e.program is not None and e.program.name
    assert step.what == f"自动建立案件（{e.program.name} 2026 年度）"
    assert step.recover_fen == 0
    assert Effect.objects.get(pk=e.pk).status == EffectStatus.PROPOSED  # nothing applied


def _panzhihua_second_child(personas: Personas) -> Any:
    """东区 of 攀枝花 (510402): a second child born 2025, both parents registered there; the
    city's allowance (500 yuan a month, higher than the national 300) pays the whole of 2026."""
    from types import SimpleNamespace

    from huimin.cases import actions as case_actions
    from huimin.registry import actions
    from huimin.registry.areas import load_county
    from huimin.registry.models import Area, Household

    load_county("510402")
    area = Area.objects.filter(code__startswith="510402", level="village").order_by("code")[0]
    township = area.code[:9] + "000"
    users = SimpleNamespace(
        cadre=make_user("cadre_p", "village_cadre", area.code),
        township=make_user("township_p", "township_reviewer", township),
        county=make_user("county_p", "county_approver", "510402000000"),
        finance=make_user("finance_p", "finance_officer", "510402000000"))
    hh = Household.objects.create(number=f"{area.code}-{next(ID_SEQ):05d}", area=area,
                                  hukou_type="urban")

    def person(name: str, sex: str, born: date) -> Any:
        return actions.create_person(users.cadre, name=name, sex=sex, birth_date=born,
                                     id_number=new_id(born, sex, "510402"), area=area,
                                     hukou_type="urban", household=hh)

    father, mother = person("罗建华", "M", date(1990, 2, 3)), person("杨丽", "F", date(1992, 4, 5))
    first, second = person("罗一", "F", date(2020, 6, 1)), person("罗二", "M", date(2025, 1, 10))
    for child in (first, second):
        actions.link_parent(father, child, "father")
        actions.link_parent(mother, child, "mother")
    account = actions.add_bank_account(users.cadre, mother, bank_name="攀枝花农商银行",
                                       account=f"62310000{next(ID_SEQ):011d}")
    case = case_actions.submit_application(
        users.cadre, program=Program.objects.get(code="childcare-subsidy"), subject=second,
        claim_year=2026, applicant=mother, bank_account=account)
    case = case_actions.township_review(users.township, case, approve=True)
    case = case_actions.county_confirm(users.county, case, approve=True)
    return SimpleNamespace(users=users, father=father, case=case)


def test_a_recalculation_below_what_was_paid_opens_a_recovery(personas: Personas) -> None:
    """The father moves out of 攀枝花 after 2026 was paid at the city's rate: the child's case
    falls back to the national 3,600 yuan, and the 2,400 paid over it is to be recovered."""
    from huimin.payments import actions as pay_actions

    w = _panzhihua_second_child(personas)
    assert w.case.amount_fen == 600000
    cycle = pay_actions.build_cycle(w.users.finance, claim_year=2026,
                                    program=Program.objects.get(code="childcare-subsidy"))
    batch = pay_actions.create_batch(w.users.finance, cycle)
    pay_actions.release_batch(w.users.county, batch)
    pay_actions.export_batch(w.users.finance, batch)
    pay_actions.import_return(w.users.finance, batch, pay_actions.sample_return(batch))
    load(w.users.county, _move(w.father, "445224100201"), kind="move")
    e = Effect.objects.get(case=w.case)
    assert e.kind == "recalculate" and (e.old_amount_fen, e.new_amount_fen) == (600000, 360000)
    [step] = apply.preview([e])
    assert step.recover_fen == 240000 and "应追回 2,400.00 元" in step.what
    apply.confirm(w.users.county, [e])
    w.case.refresh_from_db()
    assert (w.case.state, w.case.amount_fen) == ("paid", 360000)
    rec = Recovery.objects.get(case=w.case)
    assert rec.amount_fen == 240000 and rec.cause == e.summary[:200]
    assert rec.event_ref == f"feed-effect:{e.pk}"
    e.refresh_from_db()
    assert e.applied == {"amount_fen": 360000, "recovery": rec.pk}
    w.father.refresh_from_db()
    assert w.father.moved_to_code == "445224100201"  # its register step confirmed with it
    balanced(cycle)


def test_a_move_out_of_the_county_holds_the_payment_as_moved(personas: Personas,
                                                            family_a: Any) -> None:
    from huimin.payments import actions as pay_actions

    case = childcare_case(personas, family_a)
    cycle = pay_actions.build_cycle(personas.finance, claim_year=2026,
                                    program=Program.objects.get(code="childcare-subsidy"))
    load(personas.county, _move(family_a.child, "150102001001"), kind="move")
    e = Effect.objects.get(kind="move")
    apply.confirm(personas.county, [e])
    case.refresh_from_db()
    assert case.state == "transferred"  # handed over by the register step
    ent = Entitlement.objects.get(case=case)
    assert (ent.status, ent.held_reason) == (EntitlementStatus.HELD, HeldReason.MOVED)
    assert ent.held_from == date(2026, 5, 1) and ent.held_note == e.summary[:200]
    e.refresh_from_db()
    assert e.applied == {"held": 1}
    assert AuditEvent.objects.filter(action="payment.hold", case_id=case.pk).count() == 1
    balanced(cycle)


def test_a_move_within_the_county_recalculates_an_amount_that_changed(
        personas: Personas, family_a: Any) -> None:
    """The child's birth date was corrected (a register change that proposes nothing) after
    the case was approved: the move within the county re-evaluates it, and confirming the
    move recalculates the case to what the engine found."""
    from huimin.registry import actions

    case = childcare_case(personas, family_a)
    assert case.amount_fen == 360000
    child = family_a.child
    born = date(2023, 6, 10)
    actions.correct_identity(personas.county, child, birth_date=born,
                             id_number=new_id(born, child.sex), note="出生证明更正")
    child.refresh_from_db()
    load(personas.county, _move(child, VILLAGE_B), kind="move")
    e = Effect.objects.get(kind="move")
    assert e.old_amount_fen == 360000 and e.new_amount_fen < 360000
    apply.confirm(personas.county, [e])
    case.refresh_from_db()
    assert case.area.code == VILLAGE_B and case.state == "approved"
    assert case.amount_fen == e.new_amount_fen
    e.refresh_from_db()
    assert e.applied == {"amount_fen": e.new_amount_fen}
    assert AuditEvent.objects.filter(action="case.recalculate", case_id=case.pk).exists()
