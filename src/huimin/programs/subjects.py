"""The subject mapping a program rule reads, built from the registry in one place.

The columns are those of ``huimin.rules.columns``: the subject's own dates, registration and
sex; for a child, its birth order and its parents' registration; for a parent (the couple
programs), the spouse's birth date and the couple's children. The spouse is the other parent
of the subject's children. Facts that the registry does not hold and the program needs
(status under the former policy, the certified disability grade of the only child) are case
facts recorded with the application.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from huimin.registry.models import ParentChild, Person

CASE_FACTS = ("policy_status_confirmed", "child_disability_grade")


def hukou_code(person: Person) -> str:
    """Where a person's household is registered: once they moved out of the county, the
    destination (the register keeps the village they left in ``area``)."""
    return registered_code(person.area.code, person.moved_out_on, person.moved_to_code)


def registered_code(area_code: str, moved_out_on: date | None, moved_to_code: str) -> str:
    return moved_to_code if moved_out_on is not None and moved_to_code else area_code


def _spouse(person: Person, links: list[ParentChild]) -> Person | None:
    child_ids = [link.child_id for link in links]
    if not child_ids:
        return None
    other = (ParentChild.objects.filter(child_id__in=child_ids)
             .exclude(parent=person).exclude(relation="guardian")
             .select_related("parent").order_by("id").first())
    return other.parent if other is not None else None


def subject_facts(subject: Person, *, claim_date: date | None = None,
                  case_facts: Mapping[str, object] | None = None) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "person_id": str(subject.pk),
        "birth_date": subject.birth_date,
        "death_date": subject.death_date,
        "hukou_area_code": subject.area.code,
        "hukou_type": subject.hukou_type,
        "sex": subject.sex,
        "claim_date": claim_date,
    }
    parents = list(subject.parent_links.select_related("parent__area").order_by("id"))
    if parents:
        codes = [hukou_code(link.parent) for link in parents if link.relation != "guardian"]
        facts["parent1_hukou_area_code"] = codes[0] if codes else None
        facts["parent2_hukou_area_code"] = codes[1] if len(codes) > 1 else None
        # the children of any of the parents born before the subject, in one query
        siblings = ParentChild.objects.filter(
            parent_id__in=[link.parent_id for link in parents]).values("child_id")
        born_before = Person.objects.filter(pk__in=siblings, birth_date__lt=subject.birth_date)
        facts["birth_order"] = born_before.count() + 1
    links = list(subject.child_links.exclude(relation="guardian").select_related("child"))
    if links:
        children = [link.child for link in links]
        facts["children_count"] = len(children)
        facts["daughters_count"] = sum(1 for c in children if c.sex == "F")
        facts["living_children_count"] = sum(1 for c in children if c.death_date is None)
        spouse = _spouse(subject, links)
        facts["spouse_birth_date"] = spouse.birth_date if spouse is not None else None
    else:
        facts["children_count"] = 0
        facts["daughters_count"] = 0
        facts["living_children_count"] = 0
    for key in CASE_FACTS:
        if case_facts and case_facts.get(key) not in (None, ""):
            facts[key] = case_facts[key]
    return facts
