"""Resident identity numbers (居民身份证号码) per GB 11643-1999.

18 characters: 6-digit address code, 8-digit birth date, 3-digit sequence (odd = male,
even = female) and a check character computed over the first 17 digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


class InvalidIdNumber(ValueError):
    """The number is not a valid resident identity number; ``reason`` says why (Chinese)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IdNumber:
    value: str
    address_code: str
    birth_date: date
    sequence: int

    @property
    def sex(self) -> str:
        """'M' for an odd sequence number, 'F' for an even one."""
        return "M" if self.sequence % 2 == 1 else "F"


def check_char(first17: str) -> str:
    """The check character for 17 leading digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("需要 17 位数字")
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def normalize(raw: str) -> str:
    """Strip blanks and upper-case a trailing x."""
    return raw.strip().replace(" ", "").upper()


def parse(raw: str, *, today: date | None = None) -> IdNumber:
    """Parse and validate; raise InvalidIdNumber with a Chinese reason if it is not valid."""
    value = normalize(raw)
    if not value:
        raise InvalidIdNumber("身份证号码为空")
    if len(value) != 18:
        raise InvalidIdNumber(f"长度应为 18 位，实为 {len(value)} 位")
    if not _SHAPE.match(value):
        raise InvalidIdNumber("前 17 位须为数字，末位须为数字或 X")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdNumber(f"出生日期 {value[6:14]} 不是有效日期") from None
    if born.year < 1850:
        raise InvalidIdNumber(f"出生日期 {born.isoformat()} 过早")
    if today is not None and born > today:
        raise InvalidIdNumber(f"出生日期 {born.isoformat()} 晚于今天")
    expected = check_char(value[:17])
    if value[17] != expected:
        raise InvalidIdNumber(f"校验码错误：应为 {expected}，实为 {value[17]}")
    return IdNumber(value=value, address_code=value[:6], birth_date=born,
                    sequence=int(value[14:17]))


def validate_against(number: IdNumber, *, birth_date: date | None, sex: str | None) -> None:
    """Check that the number agrees with a recorded birth date and sex ('M'/'F')."""
    if birth_date is not None and number.birth_date != birth_date:
        raise InvalidIdNumber(
            f"号码中的出生日期 {number.birth_date.isoformat()} 与登记的出生日期 "
            f"{birth_date.isoformat()} 不一致"
        )
    if sex is not None and number.sex != sex:
        label = {"M": "男", "F": "女"}
        raise InvalidIdNumber(
            f"号码中的性别（{label[number.sex]}）与登记的性别（{label.get(sex, sex)}）不一致"
        )


def make(address_code: str, birth_date: date, sequence: int) -> str:
    """Build a valid number from its parts (used by the synthetic generator and tests)."""
    if len(address_code) != 6 or not address_code.isdigit():
        raise ValueError("地址码须为 6 位数字")
    if not 0 <= sequence <= 999:
        raise ValueError("顺序码须在 000–999 之间")
    first17 = f"{address_code}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)


_SHAPE15 = re.compile(r"^\d{15}$")


def upgrade15(raw: str) -> str:
    """A first-generation 15-digit number (6-digit address, YYMMDD birth date in the 1900s,
    3-digit sequence) as its 18-digit form: ``19`` inserted before the year and the check
    character appended (GB 11643-1999). An 18-character value is returned normalised and
    unchanged; anything else raises InvalidIdNumber with a Chinese reason."""
    value = normalize(raw)
    if len(value) == 18:
        return value
    if len(value) != 15:
        raise InvalidIdNumber(f"长度应为 15 或 18 位，实为 {len(value)} 位")
    if not _SHAPE15.match(value):
        raise InvalidIdNumber("15 位号码须全为数字")
    try:
        date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))
    except ValueError:
        raise InvalidIdNumber(f"出生日期 19{value[6:12]} 不是有效日期") from None
    first17 = value[:6] + "19" + value[6:]
    return first17 + check_char(first17)
