"""Proposing the effects of a whole file at once: the same decisions as one row at a time
(``effects.propose_*`` run unchanged, row by row, in order), with what they read loaded
beforehand in a few queries and what they write collected and written in bulk.

While a :class:`Batch` is active (``with Batch(persons) as batch``):

- the family links, open cases and case facts of the file's persons, their parents and
  children come from memory (loaded once, see :meth:`Batch.load`); a person not loaded is
  read from the database as before;
- ``effects._create`` collects each effect (the first of a key wins, as before); ``flush``
  drops those whose key was proposed already (one query), writes the rest at once and their
  audit events at once (``huimin.bulk.insert``: ``COPY`` on PostgreSQL).

Nothing here decides anything: the rules engine is asked exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from huimin import bulk
from huimin.audit.events import event
from huimin.cases.models import Case
from huimin.registry.models import ParentChild, Person

CHUNK = 5000

_ACTIVE: ContextVar[Batch | None] = ContextVar("huimin_feed_batch", default=None)


def active() -> Batch | None:
    return _ACTIVE.get()


def _chunks(values: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass
class Link:
    id: int
    parent_id: int
    child_id: int
    relation: str


@dataclass
class Batch:
    persons: dict[int, Person] = field(default_factory=dict)
    # links by child (its parents) and by parent (its children), each ordered by id
    parents_of: dict[int, list[Link]] = field(default_factory=dict)
    children_of: dict[int, list[Link]] = field(default_factory=dict)
    # whose parents / children are loaded completely
    loaded_up: set[int] = field(default_factory=set)
    loaded_down: set[int] = field(default_factory=set)
    open_cases: dict[int, list[Case]] = field(default_factory=dict)
    cases_loaded: set[int] = field(default_factory=set)
    case_facts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    case_keys: set[tuple[int, int, int]] = field(default_factory=set)
    memo: dict[str, Any] = field(default_factory=dict)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    since_year: int = 0
    _token: Any = None

    def __enter__(self) -> Batch:
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.reset(self._token)

    # ---- loading --------------------------------------------------------------------

    def _add_persons(self, ids: Iterable[int]) -> None:
        missing = [i for i in ids if i not in self.persons]
        for chunk in _chunks(missing):
            for p in Person.objects.select_related("area").filter(pk__in=chunk):
                self.persons[p.pk] = p

    def _links(self, *, parents_of: Iterable[int] = (), children_of: Iterable[int] = ()
               ) -> None:
        up = list(dict.fromkeys(i for i in parents_of if i not in self.loaded_up))
        down = list(dict.fromkeys(i for i in children_of if i not in self.loaded_down))
        up_set, down_set = set(up), set(down)
        seen: dict[int, Link] = {}
        for chunk in _chunks(up):
            for row in ParentChild.objects.filter(child_id__in=chunk).values_list(
                    "id", "parent_id", "child_id", "relation"):
                seen[row[0]] = Link(*row)
        for chunk in _chunks(down):
            for row in ParentChild.objects.filter(parent_id__in=chunk).values_list(
                    "id", "parent_id", "child_id", "relation"):
                seen[row[0]] = Link(*row)
        for i in up:
            self.parents_of[i] = []
        for i in down:
            self.children_of[i] = []
        for link in sorted(seen.values(), key=lambda lk: lk.id):
            if link.child_id in up_set:
                self.parents_of[link.child_id].append(link)
            if link.parent_id in down_set:
                self.children_of[link.parent_id].append(link)
        self.loaded_up.update(up)
        self.loaded_down.update(down)

    def load(self, people: Iterable[Person], since_year: int) -> None:
        """The file's persons; their parents and children (whose cases an event enters);
        the family of every open case's subject (what the rules read of it)."""
        for p in people:
            self.persons.setdefault(p.pk, p)
        first = list(self.persons)
        self._links(parents_of=first, children_of=first)
        related = set(first)
        for i in first:
            related |= {lk.parent_id for lk in self.parents_of[i]}
            related |= {lk.child_id for lk in self.children_of[i]}
        self.since_year = since_year
        for chunk in _chunks(related):
            for case in (Case.objects.filter(subject_id__in=chunk, claim_year__gte=since_year)
                         .exclude(state__in=_closed())
                         .select_related("program", "subject__area", "area").order_by("id")):
                self.open_cases.setdefault(case.subject_id, []).append(case)
                self.persons.setdefault(case.subject_id, case.subject)
        self.cases_loaded |= related
        # the cases' subjects: their parents and children, those parents' children (a child's
        # birth order), those children's other parents (a parent's spouse)
        subjects = set(self.open_cases)
        self._links(parents_of=subjects, children_of=subjects)
        parents = {lk.parent_id for i in subjects for lk in self.parents_of[i]}
        kids = {lk.child_id for i in subjects for lk in self.children_of[i]}
        self._links(children_of=parents, parents_of=kids)
        # the parents an offer may go to: the status facts their cases recorded
        offer_parents = {lk.parent_id for i in first for lk in self.parents_of[i]
                         if lk.relation != "guardian"}
        wanted = set(related) | subjects | parents | kids | offer_parents
        wanted |= {lk.child_id for i in parents for lk in self.children_of[i]}
        wanted |= {lk.parent_id for i in kids for lk in self.parents_of[i]}
        self._add_persons(wanted)
        for chunk in _chunks(offer_parents):
            for subject_id, program_id, year, facts in (
                    Case.objects.filter(subject_id__in=chunk).order_by("created_at", "id")
                    .values_list("subject_id", "program_id", "claim_year", "facts")):
                self.case_keys.add((program_id, subject_id, year))
                if facts:
                    self.case_facts.setdefault(subject_id, []).append(facts)
        self.memo["offer_parents"] = offer_parents

    # ---- reading (with a fall-back to the database) ----------------------------------

    def person(self, pk: int) -> Person:
        if pk not in self.persons:
            self._add_persons([pk])
        return self.persons[pk]

    def parent_links(self, pk: int) -> list[Link]:
        if pk not in self.loaded_up:
            self._links(parents_of=[pk])
        return self.parents_of[pk]

    def child_links(self, pk: int) -> list[Link]:
        if pk not in self.loaded_down:
            self._links(children_of=[pk])
        return self.children_of[pk]

    def cases_of(self, ids: set[int], since_year: int) -> list[Case] | None:
        """The open cases of ``ids`` from ``since_year``, or None when not all are loaded."""
        if since_year < self.since_year or not ids <= self.cases_loaded:
            return None
        out = [c for i in ids for c in self.open_cases.get(i, []) if c.claim_year >= since_year]
        return sorted(out, key=lambda c: c.pk)

    def recorded_facts(self, pk: int) -> list[dict[str, Any]] | None:
        if pk not in self.memo.get("offer_parents", ()):
            return None
        return self.case_facts.get(pk, [])

    def has_case(self, program_id: int, subject_id: int, year: int) -> bool | None:
        if subject_id not in self.memo.get("offer_parents", ()):
            return None
        return (program_id, subject_id, year) in self.case_keys

    # ---- facts (``programs.subjects.subject_facts`` on the loaded register) -----------

    def subject_facts(self, subject: Person, *, claim_date: date | None,
                      case_facts: dict[str, Any]) -> dict[str, Any]:
        from huimin.programs.subjects import CASE_FACTS, hukou_code

        facts: dict[str, Any] = {
            "person_id": str(subject.pk), "birth_date": subject.birth_date,
            "death_date": subject.death_date, "hukou_area_code": subject.area.code,
            "hukou_type": subject.hukou_type, "sex": subject.sex, "claim_date": claim_date,
        }
        parents = self.parent_links(subject.pk)
        if parents:
            codes = [hukou_code(self.person(lk.parent_id)) for lk in parents
                     if lk.relation != "guardian"]
            facts["parent1_hukou_area_code"] = codes[0] if codes else None
            facts["parent2_hukou_area_code"] = codes[1] if len(codes) > 1 else None
            siblings = {c.child_id for lk in parents for c in self.child_links(lk.parent_id)}
            facts["birth_order"] = 1 + sum(
                1 for s in siblings if self.person(s).birth_date < subject.birth_date)
        links = [lk for lk in self.child_links(subject.pk) if lk.relation != "guardian"]
        if links:
            children = [self.person(lk.child_id) for lk in links]
            facts["children_count"] = len(children)
            facts["daughters_count"] = sum(1 for c in children if c.sex == "F")
            facts["living_children_count"] = sum(1 for c in children if c.death_date is None)
            others = sorted((o for lk in links for o in self.parent_links(lk.child_id)
                             if o.parent_id != subject.pk and o.relation != "guardian"),
                            key=lambda o: o.id)
            facts["spouse_birth_date"] = (self.person(others[0].parent_id).birth_date
                                          if others else None)
        else:
            facts["children_count"] = 0
            facts["daughters_count"] = 0
            facts["living_children_count"] = 0
        for key in CASE_FACTS:
            if case_facts and case_facts.get(key) not in (None, ""):
                facts[key] = case_facts[key]
        return facts

    # ---- writing --------------------------------------------------------------------

    def collect(self, key: str, fields: dict[str, Any]) -> int:
        if key in self.pending:
            return 0
        self.pending[key] = fields
        return 1

    def flush(self) -> int:
        """Write the collected effects not proposed before, with their audit events."""
        from huimin.verification.models import Effect

        keys = list(self.pending)
        existing: set[str] = set()
        for chunk in _chunks(keys):
            existing.update(Effect.objects.filter(key__in=chunk).values_list("key", flat=True))
        new = [Effect(key=k, **self.pending[k]) for k in keys if k not in existing]
        self.pending = {}
        made = bulk.insert(new)
        bulk.insert([
            event(None, "feed.effect_propose", e, person_id=e.subject_id or e.person_id,
                  case_id=e.case_id, area_code=e.area_code, kind=e.kind, summary=e.summary,
                  origin=e.origin) for e in made])
        return len(made)


def _closed() -> tuple[str, ...]:
    from huimin.verification.effects import CLOSED_STATES

    return CLOSED_STATES
