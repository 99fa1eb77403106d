"""Program documents: YAML files, validated against the schema described in docs/rules.md.

A malformed document is refused at load with ``DocumentError(file, line, reason)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from huimin.rules import expr
from huimin.rules.columns import BUILTIN_PARAMS, COLUMNS
from huimin.rules.errors import DocumentError, ExpressionError
from huimin.rules.money import yuan_to_fen

AreaLevel = Literal["national", "province", "prefecture", "county"]
AREA_CODE_LENGTH: dict[str, int] = {"national": 0, "province": 2, "prefecture": 4, "county": 6}
AREA_LEVEL_ZH: dict[str, str] = {"national": "全国", "province": "省级", "prefecture": "市级",
                                 "county": "县级"}
SUBJECTS = ("child", "person", "couple")
LEVELS = ("village", "township", "county")
FREQUENCIES = ("once", "monthly", "quarterly", "yearly")
STACKING_RULES = ("stacks", "higher-pays")


# ---------------------------------------------------------------------------- YAML with lines

class _LineDict(dict[str, Any]):
    line: int
    key_lines: dict[str, int]
    value_lines: dict[str, int]


class _LineList(list[Any]):
    line: int
    item_lines: list[int]


MAX_DEPTH = 50  # nesting of mappings and lists in a document


class _Loader(yaml.SafeLoader):
    """YAML without aliases (``*name``: a few lines of them expand to billions of nodes for
    whoever walks the result) and nested at most ``MAX_DEPTH`` deep."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise DocumentError("", mark.line + 1,
                                "不允许使用别名（*name），请直接写出取值")
        depth = getattr(self, "_depth", 0)
        if depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise DocumentError("", mark.line + 1, f"嵌套超过 {MAX_DEPTH} 层")
        self._depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    out = _LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    out.value_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise DocumentError("", key_node.start_mark.line + 1, f"key {key!r} is not text")
        if key in out:
            raise DocumentError("", key_node.start_mark.line + 1, f"duplicate key '{key}'")
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
        line = value_node.start_mark.line + 1
        if isinstance(value_node, yaml.ScalarNode) and value_node.style in ("|", ">"):
            line += 1  # block scalars start on the next line
        out.value_lines[key] = line
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _LineList:
    out = _LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


# ---------------------------------------------------------------------------- the model

@dataclass(frozen=True)
class Criterion:
    code: str
    label_zh: str
    label_en: str
    expression: expr.Node  # parameters and derived names substituted
    source: str
    fail_zh: str
    columns: tuple[str, ...]  # registry columns it reads (for explanations)


@dataclass(frozen=True)
class ReviewLevel:
    level: str
    role: str
    posting: bool
    posting_days: int
    deadline_working_days: int

    def to_dict(self) -> dict[str, object]:
        return {"level": self.level, "role": self.role, "posting": self.posting,
                "posting_days": self.posting_days,
                "deadline_working_days": self.deadline_working_days}


@dataclass(frozen=True)
class Amount:
    months: expr.Node
    kind: Literal["monthly", "annual"]
    rate_fen: expr.Node  # per month (monthly) or for the claim year (annual)


@dataclass(frozen=True)
class ProgramDef:
    """One validated program document (a program, or an area variant of one)."""

    id: str
    version: str
    name_zh: str
    name_en: str
    basis: str
    subject: str
    effective_from: dt.date
    effective_to: dt.date | None
    area_level: str
    area_code: str
    area_name_zh: str
    attaches_to: str | None
    stacking_group: str | None
    stacking_rule: str
    enrolment: str
    claims_per_year: int
    first_claim_zh: str
    unclaimed: str
    payment_frequency: str
    review_chain: tuple[ReviewLevel, ...]
    public_notice: bool
    params: Mapping[str, expr.Value]
    criteria: tuple[Criterion, ...]
    amount: Amount
    source_file: str
    source_line: int = 1
    raw: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def rule_version(self) -> str:
        return f"{self.id}@{self.version}"

    @property
    def key(self) -> tuple[str, str]:
        return (self.id, self.area_code)

    def in_force_on(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None
                                               or day <= self.effective_to)

    def overlaps_year(self, year: int) -> bool:
        return self.effective_from <= dt.date(year, 12, 31) and (
            self.effective_to is None or self.effective_to >= dt.date(year, 1, 1))

    def applies_to_area(self, area_code: str) -> bool:
        return area_code.startswith(self.area_code)


# ---------------------------------------------------------------------------- validation

