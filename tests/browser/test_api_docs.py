"""Swagger UI at /api/docs works offline and under a Content-Security-Policy without inline
script: every asset comes from this server, and the operations are listed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import login, shot
from tests.conftest import COUNTY, make_user

pytestmark = pytest.mark.browser

CSP = "default-src 'self'; script-src 'self'; img-src 'self' data:; style-src 'self'"


def test_swagger_ui_under_csp_from_local_assets(page: Any, live_server: Any) -> None:
    make_user("county", "county_approver", COUNTY)
    base = live_server.url
    outside: list[str] = []
    violations: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None)
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)

    def with_csp(route: Any) -> None:
        resp = route.fetch()
        route.fulfill(response=resp, headers={**resp.headers, "content-security-policy": CSP})

    page.goto(f"{base}/api/docs")
    assert "/login/" in page.url  # anonymous: to the login page first
    login(page, base, "county")
    page.route("**/api/docs", with_csp)
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{base}/api/docs")
        page.wait_for_selector(".opblock", timeout=20000)
        assert page.locator(".opblock").count() >= 30
        assert page.locator(".info .title").inner_text().startswith("惠民 API")
        shot(page, f"api-docs-{width}")
    assert outside == []
    assert not [v for v in violations if "script" in v.lower()], violations


def test_batch_page_exports_by_post_and_warns_on_download_again(page: Any,
                                                                live_server: Any) -> None:
    from tests.web.test_api_hardening import released

    personas = _personas()
    batch = released(personas)
    base = live_server.url
    login(page, base, "finance")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{base}/payments/{batch.pk}/")
    shot(page, "batch-export-1366")
    page.click("[data-testid=export]")
    page.wait_for_selector("[data-testid=download]")
    assert page.locator("[data-testid=batch-state]").inner_text() == "已导出，待回盘"
    with page.expect_download() as first:
        page.click("[data-testid=download]")
    assert first.value.suggested_filename == f"{batch.number}.csv"
    page.goto(f"{base}/payments/{batch.pk}/")
    warning = page.locator("[data-testid=redownload-warning]")
    assert "已下载 1 次" in warning.inner_text()
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, f"batch-redownload-{width}")


def _personas() -> Any:
    from tests.conftest import TOWNSHIP_A, VILLAGE_A, Personas

    return Personas(
        cadre_a=make_user("cadre_a", "village_cadre", VILLAGE_A),
        cadre_b=None, township=make_user("township", "township_reviewer", TOWNSHIP_A),
        township_b=None, county=make_user("county", "county_approver", COUNTY),
        finance=make_user("finance", "finance_officer", COUNTY), auditor=None, admin=None)
