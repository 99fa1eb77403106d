"""The documented registry view: the only columns a rule expression may read.

One row is one subject of a program (a child, or one spouse of a couple). The same names are
used for the CLI input files, the subject mappings of the Python API and the SQL engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["str", "date", "int", "bool"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    label_zh: str
    doc: str
    #: required in every input file, whatever the program
    always_required: bool = False
    #: may be absent from an input file (then read as NULL everywhere)
    optional: bool = False
    #: allowed values for text columns (None = any)
    choices: tuple[str, ...] | None = None
    #: exact length of digit-only text columns (None = any)
    digits: int | None = None


COLUMNS: dict[str, Column] = {
    c.name: c
    for c in [
        Column("person_id", "str", "人员编号", "Stable identifier of the subject.",
               always_required=True),
        Column("birth_date", "date", "出生日期", "Date of birth, YYYY-MM-DD.",
               always_required=True),
        Column("death_date", "date", "死亡日期", "Date of death, blank if living.",
               optional=True),
        Column("hukou_area_code", "str", "户籍地区划代码",
               "12-digit statistical division code of the household registration.",
               always_required=True, digits=12),
        Column("hukou_type", "str", "户籍类型", "'rural' or 'urban'.",
               always_required=True, choices=("rural", "urban")),
        Column("sex", "str", "性别", "'F' or 'M'.", choices=("F", "M")),
        # children
        Column("birth_order", "int", "孩次",
               "Birth order of the child in the family (1, 2, 3 …); read by local schemes "
               "(blank: no local scheme that depends on it applies).", optional=True),
        Column("parent1_hukou_area_code", "str", "父母一方户籍地区划代码",
               "12-digit division code of one parent's registration.", optional=True, digits=12),
        Column("parent2_hukou_area_code", "str", "父母另一方户籍地区划代码",
               "12-digit division code of the other parent's registration; blank if none.",
               optional=True, digits=12),
        Column("claim_date", "date", "申领日期",
               "Date the claim for the evaluated claim year was lodged; blank if none is "
               "recorded (the entitlement is then computed as if claimed in time).",
               optional=True),
        # parents / couples
        Column("spouse_birth_date", "date", "配偶出生日期",
               "Spouse's date of birth; blank if none.", optional=True),
        Column("policy_status_confirmed", "bool", "原政策内身份已确认",
               "Eligibility under the former policy confirmed at application (a case fact)."),
        Column("children_count", "int", "生育（含收养）子女数",
               "Children the couple bore or legally adopted, living or not."),
        Column("daughters_count", "int", "其中女儿数", "Of those, daughters."),
        Column("living_children_count", "int", "现存活子女数", "Children now living."),
        Column("child_disability_grade", "int", "子女残疾等级",
               "Certified disability grade (1–4) of the only child; blank if none.",
               optional=True),
    ]
}

#: parameters every expression may read, set from the claim year being evaluated
BUILTIN_PARAMS: dict[str, tuple[ColumnType, str]] = {
    "claim_year": ("int", "申领年度"),
    "year_start": ("date", "申领年度首日"),
    "year_end": ("date", "申领年度末日"),
}

REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS.values() if c.always_required)