class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, line: int | None, reason: str) -> DocumentError:
        return DocumentError(self.file, line, reason)

    def mapping(self, value: object, line: int, what: str) -> _LineDict:
        if not isinstance(value, _LineDict):
            raise self.fail(line, f"{what} must be a mapping")
        return value

    def keys(self, m: _LineDict, allowed: set[str], required: set[str], what: str) -> None:
        for k in m:
            if k not in allowed:
                raise self.fail(m.key_lines[k], f"unknown key '{k}' in {what}")
        for k in sorted(required):
            if k not in m:
                raise self.fail(m.line, f"{what} lacks required key '{k}'")

    def get(self, m: _LineDict, key: str, kind: type | tuple[type, ...], what: str,
            default: object = None) -> Any:
        if key not in m:
            return default
        value = m[key]
        if isinstance(value, bool) and kind in (int, str):
            raise self.fail(m.value_lines[key], f"{what}.{key} must be {kind.__name__}")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(
                k.__name__ for k in kind)
            raise self.fail(m.value_lines[key], f"{what}.{key} must be {names}, "
                                                f"not {type(value).__name__}")
        return value

    def text(self, m: _LineDict, key: str, what: str, default: str | None = None) -> str:
        value = self.get(m, key, str, what, default)
        if value is None:
            raise self.fail(m.line, f"{what} lacks required key '{key}'")
        return cast(str, value)

    def date(self, m: _LineDict, key: str, what: str) -> dt.date | None:
        value = m.get(key)
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            raise self.fail(m.value_lines[key], f"{what}.{key} must be a date, not a time")
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return expr.parse_date(value)
            except ValueError as exc:
                raise self.fail(m.value_lines[key], f"{what}.{key}: {exc}") from exc
        raise self.fail(m.value_lines[key], f"{what}.{key} must be a date YYYY-MM-DD")

    def choice(self, m: _LineDict, key: str, choices: tuple[str, ...], what: str,
               default: str | None = None) -> str:
        value = self.text(m, key, what, default)
        if value not in choices:
            raise self.fail(m.value_lines.get(key, m.line),
                            f"{what}.{key} must be one of {', '.join(choices)}, not '{value}'")
        return value


_TOP_KEYS = {"id", "version", "names", "basis", "subject", "effective", "area", "attaches_to",
             "stacking", "enrolment", "claim_calendar", "payment", "review_chain",
             "public_notice", "params", "derived", "criteria", "amount"}
_TOP_REQUIRED = {"id", "version", "names", "subject", "effective", "area", "criteria", "amount",
                 "review_chain", "public_notice", "payment", "claim_calendar"}


