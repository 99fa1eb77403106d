"""Recoveries in chromium: a death after a year paid in full — the next payment held, the
months after the death recoverable, the repayment recorded on the page — with the books
balanced at every step; the auditor reads the same page without forms. Screenshots at 1366
and 390 px."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.browser.conftest import click_nav, login, logout, shot
from tests.conftest import VILLAGE_A, Personas, make_family

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _clean(cycle: Any) -> None:
    from huimin.payments import ledger, reconcile

    cycle.refresh_from_db()
    report = reconcile.reconcile(cycle)
    assert report.all_ok, report.variances
    assert ledger.balances(cycle) == ledger.rebuild_from_events(cycle)


def test_a_recovery_is_repaid_on_the_page(page: Any, live_server: Any,
                                          personas: Personas) -> None:
    from huimin.cases import actions as case_actions
    from huimin.payments import actions as pay
    from huimin.payments import recoveries
    from huimin.payments.holds import hold_case
    from huimin.payments.models import Entitlement, PaymentLine, Recovery
    from huimin.programs.models import Program

    base = live_server.url
    with time_machine.travel(datetime(2026, 6, 15, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))):
        program = Program.objects.get(code="childcare-subsidy")
        cases = []
        for born, surname in ((date(2024, 2, 20), "林"), (date(2024, 3, 3), "黄")):
            fam = make_family(personas.cadre_a, VILLAGE_A, born, surname=surname)
            case = case_actions.submit_application(
                personas.cadre_a, program=program, subject=fam.child, claim_year=2026,
                applicant=fam.mother, bank_account=fam.account)
            case_actions.township_review(personas.township, case, approve=True)
            cases.append(case_actions.county_confirm(personas.county, case, approve=True))
        cycle = pay.build_cycle(personas.finance, program=program, claim_year=2026)
        paid = pay.create_batch(personas.finance, cycle)
        # both children are paid in full for the year
        pay.release_batch(personas.county, paid)
        pay.export_batch(personas.finance, paid)
        pay.import_return(personas.finance, paid, pay.sample_return(paid))
        _clean(cycle)
        line = PaymentLine.objects.get(case=cases[0])
        # the first child died on 2026-06-10: July–December were not due
        rec = recoveries.open_recovery(
            personas.county, case=cases[0], amount_fen=line.amount_fen // 2,
            cause="补贴对象 2026-06-10 死亡，7–12 月不应发放", period_start=date(2026, 7, 1),
            period_end=date(2026, 12, 31), line=line, event_ref="death:民政:E0001")
        _clean(cycle)
        # paid already: nothing to hold; a case approved since is held while a report is checked
        assert hold_case(personas.county, cases[1], held_reason="suspended",
                         reason="待核实", from_date=date(2026, 6, 1)) == 0
        fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 5, 5), surname="郑")
        late = case_actions.submit_application(
            personas.cadre_a, program=program, subject=fam.child, claim_year=2026,
            applicant=fam.mother, bank_account=fam.account)
        case_actions.township_review(personas.township, late, approve=True)
        late = case_actions.county_confirm(personas.county, late, approve=True)
        pay.build_cycle(personas.finance, program=program, claim_year=2026)
        assert hold_case(personas.county, late, held_reason="suspended",
                         reason="民政推送死亡信息，待核实", from_date=date(2026, 6, 1)) == 1
        assert Entitlement.objects.get(case=late).status == "held"
        _clean(cycle)

        for width, height in ((1366, 900), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            login(page, base, "finance")
            click_nav(page, "追回")
            page.wait_for_selector("[data-testid=recoveries]")
            assert rec.number in page.inner_text("[data-testid=recoveries]")
            assert page.inner_text("[data-testid=open-balance]") == "1,800.00 元"
            shot(page, f"recoveries-list-{width}")
            page.click(f"text={rec.number}")
            page.wait_for_selector("[data-testid=balance]")
            shot(page, f"recovery-detail-{width}")
            logout(page)

        page.set_viewport_size({"width": 390, "height": 844})
        login(page, base, "finance")
        page.goto(f"{base}/payments/recoveries/{rec.pk}/")
        page.fill("#repay-amount", "1800.01")
        page.fill("#repay-receipt", "BK20260615001")
        page.click("[data-testid=repay]")
        page.wait_for_selector(".messages .error")
        assert "超过待追回余额" in page.inner_text(".messages")
        page.fill("#repay-amount", "800")
        page.fill("#repay-receipt", "BK20260615001")
        page.click("[data-testid=repay]")
        page.wait_for_selector("text=退缴已登记")
        assert page.inner_text("[data-testid=balance]") == "1,000.00 元"
        assert "BK20260615001" in page.inner_text("[data-testid=movements]")
        _clean(cycle)
        page.fill("#repay-amount", "1000")
        page.fill("#repay-receipt", "BK20260615002")
        page.click("[data-testid=repay]")
        page.wait_for_selector("text=退缴已登记")
        assert page.inner_text("[data-testid=recovery-state]") == "已结清"
        assert Recovery.objects.get(pk=rec.pk).balance_fen == 0
        _clean(cycle)
        page.set_viewport_size({"width": 1366, "height": 900})
        shot(page, "recovery-detail-closed-1366")
        logout(page)

        page.set_viewport_size({"width": 390, "height": 844})
        login(page, base, "auditor")
        page.goto(f"{base}/payments/recoveries/{rec.pk}/")
        page.wait_for_selector("[data-testid=movements]")
        assert page.locator("[data-testid=repay]").count() == 0
        shot(page, "recovery-detail-auditor-390")
