"""Confirming a death from a feed, end to end: the register, the case, the payments (held
when not yet sent, recoverable when paid), reconciliation balanced; nothing half-applied;
register changes made through change requests get their effects too."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine

from huimin.audit.models import AuditEvent
from huimin.errors import Conflict
from huimin.payments.models import Entitlement, Recovery
from huimin.registry import actions as registry_actions
from huimin.verification import apply
from huimin.verification.models import Effect, EffectStatus
from tests.conftest import Personas
from tests.web.feeds_helpers import (
    MOVE,
    NOW,
    balanced,
    childcare_case,
    csv_bytes,
    death_file,
    load,
    pay,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def _death(p: Any, died: str = "2026-03-05") -> bytes:
    return death_file([["D1", p.id_number, p.name, died, "惠来县民政局", "SW9"]])



def test_death_of_a_paid_child_stops_and_opens_a_recovery(personas: Personas,
                                                           family_a: Any) -> None:
    case = childcare_case(personas, family_a)
    batch = pay(personas)
    case.refresh_from_db()
    assert case.state == "paid"
    balanced(batch.cycle)
    load(personas.county, _death(family_a.child))
    stop = Effect.objects.get(kind="stop")
    steps = apply.preview([stop])
    assert steps[0].recover_fen == 270000 and "应追回 2,700.00 元" in steps[0].what
    apply.confirm(personas.county, [stop])  # the death itself is confirmed with it
    family_a.child.refresh_from_db()
    assert family_a.child.death_date == date(2026, 3, 5)
    death = AuditEvent.objects.get(action="person.death", person_id=family_a.child.pk)
    assert death.data.get("via") == "feed" or "feed" in str(death.data)
    case.refresh_from_db()
    assert (case.state, case.months, case.amount_fen) == ("stopped", 3, 90000)
    assert case.stopped_on == date(2026, 4, 1)
    rec = Recovery.objects.get(case=case)
    assert rec.amount_fen == 270000 and rec.event_ref == f"feed-effect:{stop.pk}"
    assert rec.period_start == date(2026, 4, 1) and rec.period_end == date(2026, 12, 31)
    assert Effect.objects.get(kind="record").status == EffectStatus.CONFIRMED
    stop.refresh_from_db()
    assert stop.applied["recovery"] == rec.pk
    # the stopped case's new amount plus what is recoverable is what was frozen and paid
    balanced(batch.cycle)
    # the same event again from another file changes nothing
    again = load(personas.county, _death(family_a.child))
    assert again.file.duplicates == 1 and again.effects == 0


def test_death_before_payment_holds_the_entitlement(personas: Personas,
                                                    family_a: Any) -> None:
    from huimin.payments import actions as pay_actions
    from huimin.programs.models import Program

    case = childcare_case(personas, family_a)
    cycle = pay_actions.build_cycle(personas.finance,
                                    program=Program.objects.get(code="childcare-subsidy"),
                                    claim_year=2026)
    load(personas.county, _death(family_a.child, "2025-12-20"))
    stop = Effect.objects.get(kind="stop")
    assert stop.new_amount_fen == 0 and stop.from_date == date(2026, 1, 1)
    apply.confirm(personas.county, list(Effect.objects.filter(status="proposed")))
    ent = Entitlement.objects.get(case=case)
    assert ent.status == "held" and ent.held_reason == "died"
    case.refresh_from_db()
    assert case.state == "stopped" and not Recovery.objects.exists()
    stop.refresh_from_db()
    assert stop.applied["held"] == 1
    balanced(cycle)


def test_nothing_half_applied_when_the_case_is_at_the_bank(personas: Personas,
                                                          family_a: Any) -> None:
    from huimin.payments import actions as pay_actions
    from huimin.programs.models import Program

    case = childcare_case(personas, family_a)
    cycle = pay_actions.build_cycle(personas.finance,
                                    program=Program.objects.get(code="childcare-subsidy"),
                                    claim_year=2026)
    batch = pay_actions.create_batch(personas.finance, cycle)
    pay_actions.release_batch(personas.county, batch)
    pay_actions.export_batch(personas.finance, batch)
    load(personas.county, _death(family_a.child))
    with pytest.raises(Conflict, match="发放中"):
        apply.confirm(personas.county, list(Effect.objects.all()))
    family_a.child.refresh_from_db()
    case.refresh_from_db()
    assert family_a.child.death_date is None  # the register step rolled back with it
    assert case.state == "in_payment"
    assert set(Effect.objects.values_list("status", flat=True)) == {"proposed"}
    assert not AuditEvent.objects.filter(action__in=["person.death", "case.stop",
                                                     "feed.effect_confirm"]).exists()


def test_move_in_county_confirmed_moves_person_and_case(personas: Personas,
                                                        family_a: Any) -> None:
    case = childcare_case(personas, family_a)
    c = family_a.child
    load(personas.county, csv_bytes(MOVE, [["M1", c.id_number, c.name, "2026-05-01",
                                            "445224110202"]]), kind="move")
    apply.confirm(personas.county, [Effect.objects.get(kind="move")])
    c.refresh_from_db()
    case.refresh_from_db()
    assert c.area.code == "445224110202" and case.area.code == "445224110202"
    assert case.state == "approved" and case.amount_fen == 360000
    assert AuditEvent.objects.filter(action="person.move", person_id=c.pk).exists()


def test_change_request_death_gets_its_effects_proposed(personas: Personas,
                                                        family_a: Any) -> None:
    case = childcare_case(personas, family_a)
    registry_actions.record_death(personas.township, family_a.child,
                                  death_date=date(2026, 3, 5), source="村委会证明",
                                  via="change_request")
    e = Effect.objects.get()
    assert e.origin == "change_request" and e.case == case and e.kind == "stop"
    assert e.new_months == 3 and e.row is None
    # the feed's own application is not proposed twice
    load(personas.county, _death(family_a.child))
    assert Effect.objects.count() == 1


def test_feed_applied_death_does_not_propose_again(personas: Personas, family_a: Any) -> None:
    childcare_case(personas, family_a)
    load(personas.county, _death(family_a.child))
    before = Effect.objects.count()
    apply.confirm(personas.county, [Effect.objects.get(kind="record")])
    assert Effect.objects.count() == before