def load_document(path: Path) -> ProgramDef:
    """Load and validate one program document."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(file, None, f"cannot read: {exc}") from exc
    return parse_document(text, file)


def parse_document(text: str, file: str) -> ProgramDef:
    r = _Reader(file)
    try:
        data = yaml.load(text, Loader=_Loader)
    except DocumentError as exc:
        raise DocumentError(file, exc.line, exc.reason) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise DocumentError(file, line, f"not valid YAML: {problem}") from exc
    doc = r.mapping(data, 1, "the document")
    r.keys(doc, _TOP_KEYS, _TOP_REQUIRED, "the document")

    pid = r.text(doc, "id", "document")
    if not pid.replace("-", "").isalnum() or not pid.islower():
        raise r.fail(doc.value_lines["id"], f"id '{pid}' must be lower-case letters, digits, '-'")
    version = r.get(doc, "version", str, "document")
    if version is None or not version:
        raise r.fail(doc.value_lines.get("version", doc.line),
                     "version must be a quoted text such as \"2025.1\"")

    names = r.mapping(doc["names"], doc.value_lines["names"], "names")
    r.keys(names, {"zh", "en"}, {"zh", "en"}, "names")
    subject = r.choice(doc, "subject", SUBJECTS, "document")

    eff = r.mapping(doc["effective"], doc.value_lines["effective"], "effective")
    r.keys(eff, {"from", "to"}, {"from"}, "effective")
    eff_from = r.date(eff, "from", "effective")
    eff_to = r.date(eff, "to", "effective")
    assert eff_from is not None
    if eff_to is not None and eff_to < eff_from:
        raise r.fail(eff.value_lines["to"], "effective.to is before effective.from")

    area = r.mapping(doc["area"], doc.value_lines["area"], "area")
    r.keys(area, {"level", "code", "name_zh"}, {"level"}, "area")
    level = r.choice(area, "level", tuple(AREA_CODE_LENGTH), "area")
    code = str(r.get(area, "code", (str, int), "area", ""))
    if len(code) != AREA_CODE_LENGTH[level] or not (code.isdigit() or code == ""):
        raise r.fail(area.value_lines.get("code", area.line),
                     f"area.code of a {level} scope must be {AREA_CODE_LENGTH[level]} digits"
                     f" (a division code prefix), not '{code}'")
    area_name = r.text(area, "name_zh", "area", AREA_LEVEL_ZH[level] if level == "national"
                       else code)

    attaches_to = r.get(doc, "attaches_to", str, "document")
    stacking = r.mapping(doc.get("stacking", _empty()), doc.value_lines.get("stacking", 1),
                         "stacking")
    r.keys(stacking, {"group", "rule"}, set(), "stacking")
    stacking_group = r.get(stacking, "group", str, "stacking")
    stacking_rule = r.choice(stacking, "rule", STACKING_RULES, "stacking", "stacks")
    if attaches_to is not None and (stacking_group is None or stacking_rule != "higher-pays"):
        raise r.fail(doc.key_lines["attaches_to"],
                     "a scheme that attaches to another program needs a stacking group "
                     "with rule higher-pays")
    enrolment = r.choice(doc, "enrolment", ("application", "automatic"), "document",
                         "application")

    cal = r.mapping(doc["claim_calendar"], doc.value_lines["claim_calendar"], "claim_calendar")
    r.keys(cal, {"claims_per_year", "first_claim_zh", "unclaimed"}, {"claims_per_year"},
           "claim_calendar")
    claims_per_year = r.get(cal, "claims_per_year", int, "claim_calendar")
    first_claim_zh = r.text(cal, "first_claim_zh", "claim_calendar", "")
    unclaimed = r.choice(cal, "unclaimed", ("forfeited", "not-applicable"), "claim_calendar",
                         "not-applicable")

    pay = r.mapping(doc["payment"], doc.value_lines["payment"], "payment")
    r.keys(pay, {"frequency"}, {"frequency"}, "payment")
    frequency = r.choice(pay, "frequency", FREQUENCIES, "payment")

    chain_raw = r.get(doc, "review_chain", list, "document")
    if not chain_raw:
        raise r.fail(doc.value_lines["review_chain"], "review_chain needs at least one level")
    chain: list[ReviewLevel] = []
    for i, item in enumerate(chain_raw):
        lv = r.mapping(item, chain_raw.item_lines[i], f"review_chain[{i}]")
        what = f"review_chain[{i}]"
        r.keys(lv, {"level", "role", "posting", "posting_days", "deadline_working_days"},
               {"level", "role", "posting", "deadline_working_days"}, what)
        posting = r.get(lv, "posting", bool, what)
        days = r.get(lv, "posting_days", int, what, 0)
        if posting and days <= 0:
            raise r.fail(lv.line, f"{what}: a level with posting needs posting_days > 0")
        if not posting and days:
            raise r.fail(lv.value_lines["posting_days"],
                         f"{what}: posting_days given but posting is false")
        deadline = r.get(lv, "deadline_working_days", int, what)
        if deadline <= 0:
            raise r.fail(lv.value_lines["deadline_working_days"],
                         f"{what}: deadline_working_days must be positive")
        chain.append(ReviewLevel(r.choice(lv, "level", LEVELS, what), r.text(lv, "role", what),
                                 posting, days, deadline))
    public_notice = r.get(doc, "public_notice", bool, "document")

    # parameters ------------------------------------------------------------------------
    params: dict[str, expr.Value] = {}
    env: dict[str, expr.Type] = {name: c.type for name, c in COLUMNS.items()}
    env.update({name: t for name, (t, _) in BUILTIN_PARAMS.items()})
    names_subst: dict[str, expr.Node] = {}
    raw_params = r.mapping(doc.get("params", _empty()), doc.value_lines.get("params", 1), "params")
    for key, value in raw_params.items():
        line = raw_params.value_lines[key]
        name = key
        if key.endswith("_yuan"):
            name = key[: -len("_yuan")] + "_fen"
            try:
                value = yuan_to_fen(value)
            except ValueError as exc:
                raise r.fail(line, f"params.{key}: {exc}") from exc
        _check_new_name(r, name, env, raw_params.key_lines[key])
        lit: expr.Lit
        if isinstance(value, bool):
            lit = expr.Lit(value, "bool")
        elif isinstance(value, int):
            lit = expr.Lit(value, "int")
        elif isinstance(value, dt.datetime):
            raise r.fail(line, f"params.{key} must be a date, not a time")
        elif isinstance(value, dt.date):
            lit = expr.Lit(value, "date")
        elif isinstance(value, str):
            lit = expr.Lit(value, "str")
        else:
            raise r.fail(line, f"params.{key} must be an integer, text, date or boolean "
                               "(write decimal yuan as a quoted string in a *_yuan param)")
        params[name] = lit.value
        env[name] = lit.type
        names_subst[name] = lit

    def compile_expr(text: object, line: int, what: str, want: expr.Type) -> expr.Node:
        if isinstance(text, bool) or not isinstance(text, str | int):
            raise r.fail(line, f"{what} must be an expression (text)")
        try:
            node = expr.parse(str(text))
            got = expr.typecheck(node, env)
        except ExpressionError as exc:
            raise r.fail(line, f"{what}: {exc}") from None
        if got not in (want, "null"):
            raise r.fail(line, f"{what} must be of type {want}, not {got}")
        return expr.substitute(node, names_subst)

    raw_derived = r.mapping(doc.get("derived", _empty()), doc.value_lines.get("derived", 1),
                            "derived")
    for key, text_value in raw_derived.items():
        line = raw_derived.value_lines[key]
        _check_new_name(r, key, env, raw_derived.key_lines[key])
        try:
            node = expr.parse(str(text_value))
            typ = expr.typecheck(node, env)
        except ExpressionError as exc:
            raise r.fail(line, f"derived.{key}: {exc}") from None
        env[key] = typ
        names_subst[key] = expr.substitute(node, names_subst)

    crit_raw = r.get(doc, "criteria", list, "document")
    if not crit_raw:
        raise r.fail(doc.value_lines["criteria"], "criteria needs at least one criterion")
    criteria: list[Criterion] = []
    seen: set[str] = set()
    for i, item in enumerate(crit_raw):
        what = f"criteria[{i}]"
        c = r.mapping(item, crit_raw.item_lines[i], what)
        r.keys(c, {"code", "label_zh", "label_en", "when", "fail_zh"},
               {"code", "label_zh", "when"}, what)
        code_ = r.text(c, "code", what)
        if code_ in seen:
            raise r.fail(c.value_lines["code"], f"duplicate criterion code '{code_}'")
        seen.add(code_)
        node = compile_expr(c["when"], c.value_lines["when"], f"{what}.when", "bool")
        label_zh = r.text(c, "label_zh", what)
        criteria.append(Criterion(
            code=code_, label_zh=label_zh, label_en=r.text(c, "label_en", what, code_),
            expression=node, source=str(c["when"]).strip(),
            fail_zh=r.text(c, "fail_zh", what, f"不符合：{label_zh}"),
            columns=tuple(sorted(n for n in expr.columns_of(node) if n in COLUMNS))))

    am = r.mapping(doc["amount"], doc.value_lines["amount"], "amount")
    r.keys(am, {"months", "monthly_fen", "annual_fen"}, {"months"}, "amount")
    if ("monthly_fen" in am) == ("annual_fen" in am):
        raise r.fail(am.line, "amount needs exactly one of monthly_fen or annual_fen")
    kind: Literal["monthly", "annual"] = "monthly" if "monthly_fen" in am else "annual"
    amount = Amount(
        months=compile_expr(am["months"], am.value_lines["months"], "amount.months", "int"),
        kind=kind,
        rate_fen=compile_expr(am[f"{kind}_fen"], am.value_lines[f"{kind}_fen"],
                              f"amount.{kind}_fen", "int"))

    return ProgramDef(
        id=pid, version=version, name_zh=r.text(names, "zh", "names"),
        name_en=r.text(names, "en", "names"), basis=r.text(doc, "basis", "document", ""),
        subject=subject, effective_from=eff_from, effective_to=eff_to, area_level=level,
        area_code=code, area_name_zh=area_name, attaches_to=attaches_to,
        stacking_group=stacking_group, stacking_rule=stacking_rule, enrolment=enrolment,
        claims_per_year=claims_per_year, first_claim_zh=first_claim_zh, unclaimed=unclaimed,
        payment_frequency=frequency, review_chain=tuple(chain), public_notice=public_notice,
        params=params, criteria=tuple(criteria), amount=amount, source_file=file,
        source_line=doc.line, raw=dict(doc))


def _empty() -> _LineDict:
    d = _LineDict()
    d.line = 1
    d.key_lines = {}
    d.value_lines = {}
    return d


def _check_new_name(r: _Reader, name: str, env: Mapping[str, expr.Type], line: int) -> None:
    if not name.isidentifier() or name != name.lower():
        raise r.fail(line, f"'{name}' is not a lower-case name")
    if name in env:
        raise r.fail(line, f"'{name}' is already a column or parameter name")
