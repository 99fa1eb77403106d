"""Merging a duplicate person into the kept record (the adjudication's "same person").

Cases (as subject and as applicant; their payments and history go with them), bank accounts
and parent–child links move to the kept record through their own models, in one transaction
with an audit event (a link the kept record has already is removed, so no rule counts a
child twice; the merge record keeps it). The dropped record stays (its sealed ID number and
its history — change requests, hand-overs, feed rows, audit events — stay readable under it)
and an ``identity.PersonMerge`` row says where it went and what moved: nothing is lost. It
leaves the register: ``Person.merged_into`` names the kept record, and lists, intake, change
requests, duplicate scoring and register snapshots pass it by, while a feed row that names
its ID number is matched to the kept record.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from huimin.accounts.access import get_person_for_user, require_role
from huimin.accounts.models import Role
from huimin.audit.events import record
from huimin.errors import ActionError, Conflict

MERGE_ROLES = (Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER)


def merged_message(person: Any) -> str:
    """Why a merged record takes no new case or change: where to go instead."""
    return (f"{person.name} 的这条记录已并入人员 {person.merged_into_id}（同一人的重复记录），"
            "请在保留的记录上办理")


def merge_persons(actor: Any, keep: Any, drop: Any, *, reason: str,
                  decision: Any = None) -> Any:
    """Move everything of ``drop`` to ``keep``; return the ``PersonMerge`` record.

    Refused (nothing changes): another role (403), a record outside the actor's areas (404),
    the same record twice, no reason, a record already merged, or both records with a case of
    the same programme and year (one of them must be ended first: that is a double payment).
    """
    from huimin.cases.models import Case
    from huimin.identity.models import PersonMerge
    from huimin.registry.models import BankAccount, ParentChild, Person

    require_role(actor, MERGE_ROLES)
    keep = get_person_for_user(actor, keep.pk)
    drop = get_person_for_user(actor, drop.pk)
    if keep.pk == drop.pk:
        raise ActionError("保留记录与并入记录是同一条记录")
    reason = (reason or "").strip()
    if not reason:
        raise ActionError("理由：请填写合并的理由")
    with transaction.atomic():
        locked = {p.pk: p for p in Person.objects.select_for_update().filter(
            pk__in=[keep.pk, drop.pk]).order_by("pk")}
        keep, drop = locked[keep.pk], locked[drop.pk]
        merged = PersonMerge.objects.filter(drop__in=[keep.pk, drop.pk]).first()
        if merged is not None:
            raise Conflict(f"人员 {merged.drop_id} 已于此前并入人员 {merged.keep_id}，不能再合并")
        both = set(Case.objects.filter(subject=keep).values_list("program_id", "claim_year"))
        clash = next((c for c in Case.objects.filter(subject=drop).order_by("pk")
                      if (c.program_id, c.claim_year) in both), None)
        if clash is not None:
            raise Conflict(f"两条记录在同一项目同一年度都有案件（{clash.number}）："
                           "请先终止其中一件，再合并")
        moved: dict[str, list[Any]] = {
            "cases": list(Case.objects.filter(subject=drop).values_list("pk", flat=True)),
            "applications": list(Case.objects.filter(applicant=drop)
                                 .values_list("pk", flat=True)),
            "bank_accounts": list(BankAccount.objects.filter(person=drop)
                                  .values_list("pk", flat=True)),
            "parent_links": [], "child_links": [], "links_already_on_kept": []}
        Case.objects.filter(subject=drop).update(subject=keep)
        Case.objects.filter(applicant=drop).update(applicant=keep)
        BankAccount.objects.filter(person=drop).update(person=keep)
        for link in ParentChild.objects.filter(child=drop):
            if link.parent_id == keep.pk or ParentChild.objects.filter(
                    parent_id=link.parent_id, child=keep).exists():
                _drop_link(link, moved)
                continue
            ParentChild.objects.filter(pk=link.pk).update(child=keep)
            moved["parent_links"].append(link.pk)
        for link in ParentChild.objects.filter(parent=drop):
            if link.child_id == keep.pk or ParentChild.objects.filter(
                    parent=keep, child_id=link.child_id).exists():
                _drop_link(link, moved)
                continue
            ParentChild.objects.filter(pk=link.pk).update(parent=keep)
            moved["child_links"].append(link.pk)
        # the dropped record leaves the register; records merged into it earlier follow it
        moved["earlier_merges"] = list(Person.objects.filter(merged_into=drop)
                                       .values_list("pk", flat=True))
        Person.objects.filter(merged_into=drop).update(merged_into=keep)
        Person.objects.filter(pk=drop.pk).update(merged_into=keep)
        drop.merged_into = keep
        merge = PersonMerge.objects.create(keep=keep, drop=drop, pair=decision, reason=reason,
                                           moved=moved, actor=actor)
        for person, role in ((keep, "keep"), (drop, "drop")):
            record(actor, "person.merge", merge, person_id=person.pk,
                   area_code=person.area.code, role=role, keep=keep.pk, drop=drop.pk,
                   reason=reason, moved=moved,
                   pair=getattr(decision, "pk", None))
    return merge


def _drop_link(link: Any, moved: dict[str, list[Any]]) -> None:
    """A link of the dropped record that the kept record already has (the same parent or
    child): removed, so that no rule counts the child twice, and kept in the merge record."""
    moved["links_already_on_kept"].append({"id": link.pk, "parent": link.parent_id,
                                           "child": link.child_id, "relation": link.relation})
    link.delete()
