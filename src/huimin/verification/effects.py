"""Effects proposed for an event: every case whose eligibility depends on it is evaluated
again by the rules engine (``huimin.programs.entitlement``, the one place that decides) on
the register as it will be once the event is recorded; where the result differs from the
case, an effect is proposed. Births of children with no application become offers (免申即享)
or, where a program enrols automatically, an enrolment.

Nothing here changes a case or the register: a person confirms (``apply``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from huimin.audit.events import record
from huimin.cases.models import Case
from huimin.cases.states import State
from huimin.errors import ActionError
from huimin.lib.money import format_yuan
from huimin.programs import entitlement
from huimin.programs.models import Program
from huimin.programs.subjects import CASE_FACTS, hukou_code, subject_facts
from huimin.registry.models import Person
from huimin.rules import ProgramNotFound
from huimin.verification import batch as _batch
from huimin.verification.models import Effect, EffectKind, FeedRow, Kind

#: cases an event can no longer change
CLOSED_STATES = (State.REJECTED, State.STOPPED, State.TRANSFERRED)


@dataclass
class Change:
    """The register as it will be: deaths and moves not yet recorded, a disability grade."""

    deaths: dict[int, date] = field(default_factory=dict)
    moves: dict[int, str] = field(default_factory=dict)
    grades: dict[int, int | None] = field(default_factory=dict)  # child id → grade


def first_of_next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def claim_date(case: Case) -> date:
    recorded = (case.explanation or {}).get("facts", {}).get("claim_date")
    if isinstance(recorded, str) and recorded:
        try:
            return date.fromisoformat(recorded[:10])
        except ValueError:
            pass
    return timezone.localtime(case.created_at).date()


def facts_for(subject: Person, change: Change, *, claim_on: date | None,
              case_facts: dict[str, Any] | None) -> dict[str, Any]:
    """The registry view of ``subject`` with ``change`` applied (``subjects.subject_facts``
    on the register as it will be)."""
    kept = dict(case_facts or {})
    batch = _batch.active()
    if batch is not None:
        return _facts_in_batch(batch, subject, change, claim_on, kept)
    links = list(subject.child_links.exclude(relation="guardian").select_related("child"))
    for link in links:
        if link.child_id in change.grades:
            grade = change.grades[link.child_id]
            if grade is None:
                kept.pop("child_disability_grade", None)
            else:
                kept["child_disability_grade"] = grade
    facts = subject_facts(subject, claim_date=claim_on, case_facts=kept)
    if "child_disability_grade" not in kept:
        facts.pop("child_disability_grade", None)
    if subject.pk in change.deaths:
        facts["death_date"] = change.deaths[subject.pk]
    if subject.pk in change.moves:
        facts["hukou_area_code"] = change.moves[subject.pk]
    parents = [link for link in subject.parent_links.select_related("parent__area")
               .order_by("id") if link.relation != "guardian"]
    codes = [change.moves.get(link.parent_id, hukou_code(link.parent)) for link in parents]
    if codes:
        facts["parent1_hukou_area_code"] = codes[0]
        facts["parent2_hukou_area_code"] = codes[1] if len(codes) > 1 else None
    if links:
        facts["living_children_count"] = sum(
            1 for link in links
            if link.child.death_date is None and link.child_id not in change.deaths)
    return facts


def _facts_in_batch(batch: _batch.Batch, subject: Person, change: Change,
                    claim_on: date | None, kept: dict[str, Any]) -> dict[str, Any]:
    """``facts_for`` on the register loaded by the batch."""
    links = [lk for lk in batch.child_links(subject.pk) if lk.relation != "guardian"]
    for link in links:
        if link.child_id in change.grades:
            grade = change.grades[link.child_id]
            if grade is None:
                kept.pop("child_disability_grade", None)
            else:
                kept["child_disability_grade"] = grade
    facts = batch.subject_facts(subject, claim_date=claim_on, case_facts=kept)
    if "child_disability_grade" not in kept:
        facts.pop("child_disability_grade", None)
    if subject.pk in change.deaths:
        facts["death_date"] = change.deaths[subject.pk]
    if subject.pk in change.moves:
        facts["hukou_area_code"] = change.moves[subject.pk]
    parents = [lk for lk in batch.parent_links(subject.pk) if lk.relation != "guardian"]
    codes = [change.moves.get(lk.parent_id, hukou_code(batch.person(lk.parent_id)))
             for lk in parents]
    if codes:
        facts["parent1_hukou_area_code"] = codes[0]
        facts["parent2_hukou_area_code"] = codes[1] if len(codes) > 1 else None
    if links:
        facts["living_children_count"] = sum(
            1 for link in links
            if batch.person(link.child_id).death_date is None
            and link.child_id not in change.deaths)
    return facts


def _evaluate(program_code: str, facts: dict[str, Any], claim_year: int, today: date
              ) -> entitlement.Entitlement | None:
    try:
        return entitlement.evaluate_mapping(program_code, facts, claim_year, today)
    except ActionError:
        return None  # no rules for the area (e.g. moved abroad of every scheme)


def _summary(ent: entitlement.Entitlement | None) -> str:
    if ent is None:
        return "迁入地无适用规则"
    if ent.eligible:
        return ent.breakdown
    return "不符合条件：" + "；".join(c.detail or c.label for c in ent.failing)


def _create(key: str, **fields: Any) -> int:
    """One effect, unless the same one was proposed already (the same event again, from a
    feed or a change request); its event's signature is kept in ``params``."""
    batch = _batch.active()
    if batch is None and Effect.objects.filter(key=key[:200]).exists():
        return 0
    signature = key.split(":record")[0].split(":" + str(fields["kind"]))[0]
    fields["params"] = {**(fields.get("params") or {}), "signature": signature}
    if batch is not None:  # written (unless proposed before) when the file is done
        return batch.collect(key[:200], fields)
    effect = Effect.objects.create(key=key[:200], **fields)
    # in the household's file (一户一档) from the moment it is proposed
    record(None, "feed.effect_propose", effect, person_id=effect.subject_id or effect.person_id,
           case_id=effect.case_id, area_code=effect.area_code, kind=effect.kind,
           summary=effect.summary, origin=effect.origin)
    return 1


