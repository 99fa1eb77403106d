"""Eligibility and amount of one subject for one claim year — the one place that decides.

Every caller (application intake, review pages, payment batches, the API) asks here. The
decision itself is made by the rules engine (``huimin.rules``) from the program documents;
this module resolves the program for the subject's area and date, builds the subject's facts
from the registry (``huimin.programs.subjects``) and keeps the result in the shape the case
records store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from huimin.errors import ActionError
from huimin.rules import (
    Catalog,
    Evaluation,
    ProgramNotFound,
    ReviewLevel,
    RulesError,
    load_programs,
)
from huimin.rules import Program as RulesProgram

CHILDCARE = "childcare-subsidy"
RURAL_REWARD = "rural-reward"
SPECIAL_ASSISTANCE = "special-assistance"


@dataclass(frozen=True)
class Criterion:
    code: str
    label: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Entitlement:
    program: str
    claim_year: int
    eligible: bool
    months: int
    amount_fen: int
    breakdown: str
    rule_version: str
    criteria: list[Criterion] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def failing(self) -> list[Criterion]:
        return [c for c in self.criteria if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "program": self.program, "claim_year": self.claim_year, "eligible": self.eligible,
            "months": self.months, "amount_fen": self.amount_fen, "breakdown": self.breakdown,
            "rule_version": self.rule_version, "reasons": list(self.reasons),
            "criteria": [{"code": c.code, "label": c.label, "passed": c.passed,
                          "detail": c.detail} for c in self.criteria],
            "facts": self.facts,
        }


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    return load_programs()


def rule_date(claim_year: int, today: date) -> date:
    """The day whose rules apply to a claim year: today within the year, else its edge."""
    if claim_year == today.year:
        return today
    return date(claim_year, 12, 31) if claim_year < today.year else date(claim_year, 1, 1)


def resolve(program_code: str, area_code: str, claim_year: int, today: date) -> RulesProgram:
    try:
        return catalog().resolve(program_code, area_code=area_code,
                                 on=rule_date(claim_year, today))
    except ProgramNotFound:
        raise ActionError(
            f"项目 {program_code} 在 {claim_year} 年度没有适用于该地区的规则") from None


def review_chain(program_code: str, area_code: str, claim_year: int,
                 today: date) -> list[ReviewLevel]:
    return resolve(program_code, area_code, claim_year, today).review_chain


def _jsonable(facts: Mapping[str, object]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in facts.items()}


#: coded values as a family reads them in a decision letter
PLAIN_VALUES = {"户籍类型：rural": "户籍类型：农业", "户籍类型：urban": "户籍类型：非农业",
                "性别：F": "性别：女", "性别：M": "性别：男"}


def plain(text: str) -> str:
    for coded, words in PLAIN_VALUES.items():
        text = text.replace(coded, words)
    return text


def from_evaluation(ev: Evaluation, facts: Mapping[str, object]) -> Entitlement:
    criteria = [Criterion(c.code, c.label_zh, c.passed, plain(c.detail_zh))
                for c in ev.criteria]
    breakdown = ev.breakdown_zh if ev.eligible else "0 元"
    return Entitlement(
        program=ev.program_id, claim_year=ev.year, eligible=ev.eligible,
        months=ev.months if ev.eligible else 0, amount_fen=ev.amount_fen if ev.eligible else 0,
        breakdown=breakdown, rule_version=ev.rule_version, criteria=criteria,
        reasons=list(ev.reasons_zh), facts=_jsonable(facts),
    )


def evaluate_mapping(program_code: str, facts: Mapping[str, object], claim_year: int,
                     today: date) -> Entitlement:
    """Evaluate a subject given as a mapping of registry-view columns."""
    program = resolve(program_code, str(facts.get("hukou_area_code") or ""), claim_year, today)
    try:
        ev = program.evaluate(facts, year=claim_year)
    except RulesError as exc:
        raise ActionError(f"资格核算所需信息不完整：{exc}") from None
    return from_evaluation(ev, facts)


def evaluate(program_code: str, subject: Any, claim_year: int, today: date,
             case_facts: Mapping[str, object] | None = None) -> Entitlement:
    """Evaluate a registry Person for a program; ``case_facts`` are facts recorded with the
    application (e.g. the family's status under the former policy, confirmed by the village)."""
    from huimin.programs.subjects import subject_facts

    facts = subject_facts(subject, claim_date=today, case_facts=case_facts)
    return evaluate_mapping(program_code, facts, claim_year, today)
