"""Rotation of the data key: every sealed column re-sealed, every keyed hash rebuilt.

One transaction: either all identity and account numbers move to the new key, with one audit
event, or nothing changes. Sealed case documents are written anew beside their files inside
it and put in place once it has committed. Stop the web server and the workers first (a
process still on the old key cannot read what is sealed under the new one), rotate, set
``HUIMIN_DATA_KEY`` to the new key, start again.
"""

from __future__ import annotations

import contextlib
import os
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
    from huimin.verification.models import FeedRow

    return {
        "persons": SealedColumn(lambda: Person.objects.exclude(id_sealed=""), "id_sealed",
                                "id_hash", "id:"),
        "bank_accounts": SealedColumn(lambda: BankAccount.objects.exclude(account_sealed=""),
                                      "account_sealed", "account_hash", "acct:"),
        # civil-data feed rows: the identity number matched on, and the row as received
        "feed_row_ids": SealedColumn(lambda: FeedRow.objects.exclude(id_sealed=""),
                                     "id_sealed", "id_hash", "id:"),
        "feed_rows": SealedColumn(lambda: FeedRow.objects.exclude(raw_sealed=""),
                                  "raw_sealed", "content_hash", "feedraw:"),
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


def _rehash_last4(new: SecretBox) -> int:
    """The keyed hash of each person's last four identity characters within the county
    (the lists' search by last 4), rebuilt under the new key from the re-sealed numbers."""
    from huimin.registry.models import Person

    done = last = 0
    while True:
        rows = list(Person.objects.filter(pk__gt=last).order_by("pk").select_related("area")
                    .only("pk", "id_sealed", "id_last4_hash", "area__code")[:CHUNK])
        if not rows:
            return done
        for row in rows:
            row.id_last4_hash = crypto.id_last4_hash(new.unseal(row.id_sealed), row.area.code,
                                                     key=new)
        Person.objects.bulk_update(rows, ["id_last4_hash"])
        done += len(rows)
        last = rows[-1].pk


def _reseal_change_secrets(old: SecretBox, new: SecretBox) -> int:
    """The full identity or card numbers kept sealed in change requests (no hash beside)."""
    from huimin.registry.models import ChangeRequest

    rows = list(ChangeRequest.objects.exclude(secret_sealed="").only("pk", "secret_sealed"))
    for row in rows:
        row.secret_sealed = new.seal(old.unseal(row.secret_sealed))
    ChangeRequest.objects.bulk_update(rows, ["secret_sealed"], batch_size=CHUNK)
    return len(rows)


def _sealed_files() -> list[tuple[str, str, str]]:
    """(what, path, context) of every file sealed at rest: case documents and the evidence
    of register change requests (both start with the same magic)."""
    from huimin.cases.models import CaseDocument
    from huimin.registry.models import ChangeRequest

    files = [(f"申请材料 {doc.pk}", doc.file.path, doc._context())
             for doc in CaseDocument.objects.filter(sealed=True).iterator()]
    files += [(f"变更申请 {req.pk} 的证明材料", req.evidence.path, req._context())
              for req in ChangeRequest.objects.exclude(evidence_stored="").iterator()]
    return files


def _reseal_documents(old: SecretBox, new: SecretBox) -> list[tuple[str, str]]:
    """Write each sealed case document again under the new key beside the old file; the
    caller puts the new files in place once the database has committed (and removes them
    if it has not). Returns (new file, final path) pairs."""
    from huimin.cases.models import SEALED_MAGIC

    staged: list[tuple[str, str]] = []
    try:
        for what, path, context in _sealed_files():
            with open(path, "rb") as fh:
                blob = fh.read()
            if not blob.startswith(SEALED_MAGIC):
                raise ValueError(f"{what} 的文件不是加密存储的格式")
            data = old.unseal_bytes(blob[len(SEALED_MAGIC):], context)
            tmp = path + ".rekey"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(SEALED_MAGIC + new.seal_bytes(data, context))
            staged.append((tmp, path))
    except BaseException:
        _discard(staged)
        raise
    return staged


def _discard(staged: list[tuple[str, str]]) -> None:
    for tmp, _path in staged:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


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
    staged: list[tuple[str, str]] = []
    try:
        with transaction.atomic():
            counts = {name: _reseal(col, old, new) for name, col in _columns().items()}
            counts["change_requests"] = _reseal_change_secrets(old, new)
            counts["person_last4"] = _rehash_last4(new)
            staged = _reseal_documents(old, new)
            counts["change_evidence"] = sum(1 for what, _, _ in _sealed_files()
                                            if what.startswith("变更申请"))
            counts["case_documents"] = len(staged) - counts["change_evidence"]
            new_print = fingerprint(new)
            summary: dict[str, Any] = {**counts, "old_key": fingerprint(old),
                                       "new_key": new_print}
            AuditEvent.objects.create(
                actor=actor if getattr(actor, "pk", None) else None,
                action="system.rotate_data_key", object_type="datakey",
                object_id=new_print, data=summary)
    except BaseException:
        _discard(staged)
        raise
    for tmp, path in staged:  # the database holds the new key's data: the files follow
        os.replace(tmp, path)
    settings.DATA_KEY = new_key
    crypto.box.cache_clear()
    return summary
