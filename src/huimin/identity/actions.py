"""The adjudication queue: scored pairs in, decisions out (all of a batch or none), flags
cleared when the data that raised them changes. Every change here is audited."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from huimin.accounts.access import _get, area_q, require_role
from huimin.accounts.models import Role
from huimin.audit.events import actor_area_code, record
from huimin.errors import ActionError, Conflict
from huimin.identity.models import (
    PENDING,
    CandidatePair,
    DecisionBatch,
    DuplicateClaim,
    PairStatus,
)

REVIEW_ROLES = (Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER)
DECISIONS = {"same": PairStatus.SAME, "different": PairStatus.DIFFERENT,
             "field_check": PairStatus.FIELD_CHECK}


def pairs_for(user: Any) -> QuerySet[CandidatePair]:
    """Pairs whose two records both lie in the user's areas: a township sees the pairs within
    it, the county those across its townships; nobody sees a pair half outside their area."""
    return CandidatePair.objects.filter(
        area_q(user, "person_a__area__code") & area_q(user, "person_b__area__code")
    ).select_related("person_a__area", "person_b__area")


def get_pair_for_user(user: Any, pk: object) -> CandidatePair:
    require_role(user, REVIEW_ROLES)
    return _get(pairs_for(user), pk)


def claims_for(user: Any) -> QuerySet[DuplicateClaim]:
    return DuplicateClaim.objects.filter(area_q(user, "person__area__code"))


def person_print(person: Any) -> str:
    """What the model compared of one record (a change of any of it is a change of data)."""
    parts = [person.name, person.id_hash, person.birth_date.isoformat(), person.sex,
             person.area.code]
    return "|".join(parts)


def fingerprint(a: Any, b: Any) -> str:
    return hashlib.sha256(f"{person_print(a)}#{person_print(b)}".encode()).hexdigest()


@dataclass
class QueueResult:
    new: int = 0
    rescored: int = 0
    reopened: int = 0
    kept_decided: int = 0
    cleared: int = 0

    def summary(self) -> str:
        return (f"新增疑似重复 {self.new} 对，重新评分 {self.rescored} 对，数据变更后重新提出 "
                f"{self.reopened} 对，已裁决且数据未变 {self.kept_decided} 对（不再提出），"
                f"因数据变更撤销 {self.cleared} 对")


def queue_pairs(actor: Any, rows: Iterable[dict[str, Any]], *, scope: str) -> QueueResult:
    """Put scored pairs into the queue. A pair already decided is proposed again only when
    either record's compared data changed since; an open one is rescored."""
    from huimin.identity.match.model import LEVELS
    from huimin.registry.models import Person

    result = QueueResult()
    rows = list(rows)
    ids = {r["person_id_a"] for r in rows} | {r["person_id_b"] for r in rows}
    persons = Person.objects.select_related("area").in_bulk(ids)
    with transaction.atomic():
        for r in rows:
            a, b = persons.get(r["person_id_a"]), persons.get(r["person_id_b"])
            if a is None or b is None or a.merged_into_id or b.merged_into_id:
                continue  # gone, or merged meanwhile: no longer a register record
            comps = [{"comparison": c, "level": r[f"{c}_level"], "weight": r[f"{c}_weight"]}
                     for c in LEVELS]
            fp = fingerprint(a, b)
            pair = CandidatePair.objects.select_for_update().filter(person_a=a,
                                                                    person_b=b).first()
            fields = {"match_probability": float(r["match_probability"]), "comparisons": comps,
                      "model_version": r["model_version"], "fingerprint": fp}
            if pair is None:
                pair = CandidatePair.objects.create(person_a=a, person_b=b, scope=scope,
                                                    **fields)
                result.new += 1
                record(actor, "identity.pair_found", pair, person_id=a.pk,
                       area_code=a.area.code, pair=pair.pk, b=b.pk,
                       p=round(pair.match_probability, 4), scope=scope)
                continue
            if pair.status in PENDING:
                result.rescored += 1
            elif pair.fingerprint == fp:
                result.kept_decided += 1
                continue
            else:
                result.reopened += 1
                fields.update(status=PairStatus.OPEN, decided_by=None, decided_at=None,
                              decision_reason="", batch=None)
                record(actor, "identity.pair_reopened", pair, person_id=a.pk,
                       area_code=a.area.code, pair=pair.pk, was=pair.status)
            for k, v in fields.items():
                setattr(pair, k, v)
            pair.save()
    return result


