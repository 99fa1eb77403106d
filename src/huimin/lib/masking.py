"""Masking personal data for lists, notices and exports (defaults per workflow.md)."""

from __future__ import annotations

from datetime import date


def mask_name(name: str) -> str:
    """Keep the first character, one * for each other character: 张三丰 -> 张**."""
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def mask_id_number(value: str, head: int = 1, tail: int = 1) -> str:
    """First and last character visible: 1****************X.

    The 8 characters after the 6-digit address code are the birth date and the next 3 the
    sequence (odd for men), so a mask that keeps the first 6 and last 4 is undone by any
    birth date shown beside it. With only the first and last character kept, the address
    code, the birth date and the sequence are all hidden.
    """
    head, tail = max(head, 0), max(tail, 0)
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail:]


def age_parts(born: date, on: date) -> tuple[int, int]:
    """Full years and months of age on a day (0, 0 before the first full month)."""
    months = (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)
    months = max(months, 0)
    return divmod(months, 12)


def age_label(born: date | None, on: date) -> str:
    """An age to show instead of a birth date: "35 岁"; "1 岁 3 个月" or "5 个月" for small
    children (under 3), "不满 1 个月" for a newborn. Never precise to the day, so it does not
    narrow an identity number's birth-date segment to one value."""
    if born is None:
        return ""
    if born > on:
        return "未出生"
    years, months = age_parts(born, on)
    if years >= 3:
        return f"{years} 岁"
    if years == 0:
        return f"{months} 个月" if months else "不满 1 个月"
    return f"{years} 岁 {months} 个月" if months else f"{years} 岁"


def mask_account(value: str, tail: int = 4) -> str:
    """Only the last 4 digits visible."""
    value = value.replace(" ", "")
    if len(value) <= tail:
        return "*" * len(value)
    return "*" * (len(value) - tail) + value[-tail:]


def mask_phone(value: str) -> str:
    """3 + **** + 4: 138****5678."""
    value = value.replace(" ", "")
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
