"""A whole file's effects proposed at once are those proposed one row at a time: the same
effects (kinds, cases, amounts, dates, keys, texts, explanations) and audit events, for
files of deaths and moves of children, parents and couples with cases, disability grades,
and births of children registered or not yet registered."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine
from django.db import transaction

from huimin.audit.models import AuditEvent
from huimin.cases import actions as case_actions
from huimin.programs.models import Program
from huimin.programs.subjects import subject_facts
from huimin.registry.models import Person
from huimin.verification import ingest
from huimin.verification.batch import Batch
from huimin.verification.effects import Change, facts_for
from huimin.verification.models import Effect
from tests.conftest import VILLAGE_A, Personas, new_id
from tests.web.feeds_helpers import (
    BIRTH,
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


class _Undo(Exception):
    pass


def _world(personas: Personas, family_a: Any, family_b: Any) -> dict[str, Any]:
    childcare_case(personas, family_a)
    case_actions.submit_application(
        personas.cadre_b, program=Program.objects.get(code="childcare-subsidy"),
        subject=family_b.child, claim_year=2026, applicant=family_b.mother,
        bank_account=family_b.account)
    only = older_family(personas.cadre_a, VILLAGE_A, father_born=date(1970, 1, 5),
                        mother_born=date(1972, 2, 6), child_born=date(2000, 3, 7))
    apply_for(personas, "special-assistance", only.mother, policy_status_confirmed=True,
              child_disability_grade=2)
    apply_for(personas, "rural-reward", only.father, policy_status_confirmed=True)
    old = older_family(personas.cadre_a, VILLAGE_A, father_born=date(1960, 1, 5),
                       mother_born=date(1962, 2, 6), child_born=date(1990, 3, 7),
                       surname="林")
    apply_for(personas, "rural-reward", old.father, year=2025, policy_status_confirmed=True)
    apply_for(personas, "rural-reward", old.mother, policy_status_confirmed=True)
    from huimin.registry import actions as registry_actions

    born = date(2026, 2, 10)
    baby = registry_actions.create_person(
        personas.cadre_a, name="林小明", id_number=new_id(born, "M"), sex="M", birth_date=born,
        area=family_a.child.area, hukou_type="rural", household=family_a.child.household)
    registry_actions.link_parent(family_a.mother, baby, "mother")
    return {"a": family_a, "b": family_b, "only": only, "old": old, "baby": baby,
            "unborn": new_id(date(2026, 4, 1), "F")}


def _files(w: dict[str, Any]) -> list[tuple[str, bytes]]:
    a, b, only, old = w["a"], w["b"], w["only"], w["old"]

    def d(p: Any, day: str, ev: str) -> list[str]:
        return [ev, p.id_number, p.name, day, "", ""]

    deaths = death_file([
        d(a.child, "2026-03-05", "D1"), d(only.child, "2026-04-20", "D2"),
        d(old.father, "2025-12-03", "D3"), d(old.mother, "2026-05-03", "D4"),
        d(a.child, "2026-03-05", "D5"),  # the same death under another event id
        d(b.mother, "2026-02-01", "D6"), d(a.child, "2026-03-05", "D1"),  # a repeat
        ["D7", "110101199003074514", "无此人", "2026-01-01", "", ""],
    ])
    moves = csv_bytes(MOVE, [
        ["M1", b.child.id_number, b.child.name, "2026-05-01", "445224100201"],
        ["M2", a.father.id_number, a.father.name, "2026-05-01", "150102001001"],
        ["M3", only.mother.id_number, only.mother.name, "2026-04-01", "445224110202"],
    ])
    grades = csv_bytes(DISABILITY, [
        ["G1", only.child.id_number, only.child.name, "C-1", "1", "2026-02-01"]])
    baby = w["baby"]
    births = csv_bytes(BIRTH, [  # registered already; not yet registered (through a parent)
        ["B1", baby.id_number, baby.name, "男", "2026-02-10", a.mother.id_number, "", "", "N1"],
        ["B2", w["unborn"], "钱小花", "女", "2026-04-01", b.mother.id_number,
         b.father.id_number, "", "N2"]])
    return [("death", deaths), ("move", moves), ("disability", grades), ("birth", births)]


def _explained(e: Effect) -> Any:
    """The explanation, but an unregistered child's facts name it by its feed row's id,
    which differs between two loads on PostgreSQL (a sequence does not roll back)."""
    facts = (e.explanation or {}).get("facts") or {}
    if str(facts.get("person_id", "")).startswith("birth-"):
        assert e.row is not None and facts["person_id"] == f"birth-{e.row.pk}"
        return {**e.explanation, "facts": {**facts, "person_id": "birth-<row>"}}
    return e.explanation


def _outcome() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    effects = [(e.row.file.kind if e.row else "", e.row.row_number if e.row else None,
                e.kind, e.key, e.case_id, e.person_id, e.subject_id, e.program_id,
                e.claim_year, e.from_date, e.old_months, e.new_months, e.old_amount_fen,
                e.new_amount_fen, e.summary, _explained(e), e.params, e.area_code, e.status)
               for e in Effect.objects.select_related("row__file").order_by("id")]
    events = [(a.action, a.person_id, a.case_id, a.area_code,
               {k: v for k, v in a.data.items() if k != "name"})
              for a in AuditEvent.objects.filter(action__startswith="feed.").order_by("id")]
    return effects, events


def _load_all(personas: Personas, w: dict[str, Any]) -> tuple[Any, list[int]]:
    counts = [load(personas.county, data, kind=kind).effects for kind, data in _files(w)]
    return _outcome(), counts


def test_a_file_at_once_proposes_what_row_by_row_does(personas: Personas, family_a: Any,
                                                     family_b: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    w = _world(personas, family_a, family_b)
    before = Effect.objects.count()
    monkeypatch.setattr(ingest, "BATCHED", False)
    with pytest.raises(_Undo), transaction.atomic():
        one_by_one, counts_one = _load_all(personas, w)
        raise _Undo
    assert Effect.objects.count() == before == 0
    monkeypatch.setattr(ingest, "BATCHED", True)
    at_once, counts_all = _load_all(personas, w)
    kinds = {e[2] for e in one_by_one[0]}
    # varied enough to mean something: records, stops, recalculations, moves, offers
    assert {"record", "stop", "recalculate", "move", "offer"} <= kinds
    offers = [(e[1], e[6]) for e in one_by_one[0] if e[0] == "birth"]
    assert offers == [(2, w["baby"].pk), (3, None)]  # file rows; the second has no subject yet
    assert counts_all == counts_one and sum(counts_all) == len(one_by_one[0]) >= 8
    assert at_once[0] == one_by_one[0]
    assert at_once[1] == one_by_one[1]
    # the same files again (the same events) change nothing
    assert [load(personas.county, data, kind=kind).effects
            for kind, data in _files(w)] == [0, 0, 0, 0]
    assert Effect.objects.count() == len(at_once[0])


def test_facts_on_the_loaded_register_are_the_registers(personas: Personas, family_a: Any,
                                                       family_b: Any) -> None:
    w = _world(personas, family_a, family_b)
    people = list(Person.objects.select_related("area").order_by("id"))
    change = Change(deaths={w["only"].child.pk: date(2026, 4, 20)},
                    moves={w["a"].father.pk: "150102001001"},
                    grades={w["only"].child.pk: 1})
    expected = [subject_facts(p, claim_date=date(2026, 6, 1), case_facts={"x": 1})
                for p in people]
    expected_change = [facts_for(p, change, claim_on=None, case_facts={}) for p in people]
    with Batch() as batch:
        batch.load(people[:3], 2025)
        got = [batch.subject_facts(p, claim_date=date(2026, 6, 1), case_facts={"x": 1})
               for p in people]
        got_change = [facts_for(p, change, claim_on=None, case_facts={}) for p in people]
    assert got == expected and got_change == expected_change
    assert any("spouse_birth_date" in f for f in got) and any("birth_order" in f for f in got)
