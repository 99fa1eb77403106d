"""Recoveries (追回): open, repay, offset against the household's later entitlement, write off
with a second person's approval; the ledger balanced and reconciliation clean at each step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from huimin.audit.models import AuditEvent
from huimin.cases.models import Case
from huimin.cases.timeline import case_entries
from huimin.errors import ActionError, Conflict, Forbidden
from huimin.payments import actions as pay
from huimin.payments import ledger, reconcile
from huimin.payments import recoveries as rec_actions
from huimin.payments.holds import hold_case
from huimin.payments.models import (
    Entitlement,
    LedgerAccount,
    MovementStatus,
    PaymentCycle,
    PaymentLine,
    Recovery,
    RecoveryMovement,
    RecoveryState,
)
from huimin.registry import actions as registry_actions
from tests.conftest import COUNTY, VILLAGE_A, Family, Personas, make_family, make_user, new_id
from tests.web import test_payments
from tests.web.test_payments import approved, cycle_of, world

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
A = LedgerAccount
TODAY = date(2026, 6, 15)


@pytest.fixture(autouse=True)
def frozen_time():  # type: ignore[no-untyped-def]
    with time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=SH), tick=False):
        yield


def clean(*cycles: PaymentCycle) -> None:
    for cycle in cycles:
        cycle.refresh_from_db()
        test_payments.assert_books_clean(cycle)


@dataclass
class Paid:
    cycle: PaymentCycle
    case: Case
    line: PaymentLine
    family: Family
    other: Case  # a second case of the same household, approved after the first was paid


def paid_world(personas: Personas) -> Paid:
    """One case paid in full for 2026; a sibling's case approved later, frozen, not batched."""
    w = world(personas, 1)
    cycle = cycle_of(personas)
    batch = pay.create_batch(personas.finance, cycle)
    pay.release_batch(personas.county, batch)
    pay.export_batch(personas.finance, batch)
    pay.import_return(personas.finance, batch, pay.sample_return(batch))
    fam = w.families[0]
    sibling = registry_actions.create_person(
        personas.cadre_a, name="林二宝", id_number=new_id(date(2025, 2, 2), "M"), sex="M",
        birth_date=date(2025, 2, 2), area=fam.child.area, hukou_type="rural",
        household=fam.child.household)
    registry_actions.link_parent(fam.mother, sibling, "mother")
    other = approved(personas, Family(fam.father, fam.mother, sibling, fam.account))
    cycle_of(personas)  # freezes the sibling's entitlement into the same cycle
    return Paid(cycle, w.cases[0], PaymentLine.objects.get(case=w.cases[0]), fam, other)


def opened(personas: Personas, p: Paid, amount_fen: int = 60000) -> Recovery:
    return rec_actions.open_recovery(
        personas.county, case=p.case, amount_fen=amount_fen,
        cause="补贴对象 2026-06-10 死亡，7–12 月不应发放", period_start=date(2026, 7, 1),
        period_end=date(2026, 12, 31), event_ref="death:民政:E0001")


