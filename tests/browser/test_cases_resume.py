"""暂停发放 in Debian's chromium: the county approver reads the panel of a suspended case and
resumes it with the finding; the township reviewer sees the panel without the forms. Shot
at 1366 and 390 px wide."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine

from tests.browser.conftest import login, logout
from tests.browser.test_register_changes import both
from tests.conftest import VILLAGE_A, Personas, make_family

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_county_resumes_a_suspended_case(page: Any, live_server: Any,
                                             personas: Personas) -> None:
    from huimin.cases import actions
    from huimin.payments import actions as pay_actions
    from huimin.payments.holds import hold_case
    from huimin.programs.models import Program
    from tests.web.feeds_helpers import NOW, childcare_case

    why = "父亲迁出本县（150102001001），待迁入地确认"
    with time_machine.travel(NOW, tick=False):
        fam = make_family(personas.cadre_a, VILLAGE_A, date(2023, 12, 10))
        case = childcare_case(personas, fam)
        pay_actions.build_cycle(personas.finance, program=Program.objects.get(
            code="childcare-subsidy"), claim_year=2026)
        hold_case(personas.county, case, held_reason="suspended", reason=why,
                  from_date=date(2026, 6, 1))
        actions.suspend_case(personas.county, case, from_date=date(2026, 6, 1), reason=why)
    base = live_server.url
    login(page, base, "township")
    page.goto(f"{base}/cases/{case.pk}/")
    assert why in page.content()
    assert page.locator("button:has-text('恢复发放')").count() == 0
    logout(page)
    login(page, base, "county")
    page.goto(f"{base}/cases/{case.pk}/")
    page.wait_for_selector("button:has-text('恢复发放')")
    both(page, "cases-resume-01-panel")
    page.fill("#resume_reason", "迁入地核实未迁出，恢复发放")
    page.click("button:has-text('恢复发放')")
    page.wait_for_load_state()
    both(page, "cases-resume-02-resumed")
    case.refresh_from_db()
    assert case.state == "approved" and not case.stop_reason
