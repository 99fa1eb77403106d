"""Refusals of the adjudication queue and of a move, each leaving everything as it was."""

from __future__ import annotations

from datetime import timedelta

import pytest

from huimin.audit.models import AuditEvent
from huimin.errors import ActionError, Conflict
from huimin.identity import actions
from huimin.identity.models import CandidatePair, PairStatus, PersonMerge
from huimin.registry import actions as registry_actions
from huimin.registry.models import Area, Person
from tests.conftest import VILLAGE_A, Family, Personas
from tests.web.identity_helpers import duplicate_of, queued_pair, scored_row

pytestmark = pytest.mark.django_db


def _untouched(pair: CandidatePair, events: int) -> None:
    pair.refresh_from_db()
    assert pair.status == PairStatus.OPEN and pair.decided_by is None
    assert AuditEvent.objects.count() == events and not PersonMerge.objects.exists()


def test_a_decision_batch_is_refused_whole_naming_the_pair(personas: Personas,
                                                           family_a: Family) -> None:
    pair = queued_pair(personas.county, family_a.child,
                       duplicate_of(personas.cadre_a, family_a.child))
    events = AuditEvent.objects.count()
    with pytest.raises(ActionError, match="没有选择任何疑似重复对"):
        actions.decide(personas.county, [])
    with pytest.raises(ActionError, match=f"{pair.number}：裁决应为 同一人、不同的人"):
        actions.decide(personas.county, [actions.Decision(pair.pk, "maybe", reason="x")])
    with pytest.raises(ActionError, match=f"{pair.number}：请选择保留哪一条记录"):
        actions.decide(personas.county,
                       [actions.Decision(pair.pk, "same", keep="c", reason="证件一致")])
    _untouched(pair, events)


def test_a_pair_whose_records_changed_since_scoring_must_be_scored_again(
        personas: Personas, family_a: Family) -> None:
    """A change the change hook did not see (a bulk load writes the register directly) makes
    the score stale: deciding on it is refused until the pair is scored again."""
    dup = duplicate_of(personas.cadre_a, family_a.child)
    pair = queued_pair(personas.county, family_a.child, dup)
    Person.objects.filter(pk=dup.pk).update(name="林小贝")
    events = AuditEvent.objects.count()
    with pytest.raises(Conflict, match=f"{pair.number}：两条记录的数据在评分后已变更"):
        actions.decide(personas.county, [actions.Decision(pair.pk, "different", reason="")])
    _untouched(pair, events)


def test_a_scored_pair_with_a_record_gone_is_not_queued(personas: Personas,
                                                        family_a: Family) -> None:
    """The register moved on between scoring and queueing (a record merged away or rolled
    back): that row is passed over, the others are queued."""
    dup = duplicate_of(personas.cadre_a, family_a.child)
    gone = scored_row(family_a.father, dup)
    gone["person_id_a"] = Person.objects.order_by("-pk").values_list("pk", flat=True)[0] + 1000
    result = actions.queue_pairs(personas.county, [gone, scored_row(family_a.child, dup)],
                                 scope="county")
    assert result.new == 1
    assert list(CandidatePair.objects.values_list("person_b", flat=True)) == [dup.pk]


def test_a_move_to_a_village_of_the_county_not_in_this_register_is_refused(
        personas: Personas, family_a: Family) -> None:
    """A village the national division list knows but this deployment's areas do not (loaded
    before it was created): named, and the person stays where they were."""
    from huimin.cases.actions import local_today

    village = (Area.objects.filter(code__startswith=VILLAGE_A[:6], level="village")
               .exclude(code=VILLAGE_A).exclude(person__isnull=False)
               .exclude(users__isnull=False).order_by("code").first())
    assert village is not None
    code = village.code
    village.delete()
    with pytest.raises(ActionError, match=f"迁往区划代码：{code} 未在本县区划中登记"):
        registry_actions.move_person(personas.cadre_a, family_a.mother, to_code=code,
                                     moved_on=local_today() - timedelta(days=1))
    family_a.mother.refresh_from_db()
    assert family_a.mother.area.code == VILLAGE_A and family_a.mother.moved_out_on is None
