"""Effects proposed by the rules engine for each kind of event, and what confirming or
dismissing them changes."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine

from huimin.audit.models import AuditEvent
from huimin.cases.models import Case
from huimin.programs import entitlement
from huimin.verification import apply
from huimin.verification.models import Effect, EffectStatus
from tests.conftest import VILLAGE_A, Personas
from tests.web.feeds_helpers import (
    DISABILITY,
    MOVE,
    NOW,
    apply_for,
    childcare_case,
    csv_bytes,
    death_file,
    load,
    older_family,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def only_child(personas: Personas) -> Any:
    """A rural couple (woman 54) whose only child, 26, is disabled at grade 2."""
    return older_family(personas.cadre_a, VILLAGE_A, father_born=date(1970, 1, 5),
                        mother_born=date(1972, 2, 6), child_born=date(2000, 3, 7))


def _death_row(p: Any, died: str, event: str = "D1") -> list[str]:
    return [event, p.id_number, p.name, died, "", ""]


def test_child_death_ends_childcare_from_the_next_month(personas: Personas,
                                                        family_a: Any) -> None:
    case = childcare_case(personas, family_a)
    s = load(personas.county, death_file([_death_row(family_a.child, "2026-03-05")]))
    stop = Effect.objects.get(kind="stop")
    assert s.effects == 2  # the death recorded, the case stopped
    assert stop.case == case and stop.from_date == date(2026, 4, 1)
    assert (stop.old_months, stop.new_months) == (12, 3)
    assert (stop.old_amount_fen, stop.new_amount_fen) == (360000, 90000)
    # the rules engine's own answer for the child as it will be registered
    ent = entitlement.evaluate_mapping(
        "childcare-subsidy", {**stop.explanation["facts"]}, 2026, date(2026, 6, 15))
    assert ent.amount_fen == 90000 and stop.explanation["months"] == 3
    record = Effect.objects.get(kind="record")
    assert record.case is None and record.params["death_date"] == "2026-03-05"
    case.refresh_from_db()
    assert case.state == "approved" and case.amount_fen == 360000  # nothing applied yet


def test_child_death_changes_special_assistance_for_the_parents(personas: Personas,
                                                                only_child: Any) -> None:
    sa = apply_for(personas, "special-assistance", only_child.mother,
                   policy_status_confirmed=True, child_disability_grade=2)
    assert sa.eligible and sa.amount_fen == 150 * 12 * 100  # disabled, rural
    load(personas.county, death_file([_death_row(only_child.child, "2026-04-20")]))
    e = Effect.objects.get(case=sa)
    assert e.kind == "recalculate" and e.new_amount_fen == 170 * 12 * 100  # died, rural
    assert e.from_date == date(2026, 5, 1)
    # the father has no case: the engine finds him eligible with the facts his wife's
    # case does not give him — no status recorded for him, so no offer is made
    assert not Effect.objects.filter(kind="offer", subject=only_child.father).exists()


def test_child_death_offers_special_assistance_to_a_parent_with_status(
        personas: Personas, only_child: Any) -> None:
    # the father's rural-reward case recorded the family's status (he is 56: not yet eligible)
    apply_for(personas, "rural-reward", only_child.father, policy_status_confirmed=True)
    load(personas.county, death_file([_death_row(only_child.child, "2026-04-20")]))
    offer = Effect.objects.get(kind="offer", subject=only_child.father)
    assert offer.program.code == "special-assistance" and offer.new_amount_fen == 204000


def test_parent_death_before_the_year_stops_rural_reward(personas: Personas) -> None:
    fam = older_family(personas.cadre_a, VILLAGE_A, father_born=date(1960, 1, 5),
                       mother_born=date(1962, 2, 6), child_born=date(1990, 3, 7))
    rr = apply_for(personas, "rural-reward", fam.father, policy_status_confirmed=True)
    wife = apply_for(personas, "rural-reward", fam.mother, policy_status_confirmed=True)
    assert rr.amount_fen == 96000 and wife.amount_fen == 96000
    load(personas.county, death_file([_death_row(fam.father, "2025-11-03")]))
    e = Effect.objects.get(case=rr)
    assert e.kind == "stop" and e.from_date == date(2026, 1, 1) and e.new_amount_fen == 0
    assert "申领年度开始时在世" in e.summary or "在世" in str(e.explanation)
    assert not Effect.objects.filter(case=wife).exists()  # her payment is her own


def test_parent_death_within_the_year_changes_nothing_this_year(personas: Personas) -> None:
    fam = older_family(personas.cadre_a, VILLAGE_A, father_born=date(1960, 1, 5),
                       mother_born=date(1962, 2, 6), child_born=date(1990, 3, 7))
    rr = apply_for(personas, "rural-reward", fam.father, policy_status_confirmed=True)
    load(personas.county, death_file([_death_row(fam.father, "2026-05-03")]))
    assert not Effect.objects.filter(case=rr).exists()  # yearly, living on 1 January
    assert Effect.objects.filter(kind="record", person=fam.father).exists()


def test_move_within_county_proposes_moving_the_case(personas: Personas,
                                                     family_a: Any) -> None:
    case = childcare_case(personas, family_a)
    c = family_a.child
    load(personas.county, csv_bytes(MOVE, [["M1", c.id_number, c.name, "2026-05-01",
                                            "445224110202"]]), kind="move")
    e = Effect.objects.get(kind="move")
    assert e.case == case and e.from_date == date(2026, 5, 1)
    assert e.params["to_code"] == "445224110202" and "本县内迁移" in e.summary
    assert e.new_amount_fen == 360000


def test_move_to_hohhot_changes_the_local_scheme(personas: Personas, family_a: Any) -> None:
    """Both parents and the child move to 呼和浩特: the child's case is re-evaluated there
    (the Hohhot grant applies to births from 2025-03; this child is older: national rate)."""
    case = childcare_case(personas, family_a)
    c = family_a.child
    load(personas.county, csv_bytes(MOVE, [["M2", c.id_number, c.name, "2026-05-01",
                                            "150102001001"]]), kind="move")
    e = Effect.objects.get(kind="move")
    assert e.case == case and "迁出本县" in e.summary
    assert e.explanation["program"] == "childcare-subsidy"


def test_disability_grade_change_recalculates_and_confirm_applies(personas: Personas,
                                                                  only_child: Any) -> None:
    sa = apply_for(personas, "special-assistance", only_child.mother,
                   policy_status_confirmed=True, child_disability_grade=2)
    c = only_child.child
    load(personas.county, csv_bytes(DISABILITY, [["C1", c.id_number, c.name, "CJ9", "4",
                                                  "2026-03-01"]]), kind="disability")
    e = Effect.objects.get(case=sa)
    assert e.kind == "stop" and e.new_amount_fen == 0  # grade 4 is outside 1–3
    apply.confirm(personas.county, [e], note="残联证实")
    sa.refresh_from_db()
    e.refresh_from_db()
    assert sa.state == "stopped" and sa.amount_fen == 0 and sa.stopped_on == date(2026, 4, 1)
    assert sa.facts["child_disability_grade"] == 4  # the certified grade, as the feed gave it
    assert e.status == EffectStatus.CONFIRMED and e.decided_by == personas.county
    ev = AuditEvent.objects.get(action="feed.effect_confirm")
    assert ev.case_id == sa.pk and ev.data["comment"] == "残联证实"
    assert AuditEvent.objects.filter(action="case.stop", case_id=sa.pk).exists()


def test_disability_recalculate_confirm_updates_the_facts(personas: Personas,
                                                          only_child: Any) -> None:
    sa = apply_for(personas, "special-assistance", only_child.mother,
                   policy_status_confirmed=True)
    assert not sa.eligible
    c = only_child.child
    load(personas.county, csv_bytes(DISABILITY, [["C2", c.id_number, c.name, "CJ9", "1",
                                                  "2026-03-01"]]), kind="disability")
    e = Effect.objects.get(case=sa)
    assert e.kind == "recalculate" and e.new_amount_fen == 180000
    apply.confirm(personas.county, [e])
    sa.refresh_from_db()
    assert sa.eligible and sa.amount_fen == 180000 and sa.facts["child_disability_grade"] == 1


def test_dismiss_changes_nothing(personas: Personas, family_a: Any) -> None:
    case = childcare_case(personas, family_a)
    load(personas.county, death_file([_death_row(family_a.child, "2026-03-05")]))
    before = (case.state, case.amount_fen, case.version)
    for e in Effect.objects.all():
        apply.dismiss(personas.county, e, note="死亡证明有误，待核实")
    case.refresh_from_db()
    family_a.child.refresh_from_db()
    assert (case.state, case.amount_fen, case.version) == before
    assert family_a.child.death_date is None
    assert set(Effect.objects.values_list("status", flat=True)) == {"dismissed"}
    assert AuditEvent.objects.filter(action="feed.effect_dismiss").count() == 2
    with pytest.raises(Exception, match="已驳回"):
        apply.confirm(personas.county, list(Effect.objects.all()))


@pytest.mark.parametrize("who", ["cadre_a", "township", "finance", "auditor"])
def test_wrong_role_cannot_confirm_or_dismiss(personas: Personas, family_a: Any,
                                              who: str) -> None:
    from huimin.errors import Forbidden

    case = childcare_case(personas, family_a)
    load(personas.county, death_file([_death_row(family_a.child, "2026-03-05")]))
    e = Effect.objects.get(kind="stop")
    with pytest.raises(Forbidden):
        apply.confirm(getattr(personas, who), [e])
    with pytest.raises(Forbidden):
        apply.dismiss(getattr(personas, who), e)
    case.refresh_from_db()
    assert case.state == "approved" and Effect.objects.get(pk=e.pk).status == "proposed"


def test_outsider_county_cannot_confirm(personas: Personas, family_a: Any) -> None:
    from huimin.errors import Forbidden

    childcare_case(personas, family_a)
    load(personas.county, death_file([_death_row(family_a.child, "2026-03-05")]))
    e = Effect.objects.get(kind="stop")
    assert not apply.effects_for(personas.county_b).exists()
    with pytest.raises(Forbidden):
        apply.confirm(personas.county_b, [e])


def test_bulk_confirm_is_all_or_nothing(personas: Personas, only_child: Any) -> None:
    sa = apply_for(personas, "special-assistance", only_child.mother,
                   policy_status_confirmed=True)
    c = only_child.child
    load(personas.county, csv_bytes(DISABILITY, [["C1", c.id_number, c.name, "CJ9", "1",
                                                  "2026-03-01"]]), kind="disability")
    good = Effect.objects.get(case=sa)
    # a second effect whose case is already stopped: its confirmation fails …
    fam2 = older_family(personas.cadre_a, VILLAGE_A, father_born=date(1969, 1, 5),
                        mother_born=date(1971, 2, 6), child_born=date(2001, 3, 7),
                        surname="许")
    sa2 = apply_for(personas, "special-assistance", fam2.mother,
                    policy_status_confirmed=True, child_disability_grade=2)
    c2 = fam2.child
    load(personas.county, csv_bytes(DISABILITY, [["C2", c2.id_number, c2.name, "CJ8", "4",
                                                  "2026-03-01"]]), kind="disability")
    bad = Effect.objects.get(case=sa2)
    from huimin.cases import actions as case_actions

    case_actions.stop_case(personas.county, sa2, stopped_on=date(2026, 1, 1), reason="测试")
    with pytest.raises(Exception, match="已停发"):
        apply.confirm(personas.county, [good, bad])
    sa.refresh_from_db()
    assert sa.amount_fen == 0 and "child_disability_grade" not in sa.facts
    assert Effect.objects.get(pk=good.pk).status == "proposed"  # … and the first with it
    assert not AuditEvent.objects.filter(action="case.recalculate").exists()


def test_birth_enrols_where_the_program_is_automatic(personas: Personas) -> None:
    """呼和浩特 (hohhot-birth-grant: enrolment automatic): a registered newborn of a local
    parent is proposed for enrolment, and confirming it records the case."""
    from huimin.registry import actions
    from huimin.registry.areas import load_county
    from huimin.rules import load_programs
    from tests.conftest import make_user, new_id
    from tests.web.feeds_helpers import BIRTH

    assert any(d.enrolment == "automatic" for d in load_programs().documents(
        "hohhot-birth-grant"))
    load_county("150102")
    village = "150102001001"
    cadre = make_user("cadre_h", "village_cadre", village)
    county_h = make_user("county_h", "county_approver", "150102000000")
    from huimin.registry.models import Area

    area = Area.objects.get(code=village)
    mother_born, born = date(1995, 5, 5), date(2026, 3, 3)
    mother = actions.create_person(cadre, name="其其格", id_number=new_id(mother_born, "F",
                                                                          "150102"),
                                   sex="F", birth_date=mother_born, area=area,
                                   hukou_type="urban")
    actions.add_bank_account(cadre, mother, bank_name="内蒙古农信",
                             account="6229000011112222333")
    number = new_id(born, "M", "150102")
    baby = actions.create_person(cadre, name="巴特尔", id_number=number, sex="M",
                                 birth_date=born, area=area, hukou_type="urban")
    actions.link_parent(mother, baby, "mother")
    load(county_h, csv_bytes(BIRTH, [["B1", number, "巴特尔", "男", "2026-03-03",
                                      mother.id_number, "", "", "N1"]]), kind="birth")
    e = Effect.objects.get(subject=baby)
    assert e.kind == "enrol" and e.new_amount_fen == 1_000_000
    apply.confirm(county_h, [e])
    case = Case.objects.get(subject=baby)
    assert case.applicant == mother and case.amount_fen == 1_000_000
    assert AuditEvent.objects.filter(action="case.enrol", case_id=case.pk).exists()
    e.refresh_from_db()
    assert e.applied["enrolled_case"] == case.pk


def test_case_effect_refused_once_its_register_change_is_dismissed(personas: Personas,
                                                                  family_a: Any) -> None:
    case = childcare_case(personas, family_a)
    load(personas.county, death_file([_death_row(family_a.child, "2026-03-05")]))
    apply.dismiss(personas.county, Effect.objects.get(kind="record"), note="死亡信息有误")
    with pytest.raises(Exception, match="已驳回，不能据此变更案件"):
        apply.confirm(personas.county, [Effect.objects.get(kind="stop")])
    case.refresh_from_db()
    assert case.state == "approved"
