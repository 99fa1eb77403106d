"""Masking personal data for lists, notices and exports (defaults per workflow.md)."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """Keep the first character, one * for each other character: 张三丰 -> 张**."""
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def mask_id_number(value: str, head: int = 6, tail: int = 4) -> str:
    """First 6 and last 4 visible: 110105********002X."""
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


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
