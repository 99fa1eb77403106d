"""``huimin.bulk.insert``: many new rows at once, with their keys, as ``save`` would write
them (COPY on PostgreSQL, ``bulk_create`` elsewhere)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from huimin import bulk
from huimin.audit.models import AuditEvent
from huimin.registry.models import Area

pytestmark = pytest.mark.django_db


def test_rows_come_back_saved_with_their_keys_and_defaults() -> None:
    before = AuditEvent.objects.count()
    made = bulk.insert([AuditEvent(action="test.bulk", object_type="x", object_id=str(i),
                                   area_code="445224", data={"名": "李", "n": i, "l": [1, None]})
                        for i in range(5)])
    assert [e.pk for e in made] == sorted(e.pk for e in made) and None not in [e.pk
                                                                             for e in made]
    assert all(not e._state.adding for e in made)
    stored = {e.pk: e for e in AuditEvent.objects.filter(action="test.bulk")}
    assert AuditEvent.objects.count() == before + 5 and set(stored) == {e.pk for e in made}
    for e in made:
        row = stored[e.pk]
        assert row.data == {"名": "李", "n": int(row.object_id), "l": [1, None]}
        assert row.at is not None and row.at == e.at  # auto_now_add, as save fills it
    # the sequence moved past them: a row saved the ordinary way gets a new key
    after = AuditEvent.objects.create(action="test.bulk", object_type="x", object_id="9")
    assert after.pk > max(e.pk for e in made)
    assert bulk.insert([]) == []


def test_a_key_already_taken_is_an_integrity_error_and_writes_nothing() -> None:
    county = Area.objects.get(code="445224000000")
    before = Area.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert([Area(code="445224999998", name="甲", level="village", parent=county),
                     Area(code=county.code, name="重复", level="county")])
    assert Area.objects.count() == before
