"""Single-subject evaluation in pure Python, with a per-criterion explanation in Chinese.

The set-based compilers (``huimin.rules.compile``) produce the same eligible / months /
amount / reasons for every subject; the differential tests hold the two to that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from huimin.rules import expr
from huimin.rules.columns import COLUMNS
from huimin.rules.document import ProgramDef
from huimin.rules.errors import RulesError
from huimin.rules.money import fen_to_decimal, format_yuan

if TYPE_CHECKING:
    from huimin.rules.catalog import Component, Program

REASON_SEP = "；"
NOT_COVERED_ZH = "户籍地不在本项目实施地区"


def builtin_params(year: int) -> dict[str, expr.Node]:
    return {
        "claim_year": expr.Lit(year, "int"),
        "year_start": expr.Lit(dt.date(year, 1, 1), "date"),
        "year_end": expr.Lit(dt.date(year, 12, 31), "date"),
    }


def breakdown_text(doc: ProgramDef, year: int, months: int, rate_fen: int,
                   amount_fen: int) -> str:
    if doc.amount.kind == "monthly":
        return (f"{months} 个月 × {format_yuan(rate_fen)} 元 = {format_yuan(amount_fen)} 元")
    return f"{year} 年度定额 {format_yuan(amount_fen)} 元"


def eligible_reason(doc: ProgramDef, breakdown: str) -> str:
    return f"{doc.name_zh}：{breakdown}"


def not_stacked_reason(doc: ProgramDef) -> str:
    return f"另符合{doc.name_zh}，不叠加"


@dataclass(frozen=True)
class CriterionResult:
    code: str
    label_zh: str
    label_en: str
    passed: bool
    detail_zh: str

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "label_zh": self.label_zh, "label_en": self.label_en,
                "passed": self.passed, "detail_zh": self.detail_zh}


@dataclass(frozen=True)
class ComponentResult:
    rule_version: str
    name_zh: str
    area_code: str
    covered: bool
    eligible: bool
    months: int
    amount_fen: int
    criteria: tuple[CriterionResult, ...]
    breakdown_zh: str
    chosen: bool

    def to_dict(self) -> dict[str, object]:
        return {"rule_version": self.rule_version, "name_zh": self.name_zh,
                "area_code": self.area_code, "covered": self.covered,
                "eligible": self.eligible, "months": self.months,
                "amount_fen": self.amount_fen, "breakdown_zh": self.breakdown_zh,
                "chosen": self.chosen, "criteria": [c.to_dict() for c in self.criteria]}


@dataclass(frozen=True)
class Evaluation:
    """The result of evaluating one subject for one claim year."""

    program_id: str
    person_id: str | None
    year: int
    eligible: bool
    months: int
    amount_fen: int
    rule_version: str
    criteria: list[CriterionResult]
    breakdown_zh: str
    reasons_zh: list[str]
    components: list[ComponentResult] = field(default_factory=list)

    @property
    def reasons(self) -> str:
        """The reasons as one text, exactly as in the ``reasons`` column of set evaluation."""
        return REASON_SEP.join(self.reasons_zh)

    def to_dict(self) -> dict[str, object]:
        return {
            "program_id": self.program_id, "person_id": self.person_id, "year": self.year,
            "eligible": self.eligible, "months": self.months, "amount_fen": self.amount_fen,
            "amount_yuan": str(fen_to_decimal(self.amount_fen)),
            "rule_version": self.rule_version,
            "criteria": [c.to_dict() for c in self.criteria],
            "breakdown_zh": self.breakdown_zh, "reasons_zh": list(self.reasons_zh),
            "components": [c.to_dict() for c in self.components],
        }


def normalize_subject(subject: Mapping[str, object]) -> dict[str, expr.Value]:
    """Typed values of the registry-view columns in a subject mapping (missing → None)."""
    row: dict[str, expr.Value] = {}
    for name, col in COLUMNS.items():
        v = subject.get(name)
        if v is None or v == "":
            row[name] = None
            continue
        if col.type == "date":
            if isinstance(v, dt.datetime):
                v = v.date()
            if isinstance(v, str):
                try:
                    v = expr.parse_date(v)
                except ValueError as exc:
                    raise RulesError(f"{name}: {exc}") from None
            if not isinstance(v, dt.date):
                raise RulesError(f"{name} must be a date, not {type(v).__name__}")
        elif col.type == "int":
            if isinstance(v, bool) or not isinstance(v, int):
                raise RulesError(f"{name} must be an integer, not {type(v).__name__}")
        elif col.type == "bool":
            if not isinstance(v, bool):
                raise RulesError(f"{name} must be true or false, not {v!r}")
        else:
            v = str(v)
        row[name] = v
    return row


def _value_zh(v: expr.Value) -> str:
    if v is None:
        return "空"
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _component(comp: Component, row: Mapping[str, expr.Value], year: int) -> ComponentResult:
    doc = comp.doc
    covered = comp.covers(row.get("hukou_area_code"))  # type: ignore[arg-type]
    names = builtin_params(year)
    crits: list[CriterionResult] = []
    for c in doc.criteria:
        passed = expr.evaluate(expr.substitute(c.expression, names), row) is True
        facts = "，".join(f"{COLUMNS[n].label_zh}：{_value_zh(row.get(n))}" for n in c.columns)
        text = f"符合：{c.label_zh}" if passed else c.fail_zh
        crits.append(CriterionResult(c.code, c.label_zh, c.label_en, passed,
                                     f"{text}（{facts}）" if facts else text))
    eligible = covered and all(c.passed for c in crits)
    months = rate = amount = 0
    breakdown = ""
    if eligible:
        m = expr.evaluate(expr.substitute(doc.amount.months, names), row)
        r = expr.evaluate(expr.substitute(doc.amount.rate_fen, names), row)
        months = m if isinstance(m, int) else 0
        rate = r if isinstance(r, int) else 0
        amount = months * rate if doc.amount.kind == "monthly" else rate
        breakdown = breakdown_text(doc, year, months, rate, amount)
    return ComponentResult(doc.rule_version, doc.name_zh, comp.prefix, covered, eligible,
                           months, amount, tuple(crits), breakdown, False)


def evaluate_subject(program: Program, subject: Mapping[str, object], year: int) -> Evaluation:
    row = normalize_subject(subject)
    person_id = row.get("person_id")
    results = [_component(c, row, year) for c in program.components]
    # ranking: covered components by amount; on a tie the earlier one (the program itself)
    winner = -1
    best = -1
    for i, res in enumerate(results):
        if res.covered and res.amount_fen > best:
            winner, best = i, res.amount_fen
    if winner < 0:
        return Evaluation(program.id, str(person_id) if person_id is not None else None, year,
                          False, 0, 0, program.id, [], "", [NOT_COVERED_ZH],
                          results)
    win = results[winner]
    win_doc = program.components[winner].doc
    results[winner] = ComponentResult(**{**win.__dict__, "chosen": True})
    if win.eligible:
        reasons = [eligible_reason(win_doc, win.breakdown_zh)]
        reasons += [not_stacked_reason(program.components[i].doc)
                    for i, res in enumerate(results) if i != winner and res.eligible]
    else:
        reasons = [c.fail_zh for c, r in zip(win_doc.criteria, win.criteria, strict=True)
                   if not r.passed]
    return Evaluation(
        program_id=program.id, person_id=str(person_id) if person_id is not None else None,
        year=year, eligible=win.eligible, months=win.months, amount_fen=win.amount_fen,
        rule_version=win.rule_version, criteria=list(win.criteria),
        breakdown_zh=win.breakdown_zh, reasons_zh=reasons, components=results)
