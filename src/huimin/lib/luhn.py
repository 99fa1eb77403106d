"""The Luhn check digit (ISO/IEC 7812) that bank card numbers carry as their last digit."""

from __future__ import annotations


def luhn_ok(number: str) -> bool:
    """Whether a string of ASCII digits ends with its Luhn check digit."""
    if not number or not number.isascii() or not number.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def check_digit(partial: str) -> str:
    """The digit that makes ``partial`` + digit pass the Luhn check."""
    for d in "0123456789":
        if luhn_ok(partial + d):
            return d
    raise ValueError("not a string of digits")