def _case_effect(case: Case, kind: str, ent: entitlement.Entitlement | None, *,
                 signature: str, event_kind: str, person: Person, row: FeedRow | None,
                 origin: str, from_date: date | None, why: str, params: dict[str, Any]) -> int:
    new_months = ent.months if ent else 0
    new_amount = ent.amount_fen if ent else 0
    text = (f"{why}：{case.program.name} {case.claim_year} 年度 {format_yuan(case.amount_fen)}"
            f" → {format_yuan(new_amount)}（{_summary(ent)}）")
    return _create(f"{signature}:{kind}:case{case.pk}", row=row, origin=origin,
                   event_kind=event_kind, person=person, case=case, subject=case.subject,
                   program=case.program, claim_year=case.claim_year, kind=kind,
                   from_date=from_date, old_months=case.months, new_months=new_months,
                   old_amount_fen=case.amount_fen, new_amount_fen=new_amount,
                   summary=text[:300], explanation=ent.to_dict() if ent else {},
                   params=params, area_code=case.area.code)


def _open_cases(person_ids: set[int], since_year: int) -> list[Case]:
    batch = _batch.active()
    loaded = batch.cases_of(person_ids, since_year) if batch is not None else None
    if loaded is not None:
        return loaded
    return list(Case.objects.filter(subject_id__in=person_ids, claim_year__gte=since_year)
                .exclude(state__in=CLOSED_STATES)
                .select_related("program", "subject__area", "area").order_by("id"))


def _related(person: Person) -> set[int]:
    """The person, their parents and their children: whose facts a change of theirs enters."""
    ids = {person.pk}
    batch = _batch.active()
    if batch is not None:
        ids |= {lk.parent_id for lk in batch.parent_links(person.pk)}
        ids |= {lk.child_id for lk in batch.child_links(person.pk)}
        return ids
    ids |= set(person.parent_links.values_list("parent_id", flat=True))
    ids |= set(person.child_links.values_list("child_id", flat=True))
    return ids


def _out_of_county(person: Person, change: Change) -> bool:
    to_code = change.moves.get(person.pk)
    return to_code is not None and not to_code.startswith(person.area.code[:6])


