"""The pages the controls changed, in chromium at a desk's width and a phone's: the review
form naming the missing documents, the missing-account warning on the case and in the list,
the household choice of 登记人员 and the cycle form's formats."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.browser.conftest import login, logout, shot
from tests.conftest import VILLAGE_A, make_family, make_personas

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = (1366, 390)


def _world() -> Any:
    from huimin.cases import actions as case_actions
    from huimin.programs.models import Program
    from huimin.registry.models import BankAccount

    personas = make_personas()
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2025, 2, 2))
    BankAccount.objects.filter(pk=fam.account.pk).update(active=False)
    case = case_actions.submit_application(
        personas.township, program=Program.objects.get(code="childcare-subsidy"),
        subject=fam.child, claim_year=2026, applicant=fam.mother)
    return case


def test_control_pages_at_desk_and_phone_width(page: Any, live_server: Any,
                                               required_documents: None) -> None:
    case = _world()
    base = live_server.url
    login(page, base, "township")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{base}/cases/{case.pk}/")
        assert "必交材料未上传：出生医学证明、户口簿、银行卡或存折" in page.inner_text(
            "[data-testid=missing-documents]")
        assert "未登记" in page.inner_text("[data-testid=account-warning]")
        shot(page, f"controls-case-{width}")
        page.goto(f"{base}/cases/")
        assert page.is_visible("[data-testid=no-account]")
        shot(page, f"controls-case-list-{width}")
        page.goto(f"{base}/registry/persons/new/")
        assert page.is_visible("[data-testid=household-choice]")
        shot(page, f"controls-person-new-{width}")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{base}/cases/{case.pk}/")
    page.click("button[value=approve]")
    assert "必交材料：缺少出生医学证明、户口簿、银行卡或存折" in page.inner_text("main")
    page.fill("#override_reason", "原件已现场核验，扫描件随后补交")
    page.click("button[value=approve]")
    page.wait_for_selector("[data-testid=overrides]")
    case.refresh_from_db()
    assert case.state == "township_approved"
    logout(page)
    login(page, base, "county")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{base}/cases/{case.pk}/")
        assert "原件已现场核验，扫描件随后补交" in page.inner_text("[data-testid=overrides]")
        shot(page, f"controls-case-county-{width}")
    logout(page)
    login(page, base, "finance")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{base}/payments/")
        assert "格式：年度 2026、季 2026-Q2" in page.inner_text("main")
        shot(page, f"controls-cycle-form-{width}")
