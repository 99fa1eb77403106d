"""Duplicate detection on every change of the register: new records (a registration, an
import) are scored against their county's register once the transaction commits; a change of
a record clears, in the same transaction, the pending flags its old data raised, and the
record is scored again after the commit. ``HUIMIN_DUPLICATES_ON_CHANGE=0`` turns the scoring
off (the clearing stays): for bulk loads, then run ``huimin registry duplicates --user``."""

from __future__ import annotations

import os
import threading
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save

_pending = threading.local()


def enabled() -> bool:
    return os.environ.get("HUIMIN_DUPLICATES_ON_CHANGE", "1") != "0"


def connect() -> None:
    from huimin.registry.models import Person
    from huimin.registry.signals import person_changed

    person_changed.connect(_changed, dispatch_uid="identity.person_changed")
    post_save.connect(_created, sender=Person, dispatch_uid="identity.person_created")


def _schedule(pk: int) -> None:
    schedule([pk])


class _Batch:
    """The records one transaction registered or changed, scored once after it commits."""

    def __init__(self) -> None:
        self.pks: set[int] = set()

    def __call__(self) -> None:
        if getattr(_pending, "batch", None) is self:
            _pending.batch = None
        if self.pks:
            from huimin.identity.runs import run_new_records

            run_new_records(sorted(self.pks))


def schedule(new_pks: list[int]) -> None:
    """Score these records after the transaction commits (an import's bulk insert sends no
    ``post_save``, so the importer calls this itself); nothing while scoring is off.

    The records of one transaction are scored together. A transaction rolled back drops its
    batch with its commit callbacks, so its records never join the next transaction's (they
    would be scored as new among themselves instead of against the register)."""
    if not enabled() or not new_pks:
        return
    batch: _Batch | None = getattr(_pending, "batch", None)
    waiting = transaction.get_connection().run_on_commit
    if batch is not None and any(item[1] is batch for item in waiting):
        batch.pks.update(new_pks)
        return
    batch = _pending.batch = _Batch()
    batch.pks.update(new_pks)
    transaction.on_commit(batch)  # at once outside a transaction


def _created(sender: Any, instance: Any, created: bool, raw: bool = False, **_: Any) -> None:
    if created and not raw and enabled():
        _schedule(instance.pk)


def _changed(sender: Any, person: Any, actor: Any = None, **_: Any) -> None:
    from huimin.identity.actions import clear_stale

    clear_stale(actor, [person])
    if enabled():
        _schedule(person.pk)
