"""Effects that make payments wait rather than stop: suspension (暂停发放) where the outcome
is not yet certain and re-verification (重新核实资格); the rules engine decides where it can.
Confirming one suspends the case and holds what was not yet sent; resuming releases it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine

from huimin.audit.models import AuditEvent
from huimin.cases import actions as case_actions
from huimin.payments import actions as pay_actions
from huimin.payments.models import Entitlement
from huimin.programs import entitlement
from huimin.programs.models import Program
from huimin.verification import apply, effects
from huimin.verification.effects import Change, facts_for
from huimin.verification.models import Effect, EffectKind, Kind
from tests.conftest import Personas
from tests.web.feeds_helpers import NOW, childcare_case

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def _results(case: Any) -> tuple[Any, Any]:
    facts = facts_for(case.subject, Change(), claim_on=None, case_facts=dict(case.facts or {}))
    eligible = entitlement.evaluate_mapping(case.program.code, facts, 2026, NOW.date())
    too_old = {**facts, "birth_date": "2010-01-01"}
    ineligible = entitlement.evaluate_mapping(case.program.code, too_old, 2026, NOW.date())
    assert eligible.eligible and not ineligible.eligible
    return eligible, ineligible


def test_the_engine_decides_where_it_can(personas: Personas, family_a: Any) -> None:
    case = childcare_case(personas, family_a)
    ok, no = _results(case)
    kind = effects.effect_kind
    assert kind(ok, own=False, event_kind=Kind.MOVE, out_of_county=True) == "recalculate"
    assert kind(ok, own=True, event_kind=Kind.DEATH, out_of_county=False) == "stop"
    assert kind(no, own=False, event_kind=Kind.DEATH, out_of_county=False) == "stop"
    assert kind(no, own=False, event_kind=Kind.DISABILITY, out_of_county=False) == "stop"
    # uncertain: a relative moved out (the receiving county confirms) or within the county
    assert kind(no, own=False, event_kind=Kind.MOVE, out_of_county=True) == "suspend"
    assert kind(no, own=False, event_kind=Kind.MOVE, out_of_county=False) == "reverify"
    # no rules apply any more: payments wait until the county settles it
    assert kind(None, own=False, event_kind=Kind.MOVE, out_of_county=True) == "suspend"
    assert kind(None, own=True, event_kind=Kind.DEATH, out_of_county=False) == "suspend"


def _propose(case: Any, kind: str, ent: Any, to_code: str) -> Effect:
    father = case.applicant.parent_links.model.objects.filter(
        child=case.subject, relation="father").first()
    person = father.parent if father else case.applicant
    made = effects._case_effect(
        case, kind, ent, signature=f"move:{person.pk}:{to_code}:2026-05-01",
        event_kind=Kind.MOVE, person=person, row=None, origin="feed",
        from_date=date(2026, 6, 1), why=f"{person.name} 迁出本县（{to_code}）",
        params={"to_code": to_code, "moved_on": "2026-05-01"})
    assert made == 1
    return Effect.objects.get(kind=kind, case=case)


@pytest.mark.parametrize("kind", [EffectKind.SUSPEND, EffectKind.REVERIFY])
def test_confirming_suspends_holds_and_resume_releases(personas: Personas, family_a: Any,
                                                       kind: str) -> None:
    case = childcare_case(personas, family_a)
    pay_actions.build_cycle(personas.finance, program=Program.objects.get(
        code="childcare-subsidy"), claim_year=2026)
    _, no = _results(case)
    e = _propose(case, kind, no, "150102001001")
    step = apply.preview([e])[0]
    assert EffectKind(kind).label in step.what and "未发放的款项暂停发放" in step.what
    [done] = apply.confirm(personas.county, [e], note="待迁入地确认")
    case.refresh_from_db()
    assert case.state == "suspended" and case.stop_reason.startswith(e.summary[:20])
    assert done.applied["held"] == 1
    ent = Entitlement.objects.get(case=case)
    assert ent.status == "held" and ent.held_reason == "suspended"
    assert AuditEvent.objects.filter(action="case.suspend", case_id=case.pk).count() == 1
    assert AuditEvent.objects.filter(action="feed.effect_confirm", case_id=case.pk,
                                     data__kind=kind).exists()
    case_actions.resume_case(personas.county, case, reason="迁入地确认未迁，恢复发放")
    case.refresh_from_db()
    ent.refresh_from_db()
    assert case.state == "approved" and ent.status == "payable"


def test_wrong_role_cannot_confirm_a_suspension(personas: Personas, family_a: Any) -> None:
    case = childcare_case(personas, family_a)
    _, no = _results(case)
    e = _propose(case, EffectKind.SUSPEND, no, "150102001001")
    with pytest.raises(Exception, match="只有县级审批员"):
        apply.confirm(personas.township, [e])
    case.refresh_from_db()
    e.refresh_from_db()
    assert case.state == "approved" and e.status == "proposed"
    assert not AuditEvent.objects.filter(action="case.suspend").exists()
