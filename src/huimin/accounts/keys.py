"""Rotation of the data key: every sealed column re-sealed, every keyed hash rebuilt.

One transaction: either all identity and account numbers move to the new key, with one audit
event, or nothing changes. Stop the web server and the workers first (a process still on the
old key cannot read what is sealed under the new one), rotate, set ``HUIMIN_DATA_KEY`` to the
new key, start again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from huimin.audit.models import AuditEvent
from huimin.lib.secrets import SecretBox
from huimin.registry import crypto

CHUNK = 2000


def fingerprint(box: SecretBox) -> str:
    """A short public name for a key (from its derived hash key; it reveals nothing of it)."""
    return box.keyed_hash("huimin-key-fingerprint")[:16]


@dataclass(frozen=True)
class SealedColumn:
    """A sealed column and the keyed hash beside it (the prefix is the one ``registry.crypto``
    hashes with)."""

    queryset: Callable[[], QuerySet[Any]]
    sealed: str
    hash_field: str
    hash_prefix: str


def _columns() -> dict[str, SealedColumn]:
    from huimin.registry.models import BankAccount, Person

    return {
        "persons": SealedColumn(lambda: Person.objects.exclude(id_sealed=""), "id_sealed",
                                "id_hash", "id:"),
        "bank_accounts": SealedColumn(lambda: BankAccount.objects.exclude(account_sealed=""),
                                      "account_sealed", "account_hash", "acct:"),
    }


def _reseal(col: SealedColumn, old: SecretBox, new: SecretBox) -> int:
    done = 0
    last = 0
    while True:
        rows: list[Any] = list(col.queryset().filter(pk__gt=last).order_by("pk")
                                 .only("pk", col.sealed, col.hash_field)[:CHUNK])
        if not rows:
            return done
        for row in rows:
            plain = old.unseal(getattr(row, col.sealed))
            setattr(row, col.sealed, new.seal(plain))
            setattr(row, col.hash_field, new.keyed_hash(col.hash_prefix + plain))
        col.queryset().model.objects.bulk_update(rows, [col.sealed, col.hash_field])
        done += len(rows)
        last = rows[-1].pk


def rotate_data_key(new_key: str, *, actor: Any = None) -> dict[str, Any]:
    """Re-seal every sealed column under ``new_key`` and rebuild the keyed hashes; afterwards
    this process uses the new key (the deployment must set HUIMIN_DATA_KEY to it)."""
    if new_key == settings.DATA_KEY:
        raise ValueError("新密钥与当前密钥相同")
    if new_key == settings.DEV_DATA_KEY:
        raise ValueError("新密钥不能是公开的开发密钥")
    if len(new_key) < 32:
        raise ValueError("新密钥过短：至少 32 个字符")
    old, new = crypto.box(), SecretBox(new_key)
    with transaction.atomic():
        counts = {name: _reseal(col, old, new) for name, col in _columns().items()}
        new_print = fingerprint(new)
        summary: dict[str, Any] = {**counts, "old_key": fingerprint(old), "new_key": new_print}
        AuditEvent.objects.create(
            actor=actor if getattr(actor, "pk", None) else None,
            action="system.rotate_data_key", object_type="datakey",
            object_id=new_print, data=summary)
    settings.DATA_KEY = new_key
    crypto.box.cache_clear()
    return summary