def effect_kind(ent: entitlement.Entitlement | None, *, own: bool, event_kind: str,
                out_of_county: bool) -> str:
    """What a changed result asks for. The rules engine decides where it can: an amount
    that changes is recalculated, a death or a disability grade that ends the entitlement
    stops the case. Where the outcome is not yet certain, payments wait instead:

    - no rules apply to the case any more (the area has none): suspended (暂停发放) until
      the county settles it;
    - another member of the family (a parent, a child) moved out of the county and the
      engine finds the case no longer eligible: suspended until the receiving county
      confirms where the family lives (the others often follow);
    - another member moved within the county and the engine finds the case no longer
      eligible: re-verification (重新核实资格) by the village of where the family lives.
    """
    if ent is None:
        return EffectKind.SUSPEND
    if ent.eligible and not (own and event_kind == Kind.DEATH):
        return EffectKind.RECALCULATE
    if event_kind == Kind.MOVE and not own:
        return EffectKind.SUSPEND if out_of_county else EffectKind.REVERIFY
    return EffectKind.STOP


def _reevaluate(person: Person, change: Change, *, signature: str, event_kind: str,
                row: FeedRow | None, origin: str, on: date, why: str,
                params: dict[str, Any], since_year: int, own_move: bool = True) -> int:
    today = timezone.localdate()
    made = 0
    for case in _open_cases(_related(person), since_year):
        facts = facts_for(case.subject, change, claim_on=claim_date(case),
                          case_facts=dict(case.facts or {}))
        ent = _evaluate(case.program.code, facts, case.claim_year, today)
        own = case.subject_id == person.pk
        start = max(first_of_next_month(on), date(case.claim_year, 1, 1))
        if own and event_kind == Kind.MOVE and own_move:
            made += _case_effect(case, EffectKind.MOVE, ent, signature=signature,
                                 event_kind=event_kind, person=person, row=row, origin=origin,
                                 from_date=on, why=why, params=params)
            continue
        changed = ent is None or (ent.eligible, ent.months, ent.amount_fen) != (
            case.eligible, case.months, case.amount_fen)
        if not changed:
            continue
        kind = effect_kind(ent, own=own, event_kind=event_kind,
                           out_of_county=_out_of_county(person, change))
        made += _case_effect(case, kind, ent, signature=signature, event_kind=event_kind,
                             person=person, row=row, origin=origin, from_date=start, why=why,
                             params=params)
    return made


def _record_effect(person: Person, *, signature: str, event_kind: str, row: FeedRow | None,
                   origin: str, on: date, text: str, params: dict[str, Any]) -> int:
    return _create(f"{signature}:record", row=row, origin=origin, event_kind=event_kind,
                   person=person, kind=EffectKind.RECORD, from_date=on, summary=text[:300],
                   params=params, area_code=person.area.code)


def propose_death(person: Person, died: date, *, row: FeedRow | None = None,
                  origin: str = "feed", source: str = "", certificate: str = "") -> int:
    signature = f"death:{person.pk}:{died.isoformat()}"
    params = {"death_date": died.isoformat(), "source": source, "certificate": certificate}
    made = 0
    if person.death_date is None:
        made += _record_effect(person, signature=signature, event_kind=Kind.DEATH, row=row,
                               origin=origin, on=died, params=params,
                               text=f"登记 {person.name} 于 {died.isoformat()} 死亡")
    made += _reevaluate(person, Change(deaths={person.pk: died}), signature=signature,
                        event_kind=Kind.DEATH, row=row, origin=origin, on=died,
                        why=f"{person.name} 于 {died.isoformat()} 死亡", params=params,
                        since_year=died.year - 1)
    made += _offers_for_parents(person, Change(deaths={person.pk: died}), signature=signature,
                                event_kind=Kind.DEATH, row=row, origin=origin,
                                why=f"子女 {person.name} 死亡，现无存活子女")
    return made


def propose_move(person: Person, to_code: str, moved_on: date, *, row: FeedRow | None = None,
                 origin: str = "feed", applied: bool = False) -> int:
    """A move to ``to_code``; ``applied``: the register has it already (a change request),
    so only the amounts that change are proposed."""
    if person.area.code == to_code and not applied:
        return 0
    signature = f"move:{person.pk}:{to_code}:{moved_on.isoformat()}"
    params = {"to_code": to_code, "moved_on": moved_on.isoformat()}
    inside = to_code.startswith(person.area.code[:6])
    where = "本县内迁移" if inside else "迁出本县"
    made = 0
    if not applied:
        made += _record_effect(person, signature=signature, event_kind=Kind.MOVE, row=row,
                               origin=origin, on=moved_on, params=params,
                               text=f"{person.name} 于 {moved_on.isoformat()} {where}至 {to_code}")
    made += _reevaluate(person, Change(moves={person.pk: to_code}), signature=signature,
                        event_kind=Kind.MOVE, row=row, origin=origin, on=moved_on,
                        why=f"{person.name} {where}（{to_code}）", params=params,
                        since_year=moved_on.year, own_move=not applied)
    return made


