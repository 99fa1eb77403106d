"""Two people acting on one case at once: exactly one succeeds, the other gets a conflict
with the current state. Real concurrent transactions, so PostgreSQL only."""

from __future__ import annotations

import os
import threading
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from huimin.cases import actions
from huimin.cases.models import Case
from huimin.errors import ActionError, Conflict
from tests.conftest import PASSWORD, VILLAGE_A, Personas
from tests.web.cases_helpers import apply_rural, make_rural_couple, restore_reference_data

SH = ZoneInfo("Asia/Shanghai")
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (DATABASE_URL): SQLite "
                       "serialises writers, so two transactions cannot act on one case at once"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def needs_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so two transactions "
                    "cannot act on one case at the same moment")
    restore_reference_data()


def race(*calls: Any) -> list[Any]:
    """Run the calls at the same moment, each in its own thread and connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = calls[i]()
        except ActionError as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_decisions_at_once_one_wins(personas: Personas) -> None:
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=True):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        case = apply_rural(personas.cadre_a, couple.husband)
        version = case.version
        second_cadre = personas.cadre_a.__class__.objects.get(pk=personas.cadre_a.pk)
        results = race(
            lambda: actions.decide(personas.cadre_a, case, "approve",
                                   expected_version=version),
            lambda: actions.decide(second_cadre, case, "reject",
                                   reason_codes=["facts_untrue"], comment="不符",
                                   expected_version=version),
        )
    wins = [r for r in results if isinstance(r, Case)]
    losses = [r for r in results if isinstance(r, Conflict)]
    assert len(wins) == 1 and len(losses) == 1, results
    case.refresh_from_db()
    assert case.state == wins[0].state and case.version == version + 1
    assert f"当前状态：{case.state_label}" in losses[0].message
    assert case.decisions.exclude(outcome="submitted").count() == 1


def test_stale_form_shows_the_conflict_and_current_state(personas: Personas) -> None:
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=True):
        couple = make_rural_couple(personas.cadre_a, VILLAGE_A)
        case = apply_rural(personas.cadre_a, couple.husband)
        first, second = Client(), Client()
        for c in (first, second):
            assert c.login(username="cadre_a", password=PASSWORD)
        url = reverse("cases:act", args=[case.pk])
        results = race(
            lambda: first.post(url, {"transition": "approve", "version": case.version}),
            lambda: second.post(url, {"transition": "return", "version": case.version,
                                      "comment": "请补正"}),
        )
        assert [r.status_code for r in results] == [302, 302]
        pages = [c.get(reverse("cases:detail", args=[case.pk])).content.decode()
                 for c in (first, second)]
    case.refresh_from_db()
    assert case.version == 2
    conflicted = [p for p in pages if "案件已被他人处理" in p]
    assert len(conflicted) == 1 and f"当前状态：{case.state_label}" in conflicted[0]
