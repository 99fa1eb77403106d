"""Eligibility and amount of one subject for one claim year — the one place that decides.

Every caller (application intake, review pages, payment batches, the API) asks here, so the
calculation can be swapped for the rules engine without touching the callers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

CHILDCARE = "childcare-subsidy"
MONTHLY_FEN = 300_00  # 300 yuan a month, the national floor (programs.md §1)
ANNUAL_FEN = 12 * MONTHLY_FEN
FIRST_BIRTH = date(2022, 1, 1)
RULE_VERSION = "childcare-subsidy@2025-07-28"


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

    @property
    def reasons(self) -> list[str]:
        return [c.detail for c in self.criteria if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def childcare_months(birth: date, claim_year: int) -> int:
    """Months payable for a child born before 2025 in one claim year (2025–2027).

    The calendar months from 2025-01 up to and including the month of the third birthday,
    split 12, 12, remainder across 2025, 2026, 2027.
    """
    total = 12 * (birth.year - 2022) + birth.month
    before = 12 * (claim_year - 2025)
    return max(0, min(12, total - before))


def evaluate_childcare(
    *, birth_date: date, death_date: date | None, claim_year: int, today: date
) -> Entitlement:
    criteria: list[Criterion] = []
    born_ok = birth_date >= FIRST_BIRTH
    criteria.append(Criterion(
        "born_2022_or_later", "出生日期", born_ok,
        f"出生于 {birth_date.isoformat()}" + ("" if born_ok else "，早于 2022-01-01，不在补贴范围"),
    ))
    window_ok = claim_year == today.year
    criteria.append(Criterion(
        "claim_in_year", "申领年度", window_ok,
        f"申领 {claim_year} 年度"
        + ("" if window_ok else f"，只能在 {claim_year} 年内申领，逾期视为放弃"),
    ))
    if birth_date.year < 2025:
        months = childcare_months(birth_date, claim_year) if born_ok else 0
        in_scheme = claim_year >= 2025
        breakdown = f"{months} 个月 × 300 元"
    else:
        k = claim_year - birth_date.year
        months = 12 if 0 <= k <= 2 else 0
        in_scheme = True
        breakdown = "全年 3,600 元" if months else "0 元"
    months_ok = months > 0 and in_scheme
    criteria.append(Criterion(
        "under_three", "未满三周岁", months_ok,
        f"{claim_year} 年度可补贴 {months} 个月" if months_ok else f"{claim_year} 年度无可补贴月份",
    ))
    alive = death_date is None or death_date.year >= claim_year
    criteria.append(Criterion(
        "alive", "在世", alive,
        "在世" if death_date is None else (
            f"死亡日期 {death_date.isoformat()}" + ("" if alive else "，早于申领年度")),
    ))
    eligible = all(c.passed for c in criteria)
    if birth_date.year >= 2025:
        amount = ANNUAL_FEN if eligible else 0
    else:
        amount = months * MONTHLY_FEN if eligible else 0
    return Entitlement(
        program=CHILDCARE, claim_year=claim_year, eligible=eligible,
        months=months if eligible else 0, amount_fen=amount,
        breakdown=breakdown if eligible else "0 元", rule_version=RULE_VERSION, criteria=criteria,
    )


def evaluate(program_code: str, subject: Any, claim_year: int, today: date) -> Entitlement:
    """Evaluate a registry Person (or anything with birth_date/death_date) for a program."""
    if program_code != CHILDCARE:
        raise ValueError(f"项目 {program_code} 的规则尚未配置")
    return evaluate_childcare(
        birth_date=subject.birth_date, death_date=subject.death_date,
        claim_year=claim_year, today=today,
    )
