"""Money in integer fen (分). Yuan appear only at the edges: input, display, files."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_YUAN = re.compile(r"^-?\d+(\.\d{1,2})?$")


class InvalidAmount(ValueError):
    pass


def yuan_to_fen(text: str | int | Decimal) -> int:
    """Parse yuan ("300", "300.5", "300.50") to fen; more than two decimals is an error."""
    if isinstance(text, int):
        return text * 100
    s = str(text).strip().replace(",", "")
    if not _YUAN.match(s):
        raise InvalidAmount(f"金额 {text!r} 格式错误（应为元，最多两位小数）")
    try:
        return int(Decimal(s) * 100)
    except InvalidOperation:
        raise InvalidAmount(f"金额 {text!r} 格式错误") from None


def fen_to_yuan(fen: int) -> str:
    """Fen to a plain yuan string with two decimals: 30000 -> '300.00'."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole}.{part:02d}"


def format_yuan(fen: int) -> str:
    """For display: 1080000 -> '10,800.00 元'."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{part:02d} 元"
