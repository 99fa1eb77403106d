"""The case state machine: one table of allowed transitions; review levels are data.

A case under review waits for one level of its program's review chain (``Case.level``); the
state names which levels have passed: ``submitted`` (none yet), ``village_approved``,
``township_approved``, then ``approved`` once the last level has approved. Approved and paid
are different states; the payment transitions belong to the payments app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.db import models


class State(models.TextChoices):
    SUBMITTED = "submitted", "待审核"
    VILLAGE_APPROVED = "village_approved", "村级审核通过"
    TOWNSHIP_APPROVED = "township_approved", "乡镇审核通过"
    APPROVED = "approved", "已确认，待发放"
    IN_PAYMENT = "in_payment", "发放中"
    PAID = "paid", "已发放"
    PAYMENT_FAILED = "payment_failed", "发放失败"
    REJECTED = "rejected", "不予通过"
    RETURNED = "returned", "退回补正"
    # after a change of life (a death, a move, a loss of eligibility), confirmed by a person
    SUSPENDED = "suspended", "暂停发放（待核实）"
    STOPPED = "stopped", "已停发"
    TRANSFERRED = "transferred", "已迁出移交"


class Transition(models.TextChoices):
    APPROVE = "approve", "审核通过"
    REJECT = "reject", "不予通过"
    RETURN = "return", "退回补正"
    RESUBMIT = "resubmit", "补正后重新提交"
    SEND_BACK = "send_back", "公示异议成立，退回重审"
    REOPEN = "reopen", "申请复核，重新审核"
    # the fixed 育儿补贴 steps, kept as names of approve/reject at one level
    TOWNSHIP_APPROVE = "township_approve", "乡镇初审通过"
    TOWNSHIP_REJECT = "township_reject", "乡镇初审不通过"
    COUNTY_APPROVE = "county_approve", "县级确认通过"
    COUNTY_REJECT = "county_reject", "县级确认不通过"
    ADD_TO_BATCH = "add_to_batch", "纳入发放批次"
    MARK_PAID = "mark_paid", "发放成功"
    MARK_FAILED = "mark_failed", "发放失败"
    MARK_RETURNED = "mark_returned", "资金退回"


LEVEL_LABELS = {"village": "村级", "township": "乡镇", "county": "县级"}
LEVEL_OF_ROLE = {"village_cadre": "village", "township_reviewer": "township",
                 "county_approver": "county"}
ROLE_OF_LEVEL = {v: k for k, v in LEVEL_OF_ROLE.items()}

#: states in which a case waits for a level of its review chain
REVIEW_STATES = frozenset({State.SUBMITTED, State.VILLAGE_APPROVED, State.TOWNSHIP_APPROVED})
#: the state a case is in after level L approved (unless L is the last level)
APPROVED_AT = {"village": State.VILLAGE_APPROVED, "township": State.TOWNSHIP_APPROVED}

#: review transitions: the states they leave; the target depends on the chain (see below)
REVIEW_TRANSITIONS: dict[str, frozenset[str]] = {
    Transition.APPROVE: REVIEW_STATES,
    Transition.REJECT: REVIEW_STATES,
    Transition.RETURN: REVIEW_STATES,
    Transition.RESUBMIT: frozenset({State.RETURNED}),
    Transition.SEND_BACK: frozenset({State.VILLAGE_APPROVED, State.TOWNSHIP_APPROVED,
                                     State.APPROVED}),
    Transition.REOPEN: frozenset({State.REJECTED}),
}

#: aliases of the fixed 育儿补贴 steps: transition -> (review transition, level)
LEVEL_ALIASES: dict[str, tuple[str, str]] = {
    Transition.TOWNSHIP_APPROVE: (Transition.APPROVE, "township"),
    Transition.TOWNSHIP_REJECT: (Transition.REJECT, "township"),
    Transition.COUNTY_APPROVE: (Transition.APPROVE, "county"),
    Transition.COUNTY_REJECT: (Transition.REJECT, "county"),
}

# (from state, transition) -> (to state, roles allowed): the payment steps
TRANSITIONS: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    (State.APPROVED, Transition.ADD_TO_BATCH):
        (State.IN_PAYMENT, frozenset({"finance_officer"})),
    (State.PAYMENT_FAILED, Transition.ADD_TO_BATCH):
        (State.IN_PAYMENT, frozenset({"finance_officer"})),
    (State.IN_PAYMENT, Transition.MARK_PAID):
        (State.PAID, frozenset({"finance_officer"})),
    (State.IN_PAYMENT, Transition.MARK_FAILED):
        (State.PAYMENT_FAILED, frozenset({"finance_officer"})),
    # Money the bank sent back: the case waits, like a failed one, for a corrected account.
    (State.IN_PAYMENT, Transition.MARK_RETURNED):
        (State.PAYMENT_FAILED, frozenset({"finance_officer"})),
}

# What the finance officer has waiting (review levels use Case.awaiting_role).
WORKLIST: dict[str, list[str]] = {
    "finance_officer": [State.APPROVED, State.PAYMENT_FAILED],
}

Chain = Sequence[Mapping[str, object]]


def allowed(state: str, transition: str) -> tuple[str, frozenset[str]] | None:
    return TRANSITIONS.get((state, transition))


def level_index(chain: Chain, level: str) -> int:
    for i, lv in enumerate(chain):
        if lv["level"] == level:
            return i
    raise ValueError(f"level {level} is not in the review chain")


def state_awaiting(chain: Chain, index: int) -> str:
    """The state of a case waiting for level ``index`` of its chain."""
    if index == 0:
        return State.SUBMITTED
    return APPROVED_AT[str(chain[index - 1]["level"])]


def state_after(chain: Chain, index: int) -> str:
    """The state of a case once level ``index`` has approved it."""
    if index == len(chain) - 1:
        return State.APPROVED
    return APPROVED_AT[str(chain[index]["level"])]


def review_target(chain: Chain, state: str, level: str, transition: str) -> str | None:
    """Where a review transition takes a case waiting at ``level`` (None: not allowed)."""
    if state not in REVIEW_TRANSITIONS.get(transition, frozenset()):
        return None
    i = level_index(chain, level)
    if transition in (Transition.APPROVE, Transition.REJECT, Transition.RETURN):
        if state != state_awaiting(chain, i):
            return None
        targets: dict[str, str] = {Transition.APPROVE: state_after(chain, i),
                                   Transition.REJECT: State.REJECTED,
                                   Transition.RETURN: State.RETURNED}
        return targets[transition]
    if transition == Transition.SEND_BACK:
        return state_awaiting(chain, i) if state == state_after(chain, i) else None
    return state_awaiting(chain, i)  # resubmit, reopen


def step_name(chain: Chain, level: str) -> str:
    """What a level's review is called: 村级审核, 乡镇初审 (first of the chain), 乡镇审核,
    县级确认 (a chain without postings, as 育儿补贴), 县级审批."""
    if level == "village":
        return "村级审核"
    levels = [str(lv["level"]) for lv in chain]
    if level == "township":
        return "乡镇初审" if levels[:1] == ["township"] else "乡镇审核"
    if level == "county":
        return "县级审批" if any(lv["posting"] for lv in chain) else "县级确认"
    return f"{LEVEL_LABELS.get(level, level)}审核"


def transitions_for(state: str, role: str) -> list[str]:
    """Payment transitions open to a role in a state."""
    return [t for (s, t), (_to, roles) in TRANSITIONS.items() if s == state and role in roles]
