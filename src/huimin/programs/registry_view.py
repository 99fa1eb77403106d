"""The registry view the rules read, for many persons at once (a handful of queries).

``subjects.subject_facts`` builds the same mapping for one person; this builds it for a whole
area for set-based work (what-if). Case facts (status under the former policy, the only
child's disability grade) are taken from each person's most recent case that recorded them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

from django.db.models import QuerySet

from huimin.cases.models import Case
from huimin.programs.subjects import CASE_FACTS, registered_code
from huimin.registry.models import ParentChild, Person


def registry_rows(persons: QuerySet[Person]) -> list[dict[str, Any]]:
    people = {p["id"]: p for p in persons.values(
        "id", "birth_date", "death_date", "area__code", "hukou_type", "sex")}
    ids = list(people)
    real = ParentChild.objects.exclude(relation="guardian")
    links = cast(list[dict[str, Any]], list(
        real.filter(child_id__in=ids).order_by("id")
        .values("parent_id", "child_id", "parent__area__code", "parent__moved_out_on",
                "parent__moved_to_code")))
    own = cast(list[dict[str, Any]], list(
        real.filter(parent_id__in=ids)
        .values("parent_id", "child_id", "child__sex", "child__death_date", "child__birth_date")))
    parents_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for link in links:
        parents_of[link["child_id"]].append(link)
    children_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    co_parents: dict[int, set[int]] = defaultdict(set)
    all_parent_links = ParentChild.objects.filter(
        child_id__in={o["child_id"] for o in own} | set(ids)).exclude(relation="guardian")
    links_of_child: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for link_id, par, child in all_parent_links.values_list("id", "parent_id", "child_id"):
        links_of_child[child].append((link_id, par))
    for o in own:
        children_of[o["parent_id"]].append(o)
    spouse_of: dict[int, int] = {}
    for pid, kids in children_of.items():
        kid_ids = {k["child_id"] for k in kids}
        # as subjects.py: the first other parent link (by id) of any of the person's children
        others = [link for kid in kid_ids for link in links_of_child[kid] if link[1] != pid]
        if others:
            spouse_of[pid] = min(others)[1]
            co_parents[pid].add(spouse_of[pid])
    births = dict(Person.objects.filter(
        pk__in={p for ps in co_parents.values() for p in ps}).values_list("id", "birth_date"))
    sibling_births: dict[int, list[Any]] = defaultdict(list)
    for par, child, born in ParentChild.objects.filter(
            parent_id__in={link["parent_id"] for link in links}).exclude(relation="guardian") \
            .values_list("parent_id", "child_id", "child__birth_date"):
        sibling_births[par].append((child, born))
    facts: dict[int, dict[str, Any]] = defaultdict(dict)
    for subject_id, recorded in (Case.objects.filter(subject_id__in=ids).exclude(facts={})
                                 .order_by("created_at", "id").values_list("subject_id",
                                                                          "facts")):
        facts[subject_id].update({k: v for k, v in recorded.items() if k in CASE_FACTS})

    rows = []
    for pid, p in people.items():
        row: dict[str, Any] = {
            "person_id": str(pid), "birth_date": p["birth_date"], "death_date": p["death_date"],
            "hukou_area_code": p["area__code"], "hukou_type": p["hukou_type"], "sex": p["sex"],
            "claim_date": None, "children_count": 0, "daughters_count": 0,
            "living_children_count": 0,
        }
        parents = parents_of.get(pid, [])
        if parents:
            codes = [registered_code(link["parent__area__code"], link["parent__moved_out_on"],
                                     link["parent__moved_to_code"]) for link in parents]
            row["parent1_hukou_area_code"] = codes[0]
            row["parent2_hukou_area_code"] = codes[1] if len(codes) > 1 else None
            siblings = {c for link in parents for c in sibling_births[link["parent_id"]]}
            row["birth_order"] = 1 + sum(1 for _, born in siblings if born < p["birth_date"])
        kids = children_of.get(pid, [])
        if kids:
            row["children_count"] = len(kids)
            row["daughters_count"] = sum(1 for k in kids if k["child__sex"] == "F")
            row["living_children_count"] = sum(1 for k in kids if k["child__death_date"] is None)
            spouse = spouse_of.get(pid)
            row["spouse_birth_date"] = births.get(spouse) if spouse else None
        row.update(facts.get(pid, {}))
        rows.append(row)
    return rows
