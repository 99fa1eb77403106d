"""The deployment's SecretBox, built once from settings.DATA_KEY."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from huimin.lib.secrets import SecretBox


@lru_cache(maxsize=1)
def box() -> SecretBox:
    return SecretBox(settings.DATA_KEY)


def id_hash(id_number: str) -> str:
    return box().keyed_hash("id:" + id_number)


def account_hash(account: str) -> str:
    return box().keyed_hash("acct:" + account)


def id_last4_hash(id_number: str, area_code: str, *, key: SecretBox | None = None) -> str:
    """The keyed hash of an identity number's last four characters, scoped by county (the
    first 6 digits of the person's area code): a search by the last four finds the county's
    matches by equality, and the same four characters in two counties hash differently, so
    the column links no one across counties. A move within a county keeps the value; a move
    out of the county keeps the person on this county's register (``move_person``)."""
    return (key or box()).keyed_hash(f"id4:{area_code[:6]}:{id_number[-4:].upper()}")
