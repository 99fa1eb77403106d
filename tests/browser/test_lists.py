"""The lists in chromium at a desk's width and a phone's: the filter form, the table inside
its scrolling wrapper, the page jump and the masked Excel export."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.browser.conftest import login, shot
from tests.conftest import VILLAGE_A, make_personas

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [("persons", "/registry/persons/"), ("households", "/registry/households/"),
         ("cases", "/cases/"), ("notices", "/notices/"), ("batches", "/payments/"),
         ("cycles", "/payments/cycles/")]


def _world() -> Any:
    from huimin.cases import actions as case_actions
    from huimin.programs.models import Program
    from tests.conftest import make_family

    personas = make_personas()
    program = Program.objects.get(code="childcare-subsidy")
    for i in range(3):
        fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2 + i),
                          surname="林郑何"[i])
        case_actions.submit_application(personas.cadre_a, program=program, subject=fam.child,
                                        claim_year=2026, applicant=fam.mother,
                                        bank_account=fam.account)
    return personas


def test_lists_at_desk_and_phone_width(page: Any, live_server: Any) -> None:
    _world()
    login(page, live_server.url, "county")
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for name, url in PAGES:
            page.goto(live_server.url + url)
            assert page.locator("[data-testid=list-filters]").count() == 1, name
            assert page.locator(".table-wrap table").count() >= 1, name
            shot(page, f"list-{name}-{width}")
    page.goto(live_server.url + "/registry/persons/?sort=nope&from=2026-13-01")
    text = page.content()
    assert "排序：不能按「nope」排序" in text and "「2026-13-01」不是有效日期" in text
    shot(page, "list-persons-errors-390")


def test_filter_then_export_masked(page: Any, live_server: Any) -> None:
    _world()
    login(page, live_server.url, "cadre_a")
    page.goto(live_server.url + "/registry/persons/")
    page.fill("#f-q", "小宝")
    page.click("[data-testid=list-filters] button[type=submit]")
    page.wait_for_url("**q=*")
    assert page.locator(".table-wrap tr").count() == 4  # a header and three children
    with page.expect_download() as info:
        page.click("[data-testid=export] button")
    data = Path(info.value.path()).read_bytes()
    rows = list(openpyxl.load_workbook(io.BytesIO(data)).worksheets[0].values)
    assert len(rows) == 4 and all("*" in r[1] for r in rows[1:])
    assert {r[0] for r in rows[1:]} == {"林小宝", "郑小宝", "何小宝"}


def test_audit_log_at_desk_and_phone_width(page: Any, live_server: Any) -> None:
    _world()
    login(page, live_server.url, "auditor")
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server.url + "/audit/?user=cadre_a&sort=at")
        assert page.locator(".table-wrap table[data-testid=events] tr").count() > 1
        assert page.locator("[data-testid=export] button").count() == 1
        shot(page, f"list-audit-{width}")


def test_a_case_found_by_the_last_four_of_the_childs_id_number(page: Any,
                                                               live_server: Any) -> None:
    """A family calls with the child's ID number: the case list's ID search (a POST) finds
    the one case, the number stays out of the address bar, and the page fits a phone."""
    from huimin.cases.models import Case

    _world()
    case = Case.objects.select_related("subject").order_by("id").first()
    assert case is not None
    last4 = case.subject.id_number[-4:]
    login(page, live_server.url, "cadre_a")
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server.url + "/cases/")
        page.fill("#id_number", last4)
        page.click("[data-testid=search-id] button[type=submit]")
        page.wait_for_selector("[data-testid=id-result]")
        assert last4 not in page.url
        assert page.inner_text("[data-testid=id-result]") == "按身份证号码查询：1 件"
        links = page.eval_on_selector_all(".table-wrap a[href^='/cases/']",
                                          "els => els.map(e => e.getAttribute('href'))")
        assert links == [f"/cases/{case.pk}/"]
        assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth"), width
        shot(page, f"list-cases-by-id-{width}")
