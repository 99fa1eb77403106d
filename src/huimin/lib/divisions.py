"""Division codes: GB/T 2260 (6 digits) and 12-digit statistical codes.

A 12-digit statistical code is county (6) + township (3) + village (3). Township digits
001–099 are subdistricts (街道), 100–199 towns (镇), 200–399 townships (乡); village digits
from 001 are residents' committees (居委会), from 200 village committees (村委会).
"""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    PROVINCE = "province"
    PREFECTURE = "prefecture"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"


LEVEL_LABELS = {
    Level.PROVINCE: "省",
    Level.PREFECTURE: "市",
    Level.COUNTY: "县",
    Level.TOWNSHIP: "乡镇",
    Level.VILLAGE: "村",
}


class InvalidDivisionCode(ValueError):
    pass


def normalize(code: str) -> str:
    """Pad a 2/4/6/9/12-digit code to 12 digits."""
    code = code.strip()
    if not code.isdigit() or len(code) not in (2, 4, 6, 9, 12):
        raise InvalidDivisionCode(f"区划代码 {code!r} 应为 2、4、6、9 或 12 位数字")
    return code.ljust(12, "0")


def level_of(code: str) -> Level:
    full = normalize(code)
    if full[9:] != "000":
        return Level.VILLAGE
    if full[6:9] != "000":
        return Level.TOWNSHIP
    if full[4:6] != "00":
        return Level.COUNTY
    if full[2:4] != "00":
        return Level.PREFECTURE
    return Level.PROVINCE


_PREFIX_LEN = {
    Level.PROVINCE: 2,
    Level.PREFECTURE: 4,
    Level.COUNTY: 6,
    Level.TOWNSHIP: 9,
    Level.VILLAGE: 12,
}


def prefix(code: str) -> str:
    """The significant prefix of a code: every code below it starts with it."""
    full = normalize(code)
    return full[: _PREFIX_LEN[level_of(full)]]


def contains(outer: str, inner: str) -> bool:
    """Whether the area ``outer`` contains (or is) the area ``inner``."""
    return normalize(inner).startswith(prefix(outer))


def parent_code(code: str) -> str | None:
    full = normalize(code)
    level = level_of(full)
    if level is Level.PROVINCE:
        return None
    order = list(_PREFIX_LEN)
    parent_len = _PREFIX_LEN[order[order.index(level) - 1]]
    return full[:parent_len].ljust(12, "0")


def township_kind(code: str) -> str:
    n = int(normalize(code)[6:9])
    if 1 <= n <= 99:
        return "街道"
    if 100 <= n <= 199:
        return "镇"
    return "乡"


def village_kind(code: str) -> str:
    n = int(normalize(code)[9:12])
    return "居委会" if n < 200 else "村委会"
