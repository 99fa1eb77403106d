"""Holding a case's payment after a change of life (payments/holds.py), and releasing it."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.cases.models import Case
from huimin.cases.states import State
from huimin.cases.timeline import case_entries
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.payments import actions as pay
from huimin.payments import ledger, reconcile
from huimin.payments.holds import hold_case, release_case
from huimin.payments.models import (
    BatchState,
    Entitlement,
    EntitlementStatus,
    HeldReason,
    LedgerAccount,
    PaymentCycle,
    PaymentLine,
)
from tests.conftest import PASSWORD, Personas
from tests.web import test_payments
from tests.web.test_payments import cycle_of, world

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
A = LedgerAccount
DAY = date(2026, 6, 1)


@pytest.fixture(autouse=True)
def frozen_time():  # type: ignore[no-untyped-def]
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        yield


def assert_books_clean(cycle: PaymentCycle) -> None:
    cycle.refresh_from_db()  # its totals follow the holds
    test_payments.assert_books_clean(cycle)


def books_agree(cycle: PaymentCycle) -> None:
    """Books and vouchers agree (a batch at the bank may be in transit)."""
    cycle.refresh_from_db()
    report = reconcile.reconcile(cycle)
    assert report.ok(reconcile.BOOKS) and report.ok(reconcile.VOUCHERS), report.variances
    assert ledger.balances(cycle) == ledger.rebuild_from_events(cycle)


def test_a_waiting_entitlement_is_held_and_released_with_balanced_books(
    personas: Personas,
) -> None:
    w = world(personas, 2)
    cycle = cycle_of(personas)
    case = w.cases[0]
    before = ledger.balances(cycle)
    n = hold_case(personas.county, case, held_reason=HeldReason.DIED,
                  reason="民政推送死亡信息，待核实", from_date=DAY)
    assert n == 1
    ent = Entitlement.objects.get(case=case)
    assert (ent.status, ent.held_reason, ent.held_note, ent.held_from) == (
        EntitlementStatus.HELD, "died", "民政推送死亡信息，待核实", DAY)
    cycle.refresh_from_db()
    assert (cycle.payable_count, cycle.held_count, cycle.held_fen) == (1, 1, case.amount_fen)
    after = ledger.balances(cycle)
    assert after[A.PAYABLE] == before[A.PAYABLE] - case.amount_fen
    assert after[A.ALLOCATION] == before[A.ALLOCATION] + case.amount_fen
    assert_books_clean(cycle)
    ev = AuditEvent.objects.get(action="payment.hold")
    assert (ev.case_id, ev.data["amount_fen"], ev.data["from_date"]) == (
        case.pk, case.amount_fen, "2026-06-01")
    labels = [e.label for e in case_entries({case.pk: case}, {})]
    assert "暂停发放" in labels
    client = Client()
    assert client.login(username="finance", password=PASSWORD)
    page = client.get(reverse("payments:cycle", args=[cycle.pk])).content.decode()
    assert "补贴对象已死亡：民政推送死亡信息，待核实（自 2026-06-01）" in page
    # held twice: nothing more
    assert hold_case(personas.county, case, held_reason="died", reason="再次", from_date=DAY) == 0
    # a batch leaves the held case out
    batch = pay.create_batch(personas.finance, cycle)
    assert list(batch.lines.values_list("case_id", flat=True)) == [w.cases[1].pk]
    assert_books_clean(cycle)

    assert release_case(personas.finance, case, reason="经核实信息有误") == 1
    ent.refresh_from_db()
    assert (ent.status, ent.held_reason, ent.held_from) == (EntitlementStatus.PAYABLE, "", None)
    assert_books_clean(cycle)
    second = pay.create_batch(personas.finance, cycle)
    assert list(second.lines.values_list("case_id", flat=True)) == [case.pk]
    assert_books_clean(cycle)
    assert release_case(personas.finance, case, reason="again") == 0


def test_a_line_in_a_draft_or_released_batch_is_taken_out_and_the_totals_follow(
    personas: Personas,
) -> None:
    w = world(personas, 3)
    cycle = cycle_of(personas)
    batch = pay.create_batch(personas.finance, cycle)
    out, released_out = w.cases[0], w.cases[1]
    assert hold_case(personas.finance, out, held_reason=HeldReason.MOVED,
                     reason="公安推送迁出", from_date=DAY) == 1
    batch.refresh_from_db()
    assert (batch.line_count, batch.total_fen) == (
        2, w.cases[1].amount_fen + w.cases[2].amount_fen)
    assert not PaymentLine.objects.filter(case=out).exists()
    assert Case.objects.get(pk=out.pk).state == State.APPROVED
    ev = AuditEvent.objects.get(action="payment.hold")
    assert ev.data["line"].startswith(batch.number)
    assert (ev.data["old"], ev.data["new"]) == ("in_payment", "approved")
    [held] = [e for e in case_entries({out.pk: out}, {}) if e.action == "payment.hold"]
    assert "发放中 → 已确认，待发放" in held.detail
    books_agree(cycle)
    pay.release_batch(personas.county, batch)
    assert hold_case(personas.admin, released_out, held_reason=HeldReason.SUSPENDED,
                     reason="待核实", from_date=DAY) == 1
    batch.refresh_from_db()
    assert (batch.state, batch.line_count, batch.total_fen) == (
        BatchState.RELEASED, 1, w.cases[2].amount_fen)
    books_agree(cycle)
    data = pay.export_batch(personas.finance, batch)
    assert data.decode("utf-8-sig").count(batch.number + "-") == 1
    # exported: the last line is at the bank, nothing is held
    assert hold_case(personas.county, w.cases[2], held_reason="died", reason="x",
                     from_date=DAY) == 0
    pay.import_return(personas.finance, batch, pay.sample_return(batch))
    assert_books_clean(cycle)
    # paid: not held either (a recovery is the way)
    assert hold_case(personas.county, w.cases[2], held_reason="died", reason="x",
                     from_date=DAY) == 0
    assert_books_clean(cycle)


def test_a_batch_emptied_by_holds_is_neither_released_nor_exported(personas: Personas) -> None:
    w = world(personas, 1)
    cycle = cycle_of(personas)
    batch = pay.create_batch(personas.finance, cycle)
    hold_case(personas.county, w.cases[0], held_reason="died", reason="死亡", from_date=DAY)
    batch.refresh_from_db()
    assert (batch.line_count, batch.total_fen) == (0, 0)
    with pytest.raises(Conflict, match="已没有明细"):
        pay.release_batch(personas.county, batch)
    assert_books_clean(cycle)


def test_holds_refuse_the_wrong_role_an_outsider_and_bad_input(personas: Personas) -> None:
    w = world(personas, 1)
    cycle = cycle_of(personas)
    case = w.cases[0]
    for actor in (personas.cadre_a, personas.township, personas.auditor):
        with pytest.raises(Forbidden):
            hold_case(actor, case, held_reason="died", reason="x", from_date=DAY)
        with pytest.raises(Forbidden):
            release_case(actor, case, reason="x")
    for actor in (personas.county_b, personas.finance_b):
        with pytest.raises(Forbidden, match="管辖"):
            hold_case(actor, case, held_reason="died", reason="x", from_date=DAY)
    with pytest.raises(ActionError, match="暂停原因"):
        hold_case(personas.county, case, held_reason="gone", reason="x", from_date=DAY)
    with pytest.raises(ActionError, match="暂停说明"):
        hold_case(personas.county, case, held_reason="died", reason="  ", from_date=DAY)
    with pytest.raises(ActionError, match="恢复说明"):
        release_case(personas.county, case, reason="")
    assert Entitlement.objects.get(case=case).status == EntitlementStatus.PAYABLE
    assert not AuditEvent.objects.filter(action__startswith="payment.").exists()
    assert_books_clean(cycle)


def test_a_case_without_entitlement_or_held_for_want_of_an_account_changes_nothing(
    personas: Personas,
) -> None:
    w = world(personas, 1)
    assert hold_case(personas.county, w.cases[0], held_reason="died", reason="x",
                     from_date=DAY) == 0  # not frozen yet
    cycle = cycle_of(personas)
    Entitlement.objects.filter(case=w.cases[0]).update(status="held", held_reason="no_account")
    assert release_case(personas.county, w.cases[0], reason="x") == 0
    assert not AuditEvent.objects.filter(action__startswith="payment.").exists()
    assert cycle.pk


def test_a_failed_line_of_a_suspended_case_is_not_corrected(personas: Personas) -> None:
    w = world(personas, 1)
    cycle = cycle_of(personas)
    batch = pay.create_batch(personas.finance, cycle)
    pay.release_batch(personas.county, batch)
    pay.export_batch(personas.finance, batch)
    line = batch.lines.get()
    pay.import_return(personas.finance, batch,
                      pay.sample_return(batch, {line.reference: "账户已销户"}))
    # failed and not corrected: the money waits in 发放失败待重发, nothing is held
    assert hold_case(personas.county, w.cases[0], held_reason="died", reason="x",
                     from_date=DAY) == 0
    Case.objects.filter(pk=w.cases[0].pk).update(state=State.SUSPENDED)
    line.refresh_from_db()
    with pytest.raises(Conflict, match="暂停期间"):
        pay.correct_line(personas.finance, line, bank_account=w.families[0].account,
                         note="已核实")
    assert_books_clean(cycle)


def test_resuming_a_suspended_case_releases_the_payment_held_for_it(
    personas: Personas,
) -> None:
    from huimin.cases import actions as case_actions

    w = world(personas, 2)
    cycle = cycle_of(personas)
    case = w.cases[0]
    assert hold_case(personas.county, case, held_reason=HeldReason.SUSPENDED,
                     reason="公安推送迁移信息，待核实", from_date=DAY) == 1
    case = case_actions.suspend_case(personas.county, case, from_date=DAY,
                                     reason="公安推送迁移信息，待核实")
    assert case.state == State.SUSPENDED
    assert Entitlement.objects.get(case=case).status == EntitlementStatus.HELD
    assert_books_clean(cycle)
    with pytest.raises(Forbidden):
        case_actions.resume_case(personas.finance, case, reason="经核实未迁出")
    case = case_actions.resume_case(personas.county, case, reason="经核实未迁出")
    assert case.state == State.APPROVED
    ent = Entitlement.objects.get(case=case)
    assert (ent.status, ent.held_reason) == (EntitlementStatus.PAYABLE, "")
    assert AuditEvent.objects.filter(action="payment.release", case_id=case.pk).count() == 1
    assert_books_clean(cycle)
    batch = pay.create_batch(personas.finance, cycle)
    assert set(batch.lines.values_list("case_id", flat=True)) == {c.pk for c in w.cases}
    assert_books_clean(cycle)
