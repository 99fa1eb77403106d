"""The demo county has the volume of a real one: hundreds of cases in six villages of three
townships in every state, postings that have ended, cycles and batches at each step of
payment, pending register work; all of it through the actions, and the books reconcile."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from django.db.models import Count
from django.test import Client, override_settings

from huimin.audit.models import AuditEvent
from huimin.cases.actions import ready_problem
from huimin.cases.models import Case, Notice, NoticeEntry, Objection
from huimin.demo import DEMO_PASSWORD, HISTORY_DAYS, DemoLogin, build, counts
from huimin.payments.models import (
    BankStatement,
    LineCorrection,
    PaymentBatch,
    PaymentCycle,
    PaymentLine,
    Recovery,
)
from huimin.payments.reconcile import BANK, reconcile
from huimin.registry.models import ChangeRequest
from huimin.verification.models import Effect, FeedRow
from tests.conftest import FAST_HASHERS

SH = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def demo(django_db_setup: Any, django_db_blocker: Any) -> Iterator[list[DemoLogin]]:
    """The demo built once for the module (on 2026-11-20), rolled back afterwards."""
    with (time_machine.travel(datetime(2026, 11, 20, 15, 0, tzinfo=SH), tick=False),
          override_settings(PASSWORD_HASHERS=FAST_HASHERS), django_db_blocker.unblock(),
          transaction.atomic()):
        logins = build(3000, 2025, TODAY)
        yield logins
        transaction.set_rollback(True)


pytestmark = pytest.mark.django_db


def test_hundreds_of_cases_in_every_state_across_villages_and_townships(
        demo: list[DemoLogin]) -> None:
    by_state = counts()
    assert sum(by_state.values()) >= 300
    for state in ("submitted", "village_approved", "township_approved", "approved",
                  "in_payment", "paid", "payment_failed", "returned", "rejected", "suspended",
                  "stopped"):
        assert by_state.get(state, 0) > 0, state
    assert by_state["paid"] >= 50
    villages = dict(Case.objects.values_list("area__code").annotate(n=Count("id")).order_by())
    assert len(villages) == 6 and min(villages.values()) >= 20
    assert len({code[:9] for code in villages}) == 3
    by_program = dict(Case.objects.values_list("program__code").annotate(n=Count("id"))
                      .order_by())
    assert by_program["childcare-subsidy"] >= 100 and by_program["rural-reward"] >= 50
    # the same seed and day give the same county
    assert by_state == {
        "approved": 4, "in_payment": 30, "paid": 106, "payment_failed": 3, "rejected": 49,
        "returned": 10, "stopped": 2, "submitted": 47, "suspended": 2,
        "township_approved": 32, "village_approved": 17,
    }, repr(by_state)


def test_every_case_came_through_the_actions(demo: list[DemoLogin]) -> None:
    cases = Case.objects.count()
    assert AuditEvent.objects.filter(action="case.submit").count() == cases
    assert set(AuditEvent.objects.filter(action="case.submit")
               .values_list("object_id", flat=True)) == {
        str(pk) for pk in Case.objects.values_list("pk", flat=True)}
    # every decision and posting left its event, and each happened on its day
    first = AuditEvent.objects.order_by("at").first()
    assert first is not None
    assert (TODAY - first.at.astimezone(SH).date()).days == HISTORY_DAYS - 1


def test_a_rural_reward_case_past_its_posting_period_waits_for_the_township(
        demo: list[DemoLogin]) -> None:
    with time_machine.travel(datetime(2026, 11, 20, 16, 0, tzinfo=SH), tick=False):
        ended = (NoticeEntry.objects.filter(notice__level="village", notice__end_on__lt=TODAY,
                                            case__state="village_approved",
                                            withdrawn_at=None)
                 .select_related("case", "notice"))
        assert ended.count() >= 5
        for entry in ended:
            assert ready_problem(entry.case, TODAY) == ""
            assert entry.case.awaiting_role == "township_reviewer"
    levels = set(Notice.objects.values_list("level", flat=True))
    assert levels == {"village", "township", "county"}
    # a posting running today, for the village's newest applications
    assert Notice.objects.filter(start_on=TODAY, level="village").count() == 1
    statuses = dict(Objection.objects.values_list("status").annotate(n=Count("id")).order_by())
    assert statuses == {"open": 1, "dismissed": 1, "upheld": 1}


def test_cycles_and_batches_at_each_step_of_payment(demo: list[DemoLogin]) -> None:
    assert PaymentCycle.objects.count() == 3
    states = sorted(PaymentBatch.objects.values_list("state", flat=True))
    assert states == ["draft", "exported", "returned", "returned", "returned"]
    assert PaymentLine.objects.filter(status="failed").exists()
    assert PaymentLine.objects.filter(status="returned").exists()
    assert LineCorrection.objects.count() >= 3
    assert PaymentLine.objects.filter(status__in=["failed", "returned"],
                                      correction__isnull=True).count() == 3  # to correct
    assert BankStatement.objects.filter(agrees=True).count() == 2
    rec = Recovery.objects.get()
    assert 0 < rec.settled_fen < rec.amount_fen


def test_the_books_reconcile(demo: list[DemoLogin]) -> None:
    for cycle in PaymentCycle.objects.all():
        report = reconcile(cycle)
        # the only variances: money at the bank whose return has not come yet
        left = [(v.check, v.cause) for v in report.variances]
        exported = PaymentBatch.objects.filter(cycle=cycle, state="exported").count()
        assert left == [(BANK, "已导出银行文件，尚未收到回盘：资金在途")] * exported, left
        assert report.more == 0


def test_register_work_waits(demo: list[DemoLogin]) -> None:
    assert ChangeRequest.objects.filter(status="submitted").count() == 2
    assert Effect.objects.filter(status="proposed").count() >= 2
    assert FeedRow.objects.filter(status="quarantined").count() == 1


def test_the_printed_logins_work(demo: list[DemoLogin]) -> None:
    assert {d.username for d in demo} >= {"cadre_a", "cadre_b", "township", "county",
                                          "finance", "auditor", "admin"}
    for login in demo:
        assert login.password == DEMO_PASSWORD
        client = Client()
        resp = client.post("/login/", {"username": login.username, "password": login.password})
        assert resp.status_code == 302, login.username
        assert "/login/" not in resp["Location"], login.username
        if login.second_factor == "无":
            assert client.get("/").status_code == 200, login.username

