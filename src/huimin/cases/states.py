"""The case state machine: one table of allowed transitions."""

from __future__ import annotations

from django.db import models


class State(models.TextChoices):
    SUBMITTED = "submitted", "待乡镇初审"
    TOWNSHIP_APPROVED = "township_approved", "待县级确认"
    APPROVED = "approved", "已确认，待发放"
    IN_PAYMENT = "in_payment", "发放中"
    PAID = "paid", "已发放"
    PAYMENT_FAILED = "payment_failed", "发放失败"
    REJECTED = "rejected", "不予通过"


class Transition(models.TextChoices):
    TOWNSHIP_APPROVE = "township_approve", "乡镇初审通过"
    TOWNSHIP_REJECT = "township_reject", "乡镇初审不通过"
    COUNTY_APPROVE = "county_approve", "县级确认通过"
    COUNTY_REJECT = "county_reject", "县级确认不通过"
    ADD_TO_BATCH = "add_to_batch", "纳入发放批次"
    MARK_PAID = "mark_paid", "发放成功"
    MARK_FAILED = "mark_failed", "发放失败"


# (from state, transition) -> (to state, roles allowed)
TRANSITIONS: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    (State.SUBMITTED, Transition.TOWNSHIP_APPROVE):
        (State.TOWNSHIP_APPROVED, frozenset({"township_reviewer"})),
    (State.SUBMITTED, Transition.TOWNSHIP_REJECT):
        (State.REJECTED, frozenset({"township_reviewer"})),
    (State.TOWNSHIP_APPROVED, Transition.COUNTY_APPROVE):
        (State.APPROVED, frozenset({"county_approver"})),
    (State.TOWNSHIP_APPROVED, Transition.COUNTY_REJECT):
        (State.REJECTED, frozenset({"county_approver"})),
    (State.APPROVED, Transition.ADD_TO_BATCH):
        (State.IN_PAYMENT, frozenset({"finance_officer"})),
    (State.PAYMENT_FAILED, Transition.ADD_TO_BATCH):
        (State.IN_PAYMENT, frozenset({"finance_officer"})),
    (State.IN_PAYMENT, Transition.MARK_PAID):
        (State.PAID, frozenset({"finance_officer"})),
    (State.IN_PAYMENT, Transition.MARK_FAILED):
        (State.PAYMENT_FAILED, frozenset({"finance_officer"})),
}

# What each role has waiting for it.
WORKLIST: dict[str, list[str]] = {
    "township_reviewer": [State.SUBMITTED],
    "county_approver": [State.TOWNSHIP_APPROVED],
    "finance_officer": [State.APPROVED, State.PAYMENT_FAILED],
}


def allowed(state: str, transition: str) -> tuple[str, frozenset[str]] | None:
    return TRANSITIONS.get((state, transition))


def transitions_for(state: str, role: str) -> list[str]:
    return [t for (s, t), (_to, roles) in TRANSITIONS.items() if s == state and role in roles]
