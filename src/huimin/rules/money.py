"""Money: integer fen everywhere; the only conversions to and from yuan live here."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN_PER_YUAN = 100


def yuan_to_fen(value: object) -> int:
    """Convert a yuan amount from a document (int, str or Decimal) to integer fen.

    This is the single rounding rule: half up to the nearest fen.
    """
    if isinstance(value, bool | float):
        raise ValueError("amounts in yuan must be written as integers or decimal strings")
    try:
        dec = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount in yuan: {value!r}") from exc
    return int((dec * FEN_PER_YUAN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fen_to_decimal(fen: int) -> Decimal:
    """Fen as a yuan Decimal with two places (for output files)."""
    return (Decimal(fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))


def format_yuan(fen: int) -> str:
    """Yuan for Chinese text: ``300`` for whole yuan, ``123.45`` otherwise.

    The SQL compilers emit the same formatting (see ``compile.sql_format_yuan``).
    """
    whole, part = divmod(fen, FEN_PER_YUAN)
    if part == 0:
        return str(whole)
    return f"{whole}.{part:02d}"