def propose_disability(person: Person, grade: int, on: date, revoked: bool, *,
                       row: FeedRow | None = None, origin: str = "feed") -> int:
    signature = f"disability:{person.pk}:{grade}:{on.isoformat()}:{int(revoked)}"
    change = Change(grades={person.pk: None if revoked else grade})
    why = (f"子女 {person.name} 残疾人证注销" if revoked
           else f"子女 {person.name} 残疾等级为 {grade} 级")
    params = {"child_id": person.pk, "grade": None if revoked else grade, "on": on.isoformat()}
    made = _reevaluate(person, change, signature=signature, event_kind=Kind.DISABILITY,
                       row=row, origin=origin, on=on, why=why, params=params,
                       since_year=on.year)
    if not revoked:
        made += _offers_for_parents(person, change, signature=signature,
                                    event_kind=Kind.DISABILITY, row=row, origin=origin,
                                    why=why, params=params)
    return made


def _couple_programs() -> list[Program]:
    batch = _batch.active()
    if batch is not None:
        if "couple_programs" not in batch.memo:
            batch.memo["couple_programs"] = _find_couple_programs()
        return list(batch.memo["couple_programs"])
    return _find_couple_programs()


def _find_couple_programs() -> list[Program]:
    today = timezone.localdate()
    out = []
    for program in Program.objects.filter(active=True).order_by("code"):
        try:
            rules = entitlement.catalog().resolve(program.code, area_code="", on=today)
        except ProgramNotFound:  # a program with no national document
            continue
        if rules.main.subject == "couple":
            out.append(program)
    return out


def _parents(child: Person) -> list[Person]:
    batch = _batch.active()
    if batch is not None:
        return [batch.person(lk.parent_id) for lk in batch.parent_links(child.pk)
                if lk.relation != "guardian"]
    return [link.parent for link in child.parent_links.exclude(relation="guardian")
            .select_related("parent__area").order_by("id")]


def _offers_for_parents(child: Person, change: Change, *, signature: str, event_kind: str,
                        row: FeedRow | None, origin: str, why: str,
                        params: dict[str, Any] | None = None) -> int:
    """Parents with no case of a couple program the change makes them eligible for: an
    offer, with the status facts their other cases recorded (never assumed)."""
    today = timezone.localdate()
    made = 0
    programs: list[Program] | None = None
    batch = _batch.active()
    for parent in _parents(child):
        recorded: dict[str, Any] = {}
        earlier = batch.recorded_facts(parent.pk) if batch is not None else None
        if earlier is None:
            earlier = list(Case.objects.filter(subject=parent).exclude(facts={})
                           .order_by("created_at", "id").values_list("facts", flat=True))
        for facts in earlier:
            recorded.update({k: v for k, v in facts.items() if k in CASE_FACTS})
        if not recorded.get("policy_status_confirmed"):
            continue  # the couple programs need the status a case recorded: never assumed
        if programs is None:
            programs = _couple_programs()
        for program in programs:
            has = (batch.has_case(program.pk, parent.pk, today.year)
                   if batch is not None else None)
            if has is None:
                has = Case.objects.filter(program=program, subject=parent,
                                          claim_year=today.year).exists()
            if has:
                continue
            facts = facts_for(parent, change, claim_on=today, case_facts=recorded)
            ent = _evaluate(program.code, facts, today.year, today)
            if ent is None or not ent.eligible:
                continue
            made += _create(
                f"{signature}:offer:p{parent.pk}:{program.code}:{today.year}", row=row,
                origin=origin, event_kind=event_kind, person=child, subject=parent,
                program=program, claim_year=today.year, kind=EffectKind.OFFER,
                from_date=today, new_months=ent.months, new_amount_fen=ent.amount_fen,
                summary=f"{why}：{parent.name} 符合{program.name}条件尚未申请（"
                        f"{ent.breakdown}）"[:300],
                explanation=ent.to_dict(), params=params or {}, area_code=parent.area.code)
    return made


