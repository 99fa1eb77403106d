"""Checking a person's fields; used by the importer, the API and the forms alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from huimin.lib import idnumber
from huimin.lib.cells import ascii_digits, control_problem

SEX_WORDS = {"男": "M", "女": "F", "M": "M", "F": "F"}
# The model's max_length, enforced here: SQLite does not enforce it.
NAME_MAX = 50
BANK_NAME_MAX = 100
HOUSEHOLD_MAX = 40
ACCOUNT_DIGITS = (8, 30)
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


def check_text(value: object, column: str, max_len: int, *, required: bool = True) -> str:
    """Free text a person typed (a name, a bank's name): trimmed, no control characters
    (newline, tab, NUL, C1, U+2028/2029, bidirectional overrides), at most ``max_len``."""
    text = str(value).strip()
    if not text:
        if required:
            raise FieldError(column, "不能为空")
        return ""
    problem = control_problem(text)
    if problem:
        raise FieldError(column, problem)
    if len(text) > max_len:
        raise FieldError(column, f"不能超过 {max_len} 个字（实有 {len(text)} 个）")
    return text


def check_name(value: object, column: str = "姓名") -> str:
    return check_text(value, column, NAME_MAX)


def check_bank_name(value: object, column: str = "开户银行") -> str:
    return check_text(value, column, BANK_NAME_MAX)


def check_household_number(value: object, column: str = "户号") -> str:
    return check_text(value, column, HOUSEHOLD_MAX)


def check_account(value: object, column: str = "银行账号") -> str:
    """A bank account number: ASCII digits 0–9 only (spaces removed), 8–30 of them."""
    account = str(value).strip().replace(" ", "")
    low, high = ACCOUNT_DIGITS
    if not ascii_digits(account) or not low <= len(account) <= high:
        raise FieldError(column, f"应为 {low}–{high} 位数字（半角 0–9）")
    return account


def check_death_date(death: date | None, *, birth: date | None, today: date,
                     column: str = "死亡日期") -> None:
    if death is None:
        return
    if death > today:
        raise FieldError(column, "晚于今天")
    if birth is not None and death < birth:
        raise FieldError(column, "早于出生日期")


def check_card(value: object, column: str = "银行卡号") -> str:
    """A bank card number: the account checks, and its last digit the Luhn check digit."""
    from huimin.lib.luhn import luhn_ok

    account = check_account(value, column)
    if not luhn_ok(account):
        raise FieldError(column, "校验位不符（Luhn 校验未通过），请核对卡号")
    return account


#: what a form, file or API may give for an account's kind (blank: a bank card)
ACCOUNT_KINDS = {"": "card", "card": "card", "银行卡": "card", "卡": "card",
                 "passbook": "passbook", "存折": "passbook", "一折通": "passbook",
                 "存折（一折通）": "passbook"}


def check_account_kind(value: object, column: str = "账户类型") -> str:
    """``card`` or ``passbook``, from the code or its Chinese name; blank is a card."""
    kind = ACCOUNT_KINDS.get(str(value if value is not None else "").strip())
    if kind is None:
        raise FieldError(column, "应为「银行卡」或「存折（一折通）」")
    return kind


def check_account_of_kind(value: object, kind: str) -> str:
    """A card's number is Luhn-checked (``check_card``); a passbook's only as an account."""
    if kind == "passbook":
        return check_account(value, "存折账号")
    return check_card(value)
