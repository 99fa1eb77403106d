"""Checking a person's fields; used by the importer, the API and the forms alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from huimin.lib import idnumber

SEX_WORDS = {"男": "M", "女": "F", "M": "M", "F": "F"}
HUKOU_WORDS = {"农业": "rural", "非农业": "urban", "rural": "rural", "urban": "urban",
               "农村": "rural", "城镇": "urban"}


@dataclass
class FieldError(Exception):
    column: str
    reason: str


def parse_date(value: object, column: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise FieldError(column, f"「{text}」不是有效日期（格式 YYYY-MM-DD）")


def parse_sex(value: object, column: str = "性别") -> str:
    sex = SEX_WORDS.get(str(value).strip())
    if sex is None:
        raise FieldError(column, f"「{value}」应为 男 或 女")
    return sex


def parse_hukou(value: object, column: str = "户籍性质") -> str:
    kind = HUKOU_WORDS.get(str(value).strip())
    if kind is None:
        raise FieldError(column, f"「{value}」应为 农业 或 非农业")
    return kind


def check_id(value: object, *, birth_date: date | None, sex: str | None, today: date,
             column: str = "身份证号码") -> idnumber.IdNumber:
    try:
        number = idnumber.parse(str(value), today=today)
        idnumber.validate_against(number, birth_date=birth_date, sex=sex)
    except idnumber.InvalidIdNumber as exc:
        raise FieldError(column, exc.reason) from None
    return number
