"""The Chinese error pages in Debian's chromium, at 1366 and 390 px: the menu is there, the
reason the code gave is shown, the page fits a phone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import login, shot
from tests.conftest import Personas

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def both(page: Any, name: str) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    assert page.is_visible("header nav")
    shot(page, f"front-{name}-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.is_visible("[data-testid=nav-button]")
    shot(page, f"front-{name}-390")
    page.set_viewport_size({"width": 1366, "height": 900})


def test_error_pages(page: Any, live_server: Any, personas: Personas) -> None:
    base = live_server.url
    login(page, base, "county")
    resp = page.goto(f"{base}/cases/new/")
    assert resp.status == 403
    assert "此操作仅限村级专干、乡镇审核员" in page.inner_text("[data-testid=reason]")
    both(page, "error-403")
    resp = page.goto(f"{base}/cases/999999/")
    assert resp.status == 404
    assert page.inner_text("[data-testid=reason]") == "记录不存在或不在您的管辖范围内"
    both(page, "error-404")
    resp = page.goto(f"{base}/no-such-page/")
    assert resp.status == 404 and "找不到页面" in page.inner_text("h1")
    assert page.locator("[data-testid=reason]").count() == 0
    page.click("text=返回工作台")
    page.wait_for_selector("[data-testid=tiles]")