def test_a_part_of_a_paid_line_becomes_recoverable_and_is_repaid(personas: Personas) -> None:
    p = paid_world(personas)
    rec = opened(personas, p)
    assert (rec.line_id, rec.household_id, rec.cycle_id, rec.balance_fen) == (
        p.line.pk, p.family.child.household_id, p.cycle.pk, 60000)
    assert ledger.balances(p.cycle)[A.RECOVERABLE] == 60000
    clean(p.cycle)
    # the rest of the line may be recovered, not more
    with pytest.raises(ActionError, match="超过该笔发放尚未登记追回的金额"):
        opened(personas, p, p.line.amount_fen - 60000 + 1)

    mv = rec_actions.record_repayment(personas.finance, rec, amount_fen=20000,
                                      on_date=date(2026, 6, 12), receipt="BK20260612001")
    rec.refresh_from_db()
    assert (rec.settled_fen, rec.balance_fen, rec.state) == (20000, 40000, RecoveryState.OPEN)
    assert (mv.receipt, mv.status) == ("BK20260612001", MovementStatus.DONE)
    bal = ledger.balances(p.cycle)
    assert (bal[A.RECOVERABLE], bal[A.RECOVERED]) == (40000, 20000)
    clean(p.cycle)
    rec_actions.record_repayment(personas.finance, rec, amount_fen=40000, on_date=TODAY,
                                 receipt="BK20260615002")
    rec.refresh_from_db()
    assert (rec.balance_fen, rec.state) == (0, RecoveryState.CLOSED)
    clean(p.cycle)
    labels = [e.label for e in case_entries({p.case.pk: p.case}, {})]
    assert labels.count("登记追回退缴") == 2 and "登记应追回款" in labels
    with pytest.raises(ActionError, match="超过待追回余额"):
        rec_actions.record_repayment(personas.finance, rec, amount_fen=1, on_date=TODAY,
                                     receipt="x")


@pytest.mark.parametrize(("amount", "day", "receipt", "message"), [
    (60001, TODAY, "R1", "超过待追回余额 600.00 元"),
    (-100, TODAY, "R1", "须大于零"),
    (0, TODAY, "R1", "须大于零"),
    ("100", TODAY, "R1", "须为整数分"),
    (100, date(2026, 6, 16), "R1", "晚于今天"),
    (100, "2026-06-01", "R1", "须为日期"),
    (100, TODAY, "  ", "银行回单号：请填写"),
])
def test_bad_repayments_are_refused_and_change_nothing(
    personas: Personas, amount: Any, day: Any, receipt: str, message: str,
) -> None:
    p = paid_world(personas)
    rec = opened(personas, p)
    events = AuditEvent.objects.count()
    with pytest.raises(ActionError, match=message):
        rec_actions.record_repayment(personas.finance, rec, amount_fen=amount, on_date=day,
                                     receipt=receipt)
    rec.refresh_from_db()
    assert rec.settled_fen == 0 and not RecoveryMovement.objects.exists()
    assert AuditEvent.objects.count() == events
    clean(p.cycle)


def test_opening_is_refused_for_bad_input_the_wrong_role_and_outsiders(
    personas: Personas,
) -> None:
    p = paid_world(personas)
    kw: dict[str, Any] = {"case": p.case, "amount_fen": 100, "cause": "死亡",
                          "period_start": date(2026, 7, 1), "period_end": date(2026, 12, 31)}
    for actor in (personas.cadre_a, personas.township, personas.auditor):
        with pytest.raises(Forbidden):
            rec_actions.open_recovery(actor, **kw)
    for actor in (personas.finance_b, personas.county_b):
        with pytest.raises(Forbidden, match="管辖"):
            rec_actions.open_recovery(actor, **kw)
    with pytest.raises(ActionError, match="原因"):
        rec_actions.open_recovery(personas.finance, **{**kw, "cause": " "})
    with pytest.raises(ActionError, match="起日晚于止日"):
        rec_actions.open_recovery(personas.finance, **{**kw, "period_start": date(2027, 1, 1)})
    with pytest.raises(ActionError, match="须大于零"):
        rec_actions.open_recovery(personas.finance, **{**kw, "amount_fen": -5})
    with pytest.raises(Conflict, match="没有已支付的发放明细"):
        rec_actions.open_recovery(personas.finance, **{**kw, "case": p.other})
    assert not Recovery.objects.exists()
    # mark_overpaid goes through a recovery of the whole line
    rec = pay.mark_overpaid(personas.finance, p.line, reason="2026-03-01 已死亡")
    assert isinstance(rec, Recovery) and rec.amount_fen == p.line.amount_fen
    with pytest.raises(Conflict, match="已全额登记应追回"):
        rec_actions.open_recovery(personas.finance, **kw)
    clean(p.cycle)


