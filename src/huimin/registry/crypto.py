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