def clear_stale(actor: Any, persons: Sequence[Any]) -> int:
    """Clear the pending flags whose data changed (a record corrected, moved, merged): the
    flag no longer describes the records. Returns how many were cleared."""
    from huimin.registry.models import Person

    pks = [p.pk for p in persons]
    n = 0
    with transaction.atomic():
        for pair in CandidatePair.objects.select_for_update().filter(
                Q(person_a__in=pks) | Q(person_b__in=pks), status__in=PENDING):
            a = Person.objects.select_related("area").get(pk=pair.person_a_id)
            b = Person.objects.select_related("area").get(pk=pair.person_b_id)
            if fingerprint(a, b) == pair.fingerprint:
                continue
            pair.status = PairStatus.CLEARED
            pair.save(update_fields=["status", "rescored_at"])
            record(actor, "identity.pair_cleared", pair, person_id=a.pk,
                   area_code=a.area.code, pair=pair.pk, reason="data_changed")
            n += 1
        for claim in DuplicateClaim.objects.select_for_update().filter(
                person__in=pks, status__in=PENDING):
            p = Person.objects.select_related("area").get(pk=claim.person_id)
            if hashlib.sha256(person_print(p).encode()).hexdigest() == claim.fingerprint:
                continue
            # the snapshot was matched on the old data: the next claims run decides again;
            # a payment the claim held stays held until released (it may be, now)
            claim.status = PairStatus.CLEARED
            claim.save(update_fields=["status"])
            record(actor, "identity.claim_cleared", claim, person_id=p.pk,
                   area_code=p.area.code, claim=claim.pk, reason="data_changed")
            n += 1
    return n


@dataclass
class Decision:
    pair_id: int
    decision: str  # same | different | field_check
    keep: str = "a"  # for "same": which record is kept, a or b
    reason: str = ""


def decide(actor: Any, decisions: Sequence[Decision]) -> DecisionBatch:
    """Apply a batch of decisions: all of them, or — at the first refusal — none (the message
    names the pair and the reason)."""
    from huimin.registry.merge import merge_persons

    require_role(actor, REVIEW_ROLES)
    if not decisions:
        raise ActionError("没有选择任何疑似重复对")
    with transaction.atomic():
        batch = DecisionBatch.objects.create(actor=actor, size=len(decisions))
        now = timezone.now()
        for d in decisions:
            pair = _get(pairs_for(actor).select_for_update(of=("self",)), d.pair_id)
            label = pair.number
            if d.decision not in DECISIONS:
                raise ActionError(f"{label}：裁决应为 同一人、不同的人 或 需实地核查")
            if pair.status not in PENDING:
                raise Conflict(f"{label}：已裁决（{pair.get_status_display()}），不能再裁决")
            if fingerprint(pair.person_a, pair.person_b) != pair.fingerprint:
                raise Conflict(f"{label}：两条记录的数据在评分后已变更，请重新查重后再裁决")
            reason = d.reason.strip()
            if d.decision in ("same", "field_check") and not reason:
                raise ActionError(f"{label}：请填写理由（核对了哪些证件或材料）")
            pair.status = DECISIONS[d.decision]
            pair.decided_by, pair.decided_at, pair.decision_reason = actor, now, reason
            pair.batch = batch
            pair.save()
            if d.decision == "same":
                if d.keep not in ("a", "b"):
                    raise ActionError(f"{label}：请选择保留哪一条记录")
                keep, drop = ((pair.person_a, pair.person_b) if d.keep == "a"
                              else (pair.person_b, pair.person_a))
                try:
                    merge_persons(actor, keep, drop, reason=reason, decision=pair)
                except ActionError as exc:
                    raise type(exc)(f"{label}：{exc.message}") from None
                _clear_merged(actor, drop, pair)
            record(actor, "identity.pair_decided", pair, person_id=pair.person_a_id,
                   area_code=pair.person_a.area.code, pair=pair.pk, b=pair.person_b_id,
                   decision=d.decision, keep=d.keep if d.decision == "same" else "",
                   reason=reason, batch=batch.pk)
        record(actor, "identity.batch_decided", batch, area_code=actor_area_code(actor),
               size=len(decisions), pairs=[d.pair_id for d in decisions])
    return batch