def test_an_offset_reduces_the_households_later_entitlement_and_its_line(
    personas: Personas,
) -> None:
    p = paid_world(personas)
    rec = opened(personas, p)
    ent = Entitlement.objects.get(case=p.other)
    assert [e.pk for e in rec_actions.offset_targets(rec)] == [ent.pk]
    with pytest.raises(ActionError, match="超过待追回余额或该笔应发可抵扣的金额"):
        rec_actions.record_offset(personas.finance, rec, amount_fen=60001, on_date=TODAY,
                                  entitlement=ent)
    own = Entitlement.objects.get(case=p.case)
    with pytest.raises(Conflict, match="已纳入批次"):
        rec_actions.record_offset(personas.finance, rec, amount_fen=100, on_date=TODAY,
                                  entitlement=own)
    rec_actions.record_offset(personas.finance, rec, amount_fen=25000, on_date=TODAY,
                              entitlement=ent, note="经家长同意")
    ent.refresh_from_db()
    rec.refresh_from_db()
    assert (ent.offset_fen, rec.balance_fen) == (25000, 35000)
    bal = ledger.balances(p.cycle)
    assert (bal[A.OFFSET], bal[A.RECOVERED], bal[A.RECOVERABLE]) == (25000, 25000, 35000)
    clean(p.cycle)
    assert "应发中抵扣追回款" in [e.label for e in case_entries({p.other.pk: p.other}, {})]
    # the line pays less by the offset, and says so on the batch page
    batch = pay.create_batch(personas.finance, p.cycle)
    line = batch.lines.get()
    assert line.amount_fen == ent.amount_fen - 25000
    clean(p.cycle)
    pay.release_batch(personas.county, batch)
    pay.export_batch(personas.finance, batch)
    pay.import_return(personas.finance, batch, pay.sample_return(batch))
    clean(p.cycle)


def test_holding_an_offset_entitlement_reverses_the_offset(personas: Personas) -> None:
    p = paid_world(personas)
    rec = opened(personas, p)
    ent = Entitlement.objects.get(case=p.other)
    rec_actions.record_offset(personas.finance, rec, amount_fen=25000, on_date=TODAY,
                              entitlement=ent)
    assert hold_case(personas.county, p.other, held_reason="ineligible", reason="核实不符",
                     from_date=TODAY) == 1
    ent.refresh_from_db()
    rec.refresh_from_db()
    assert (ent.offset_fen, ent.status, rec.balance_fen) == (0, "held", 60000)
    assert RecoveryMovement.objects.get().status == MovementStatus.REVERSED
    bal = ledger.balances(p.cycle)
    assert (bal[A.OFFSET], bal[A.RECOVERED], bal[A.RECOVERABLE]) == (0, 0, 60000)
    clean(p.cycle)


def test_a_write_off_needs_a_second_person(personas: Personas) -> None:
    p = paid_world(personas)
    rec = opened(personas, p)
    with pytest.raises(ActionError, match="核销理由"):
        rec_actions.request_write_off(personas.finance, rec, amount_fen=100, on_date=TODAY,
                                      note="")
    with pytest.raises(ActionError, match="超过待追回余额"):
        rec_actions.request_write_off(personas.finance, rec, amount_fen=60001, on_date=TODAY,
                                      note="无力退缴")
    mv = rec_actions.request_write_off(personas.finance, rec, amount_fen=10000, on_date=TODAY,
                                       note="家庭困难，无力退缴")
    rec.refresh_from_db()
    assert rec.balance_fen == 60000  # a request settles nothing
    clean(p.cycle)
    with pytest.raises(Conflict, match="已有待审批"):
        rec_actions.request_write_off(personas.finance, rec, amount_fen=1, on_date=TODAY,
                                      note="再申请")
    with pytest.raises(Forbidden, match="另一人审批"):
        rec_actions.approve_write_off(personas.finance, mv)
    for actor in (personas.auditor, personas.cadre_a):
        with pytest.raises(Forbidden):
            rec_actions.approve_write_off(actor, mv)
    with pytest.raises(Forbidden, match="管辖"):
        rec_actions.approve_write_off(personas.county_b, mv)
    second = make_user("finance2", "finance_officer", COUNTY)
    rec_actions.approve_write_off(second, mv)
    rec.refresh_from_db()
    mv.refresh_from_db()
    assert (rec.balance_fen, mv.status, mv.approved_by_id) == (50000, "done", second.pk)
    assert ledger.balances(p.cycle)[A.WRITTEN_OFF] == 10000
    clean(p.cycle)
    with pytest.raises(Conflict, match="不是待审批"):
        rec_actions.approve_write_off(personas.county, mv)


