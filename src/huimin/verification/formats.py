"""The feed file formats: columns of each kind, the sources each may come from, templates.

The first row is the header (the English column names below); extra columns are kept raw and
ignored. A file that lacks a required column is refused whole, nothing stored.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from huimin.lib.sheets import Limits
from huimin.verification.models import Kind, Source


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    label: str
    hint: str


COLUMNS: dict[str, list[Column]] = {
    Kind.DEATH: [
        Column("event_id", True, "事件编号", "来源系统内唯一；同一编号重复报送且内容相同不作变更"),
        Column("id_number", True, "身份证号码", "18 位（旧 15 位号码自动升位）"),
        Column("name", True, "姓名", "须与登记一致"),
        Column("death_date", True, "死亡日期", "YYYY-MM-DD，不早于出生、不晚于今天"),
        Column("source_org", False, "出具单位", "如 某某县民政局殡葬管理所"),
        Column("certificate_no", False, "证明编号", "死亡医学证明或火化证明编号"),
    ],
    Kind.MOVE: [
        Column("event_id", True, "事件编号", "来源系统内唯一"),
        Column("id_number", True, "身份证号码", "18 位（旧 15 位号码自动升位）"),
        Column("name", True, "姓名", "须与登记一致"),
        Column("moved_on", True, "迁移日期", "YYYY-MM-DD，不晚于今天"),
        Column("to_code", True, "迁入地区划代码", "12 位村（居）委会统计用区划代码"),
        Column("from_code", False, "迁出地区划代码", "12 位，可空"),
    ],
    Kind.BIRTH: [
        Column("event_id", True, "事件编号", "来源系统内唯一"),
        Column("child_id_number", True, "新生儿身份证号码", "随出生登记编制的 18 位号码"),
        Column("child_name", True, "新生儿姓名", ""),
        Column("sex", True, "性别", "男 / 女，须与号码一致"),
        Column("birth_date", True, "出生日期", "YYYY-MM-DD，须与号码一致"),
        Column("mother_id_number", True, "母亲身份证号码", "母亲或父亲号码至少填一个"),
        Column("father_id_number", True, "父亲身份证号码", "可空"),
        Column("household_number", True, "户号", "新生儿落户的户号，可空"),
        Column("certificate_no", True, "出生医学证明编号", ""),
    ],
    Kind.DISABILITY: [
        Column("event_id", True, "事件编号", "来源系统内唯一"),
        Column("id_number", True, "身份证号码", "持证人 18 位号码"),
        Column("name", True, "姓名", "须与登记一致"),
        Column("certificate_no", True, "残疾人证编号", ""),
        Column("grade", True, "残疾等级", "1–4（一级最重）"),
        Column("issued_on", True, "发证（评定）日期", "YYYY-MM-DD"),
        Column("revoked_on", False, "注销日期", "证件注销时填写"),
    ],
}
#: columns that must be present in the header, though some may be blank in a row
BLANK_ALLOWED: dict[str, set[str]] = {
    Kind.BIRTH: {"mother_id_number", "father_id_number", "household_number"}}

#: who may send each kind; the first is the default of a file loaded without one
SOURCES: dict[str, list[str]] = {
    Kind.DEATH: [Source.CIVIL_AFFAIRS, Source.HEALTH, Source.PUBLIC_SECURITY],
    Kind.MOVE: [Source.PUBLIC_SECURITY],
    Kind.BIRTH: [Source.HEALTH, Source.PUBLIC_SECURITY],
    Kind.DISABILITY: [Source.DISABLED_FEDERATION],
}

#: the columns with a fixed set of values: the XLSX template offers them as a dropdown
CHOICES: dict[str, dict[str, list[str]]] = {
    Kind.BIRTH: {"sex": ["男", "女"]},
    Kind.DISABILITY: {"grade": ["1", "2", "3", "4"]},
}
#: the columns of long numbers and codes whose cells Excel mangles when they are numbers
#: (the template formats them as text; ingest names such a cell rather than calling it
#: invalid, without repeating an ID number in the reason, which is shown beside its mask)
ID_COLUMNS = frozenset({"id_number", "child_id_number", "mother_id_number", "father_id_number"})
EXCEL_TEXT = ID_COLUMNS | {"to_code"}

MAX_BYTES = 20 * 1024 * 1024
LIMITS = Limits(max_rows=100_001, max_cols=50, max_cell_chars=200, max_bytes=MAX_BYTES)
#: rows one API post may carry
API_MAX_EVENTS = 5000


def header(kind: str) -> list[str]:
    return [c.name for c in COLUMNS[kind]]


def template_csv(kind: str) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(header(kind))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def template_xlsx(kind: str) -> bytes:
    from huimin.registry.importer import template_workbook

    cols = [(c.name, c.required and c.name not in BLANK_ALLOWED.get(kind, set()),
             f"{c.label}：{c.hint}" if c.hint else c.label) for c in COLUMNS[kind]]
    return template_workbook(Kind(kind).label, cols, choices=CHOICES.get(kind, {}))