def _clear_merged(actor: Any, drop: Any, decided: CandidatePair) -> None:
    """The dropped record's other pending pairs no longer describe a register record."""
    for other in CandidatePair.objects.select_for_update().filter(
            Q(person_a=drop) | Q(person_b=drop), status__in=PENDING).exclude(pk=decided.pk):
        other.status = PairStatus.CLEARED
        other.save(update_fields=["status", "rescored_at"])
        record(actor, "identity.pair_cleared", other, person_id=drop.pk,
               area_code=drop.area.code, pair=other.pk, reason="merged",
               merged_by_pair=decided.pk)


def open_duplicate_claim(case: Any) -> bool:
    """Whether the case's subject has a duplicate claim still waiting for a decision: the
    payment of such a case is to be held back (reason: 疑似重复申领)."""
    return DuplicateClaim.objects.filter(person_id=case.subject_id, status__in=PENDING).exists()


# ----------------------------------------------------------------------- duplicate claims

#: who decides a duplicate claim: the county (a claim spans counties or programs)
CLAIM_ROLES = (Role.COUNTY_APPROVER,)
CLAIM_DECISIONS = {"duplicate": PairStatus.SAME, "not_duplicate": PairStatus.DIFFERENT,
                   "field_check": PairStatus.FIELD_CHECK}
#: a claim's statuses in the claim's own words (PairStatus speaks of pairs of records)
CLAIM_STATUS_LABELS = {PairStatus.OPEN: "待裁定", PairStatus.FIELD_CHECK: "需实地核查",
                       PairStatus.SAME: "确属重复申领", PairStatus.DIFFERENT: "核实无重复",
                       PairStatus.CLEARED: "数据已变更，提示撤销"}


def hold_for_claim(actor: Any, claim: DuplicateClaim) -> int:
    """Hold the payment of the claimed person's cases that waits for a batch (a frozen
    entitlement not yet at a bank): freezing holds it back by itself from now on, this is
    for what was frozen before the claim was found. Returns how many were held."""
    from huimin.cases.models import Case
    from huimin.payments.holds import hold_case
    from huimin.payments.models import EntitlementStatus, HeldReason

    held = 0
    why = f"疑似重复申领：{claim.get_kind_display()}（{'、'.join(claim.counties)}）"
    for case in Case.objects.filter(subject_id=claim.person_id,
                                    entitlement__status=EntitlementStatus.PAYABLE):
        held += hold_case(actor, case, held_reason=HeldReason.DUPLICATE, reason=why,
                          from_date=timezone.localdate())
    return held


@transaction.atomic
def decide_claim(actor: Any, claim_id: object, decision: str, reason: str) -> DuplicateClaim:
    """Decide a duplicate claim. 核实无重复 releases the payments it held back; 确属重复申领
    keeps them held (the case is then stopped through its own action, with its letter);
    需实地核查 keeps the claim open. Audited with the decision and the reason."""
    from huimin.cases.models import Case
    from huimin.payments.holds import release_case
    from huimin.payments.models import EntitlementStatus, HeldReason

    require_role(actor, CLAIM_ROLES)
    claim = _get(claims_for(actor).select_for_update(of=("self",)), claim_id)
    label = f"疑似重复申领 {claim.pk}"
    if decision not in CLAIM_DECISIONS:
        raise ActionError(f"{label}：裁决应为 确属重复申领、核实无重复 或 需实地核查")
    if claim.status not in PENDING:
        raise Conflict(f"{label}：已裁定（{CLAIM_STATUS_LABELS[PairStatus(claim.status)]}），"
                       "不能再裁定")
    reason = (reason or "").strip()
    if not reason:
        raise ActionError(f"{label}：请填写理由（核对了哪些材料、与哪个县核实）")
    claim.status = CLAIM_DECISIONS[decision]
    claim.decided_by, claim.decided_at, claim.decision_reason = actor, timezone.now(), reason
    claim.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    released = 0
    if decision == "not_duplicate":
        for case in Case.objects.filter(subject_id=claim.person_id,
                                        entitlement__status=EntitlementStatus.HELD,
                                        entitlement__held_reason=HeldReason.DUPLICATE):
            released += release_case(actor, case, reason=f"疑似重复申领核实无重复：{reason}"[:200])
    record(actor, "identity.claim_decided", claim, person_id=claim.person_id,
           area_code=claim.person.area.code, claim=claim.pk, decision=decision,
           reason=reason[:200], released=released)
    return claim