def test_movements_refuse_the_wrong_role_and_outsiders(personas: Personas) -> None:
    p = paid_world(personas)
    rec = opened(personas, p)
    ent = Entitlement.objects.get(case=p.other)
    calls = [
        lambda u: rec_actions.record_repayment(u, rec, amount_fen=1, on_date=TODAY,
                                               receipt="R"),
        lambda u: rec_actions.record_offset(u, rec, amount_fen=1, on_date=TODAY,
                                            entitlement=ent),
        lambda u: rec_actions.request_write_off(u, rec, amount_fen=1, on_date=TODAY, note="n"),
    ]
    for call in calls:
        for actor in (personas.cadre_a, personas.auditor, personas.county):
            with pytest.raises(Forbidden):
                call(actor)
        with pytest.raises(Forbidden, match="管辖"):
            call(personas.finance_b)
    assert not RecoveryMovement.objects.exists()
    # another household's entitlement is not offset
    stranger = approved(personas, make_family(personas.cadre_a, VILLAGE_A, date(2025, 3, 3),
                                              surname="郑"))
    cycle_of(personas)
    with pytest.raises(ActionError, match="同一户"):
        rec_actions.record_offset(personas.finance, rec, amount_fen=1, on_date=TODAY,
                                  entitlement=Entitlement.objects.get(case=stranger))
    clean(p.cycle)


def test_reconciliation_lists_a_recovery_whose_movements_disagree(personas: Personas) -> None:
    p = paid_world(personas)
    rec = opened(personas, p)
    rec_actions.record_repayment(personas.finance, rec, amount_fen=100, on_date=TODAY,
                                 receipt="R")
    Recovery.objects.filter(pk=rec.pk).update(settled_fen=200)  # altered behind the books
    p.cycle.refresh_from_db()
    causes = [v.cause for v in reconcile.reconcile(p.cycle).variances]
    assert "已追回及核销金额与追回记录合计不符" in causes
    assert any("总账与明细账" in c for c in causes)


@pytest.mark.django_db(transaction=True)
def test_existing_overpayments_become_recoveries_when_migrating(personas: Personas) -> None:
    """Migration 0005 turns each Overpayment row into a recovery of its whole line."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from tests.web.cases_helpers import restore_reference_data

    restore_reference_data()  # a transactional test starts from a flushed database
    p = paid_world(personas)
    before = ("payments", "0004_holds_and_recovery_accounts")
    after = ("payments", "0005_recoveries_generalise_overpayments")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps
    old.get_model("payments", "Overpayment").objects.create(
        line_id=p.line.pk, amount_fen=p.line.amount_fen, reason="2026-03-01 已死亡",
        actor_id=personas.finance.pk)
    executor = MigrationExecutor(connection)
    executor.migrate([after])
    rec = Recovery.objects.get()
    # back to the whole current schema at once, before anything else reads the tables
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert (rec.line_id, rec.case_id, rec.cycle_id, rec.amount_fen, rec.cause) == (
        p.line.pk, p.case.pk, p.cycle.pk, p.line.amount_fen, "2026-03-01 已死亡")
    assert (rec.period_start, rec.period_end, rec.state, rec.opened_by_id) == (
        date(2026, 1, 1), date(2026, 12, 31), RecoveryState.OPEN, personas.finance.pk)
