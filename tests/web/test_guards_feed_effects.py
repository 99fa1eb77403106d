"""Refusals of confirming feed effects in bulk (``huimin.verification.apply.confirm``):
nothing chosen, or more than ``BULK_MAX`` at once; nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from huimin.audit.models import AuditEvent
from huimin.errors import ActionError
from huimin.verification import apply
from huimin.verification.models import Effect
from tests.conftest import Personas
from tests.web.feeds_helpers import NOW, childcare_case, death_file, load

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def test_confirming_nothing_or_too_much_at_once_is_refused(personas: Personas,
                                                           family_a: Any) -> None:
    childcare_case(personas, family_a)
    load(personas.county, death_file([["D1", family_a.child.id_number, family_a.child.name,
                                       "2026-03-05", "", ""]]))
    effects = list(Effect.objects.order_by("id"))
    before = (list(AuditEvent.objects.values_list("id", flat=True)),
              list(Effect.objects.values_list("id", "status")))
    with pytest.raises(ActionError, match="没有选择要确认的事项"):
        apply.confirm(personas.county, [])
    with pytest.raises(ActionError, match=f"一次最多确认 {apply.BULK_MAX} 项"):
        apply.confirm(personas.county, effects * (apply.BULK_MAX // len(effects) + 1))
    assert (list(AuditEvent.objects.values_list("id", flat=True)),
            list(Effect.objects.values_list("id", "status"))) == before
    assert {e.status for e in effects} == {"proposed"}
