"""A cycle's cut-off (截止日): a subject who died or moved out of the county on or before it
is held back with the reason, on the first build and on every build after; after it, the
period is still due. One audit event per build; each case's part is its entitlement."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.cases import actions as case_actions
from huimin.cases.models import Case
from huimin.cases.timeline import case_entries
from huimin.payments import actions as pay
from huimin.payments import ledger
from huimin.payments.models import Entitlement, PaymentCycle
from huimin.programs.models import Program
from huimin.registry.models import Person
from tests.conftest import PASSWORD, VILLAGE_A, Family, Personas, make_family

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
CUT = date(2026, 6, 30)


@pytest.fixture(autouse=True)
def frozen_time():  # type: ignore[no-untyped-def]
    with time_machine.travel(datetime(2026, 7, 15, 10, 0, tzinfo=SH), tick=False) as t:
        yield t


def approved(personas: Personas, family: Family) -> Case:
    program = Program.objects.get(code="childcare-subsidy")
    case = case_actions.submit_application(
        personas.cadre_a, program=program, subject=family.child, claim_year=2026,
        applicant=family.mother, bank_account=family.account)
    case_actions.township_review(personas.township, case, approve=True)
    return case_actions.county_confirm(personas.county, case, approve=True)


def build(personas: Personas) -> PaymentCycle:
    return pay.build_cycle(personas.finance, program=Program.objects.get(
        code="childcare-subsidy"), claim_year=2026, period="2026", cut_off=CUT)


def test_moves_out_before_the_cut_off_are_held_after_it_still_due(
        personas: Personas) -> None:
    fams = [make_family(personas.cadre_a, VILLAGE_A, date(2024, 1 + i, 5), surname="林黄郑"[i])
            for i in range(3)]
    cases = [approved(personas, f) for f in fams]
    # the register knows of both moves out of the county (the cases not yet transferred)
    Person.objects.filter(pk=fams[0].child.pk).update(moved_out_on=date(2026, 6, 30),
                                                      moved_to_code="110101001001")
    Person.objects.filter(pk=fams[1].child.pk).update(moved_out_on=date(2026, 7, 1),
                                                      moved_to_code="110101001001")
    cycle = build(personas)
    ents = {e.case_id: e for e in Entitlement.objects.filter(cycle=cycle)}
    held = ents[cases[0].pk]
    assert (held.status, held.held_reason, held.held_note) == (
        "held", "moved", "迁出日期 2026-06-30，不晚于截止日 2026-06-30")
    assert [ents[c.pk].status for c in cases[1:]] == ["payable", "payable"]
    assert (cycle.payable_count, cycle.held_count) == (2, 1)

    ev = AuditEvent.objects.get(action="cycle.build", object_id=str(cycle.pk))
    assert (ev.data["held"], ev.data["frozen"], ev.data["cut_off"]) == (
        {"moved": 1}, 3, "2026-06-30")
    # the case's history shows its part of the build
    entry = [e for e in case_entries({cases[0].pk: cases[0]}, {})
             if e.action == "case.freeze"]
    assert len(entry) == 1 and entry[0].at == ev.at and entry[0].actor == str(personas.finance)
    assert entry[0].detail == (f"发放周期 {cycle.number}（截止日 2026-06-30）；冻结金额 "
                               "3,600.00 元；暂停发放：户籍已迁出本区域（迁出日期 2026-06-30，"
                               "不晚于截止日 2026-06-30）")
    client = Client()
    assert client.login(username=personas.finance.username, password=PASSWORD)
    page = client.get(reverse("payments:cycle", args=[cycle.pk])).content.decode()
    assert "户籍已迁出本区域：迁出日期 2026-06-30，不晚于截止日 2026-06-30" in page


def test_a_rebuild_keeps_the_cut_off_for_a_hold_waiting_for_an_account(
        personas: Personas, frozen_time) -> None:  # type: ignore[no-untyped-def]
    fams = [make_family(personas.cadre_a, VILLAGE_A, date(2024, 2 + i, 5), surname="陈吴"[i])
            for i in range(2)]
    cases = [approved(personas, f) for f in fams]
    # approved before approvals required an account
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(bank_account=None)
    cycle = build(personas)
    assert cycle.held_count == 2
    # both get an account; one subject's death before the cut-off is registered meanwhile
    for case, fam in zip(cases, fams, strict=True):
        Case.objects.filter(pk=case.pk).update(bank_account=fam.account)
    Person.objects.filter(pk=fams[0].child.pk).update(death_date=date(2026, 6, 1))
    frozen_time.shift(3600)
    again = build(personas)
    dead, alive = (Entitlement.objects.get(case=c) for c in cases)
    assert (dead.status, dead.held_reason, dead.held_note) == (
        "held", "died", "死亡日期 2026-06-01，不晚于截止日 2026-06-30")
    assert (alive.status, alive.held_reason, alive.bank_account_id) == (
        "payable", "", fams[1].account.pk)
    assert (again.payable_count, again.held_count) == (1, 1)
    assert again.payable_fen == alive.amount_fen
    assert ledger.balances(again) == ledger.rebuild_from_events(again)
    last = AuditEvent.objects.filter(action="cycle.build").order_by("-id").first()
    assert last is not None and (last.data["rechecked"], last.data["payable"]) == (2, 1)
    # the case's history: the first build's part, held for the death now
    entries = [e for e in case_entries({cases[0].pk: cases[0]}, {})
               if e.action == "case.freeze"]
    assert len(entries) == 1 and entries[0].detail.endswith(
        "暂停发放：补贴对象已死亡（死亡日期 2026-06-01，不晚于截止日 2026-06-30）")