def _child_programs(area_code: str, on: date) -> list[tuple[Program, Any]]:
    out = []
    for program in Program.objects.filter(active=True).order_by("code"):
        try:
            rules = entitlement.catalog().resolve(program.code, area_code=area_code, on=on)
        except ProgramNotFound:  # not offered there
            continue
        if rules.main.subject == "child":
            out.append((program, rules))
    return out


def propose_birth(row: FeedRow, person: Person, values: dict[str, Any],
                  parents: list[Person], *, child_registered: bool) -> int:
    """A birth: for each child program with no application, an offer on the village's
    免申即享 list where the rules engine finds the child eligible, or an enrolment where the
    program enrols automatically. ``person`` is the child if registered, else a parent."""
    today = timezone.localdate()
    born = date.fromisoformat(values["birth_date"])
    child = person if child_registered else None
    if child is not None:
        base = subject_facts(child, claim_date=today)
        area = child.area
    else:
        area = person.area
        codes = [p.area.code for p in parents]
        siblings = set()
        for p in parents:
            siblings |= set(p.child_links.exclude(relation="guardian")
                            .filter(child__birth_date__lt=born)
                            .values_list("child_id", flat=True))
        base = {"person_id": f"birth-{row.pk}", "birth_date": born, "death_date": None,
                "hukou_area_code": area.code, "hukou_type": person.hukou_type,
                "sex": values["sex"], "claim_date": today, "birth_order": len(siblings) + 1,
                "parent1_hukou_area_code": codes[0] if codes else None,
                "parent2_hukou_area_code": codes[1] if len(codes) > 1 else None,
                "children_count": 0, "daughters_count": 0, "living_children_count": 0}
    made = 0
    for program, rules in _child_programs(area.code, today):
        automatic = any(c.doc.enrolment == "automatic" for c in rules.components)
        for year in sorted({born.year, today.year}):
            if child is not None and Case.objects.filter(program=program, subject=child,
                                                         claim_year=year).exists():
                continue
            ent = _evaluate(program.code, {**base, "claim_date": today}, year, today)
            if ent is None or not ent.eligible:
                continue
            kind = EffectKind.ENROL if automatic and child is not None else EffectKind.OFFER
            who = child.name if child else f"新生儿 {row.name}（尚未登记）"
            made += _create(
                f"birth:{row.id_hash[:24]}:{kind}:{program.code}:{year}", row=row,
                origin="feed", event_kind=Kind.BIRTH, person=person, subject=child,
                program=program, claim_year=year, kind=kind, from_date=born,
                new_months=ent.months, new_amount_fen=ent.amount_fen,
                summary=(f"{who} 符合{program.name} {year} 年度条件，"
                         f"{'自动纳入' if kind == EffectKind.ENROL else '尚未申请'}"
                         f"（{ent.breakdown}）")[:300],
                explanation=ent.to_dict(),
                params={"parents": [p.pk for p in parents], "registered": child is not None},
                area_code=area.code)
    return made


def propose_for_row(row: FeedRow, person: Person, parsed: Any, hashes: dict[str, str],
                    persons: dict[str, Person]) -> int:
    values = parsed.values
    if row.kind == Kind.DEATH:
        from huimin.verification.models import Source

        org = values.get("source_org", "")
        source = f"{Source(row.source).label}比对数据" + (f"（{org}）" if org else "")
        return propose_death(person, parsed.event_date, row=row, source=source[:100],
                             certificate=values.get("certificate_no", ""))
    if row.kind == Kind.MOVE:
        return propose_move(person, values["to_code"], parsed.event_date, row=row)
    if row.kind == Kind.DISABILITY:
        revoked = bool(values.get("revoked_on"))
        return propose_disability(person, int(values["grade"]), parsed.event_date, revoked,
                                  row=row)
    if row.kind == Kind.BIRTH:
        child_registered = persons.get(hashes[parsed.number]) is not None
        parents = [] if child_registered else [
            p for c in ("mother_id_number", "father_id_number")
            if c in values and (p := persons.get(hashes[values[c]])) is not None]
        return propose_birth(row, person, values, parents,
                             child_registered=child_registered)
    return 0
