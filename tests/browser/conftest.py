"""Browser tests: Debian's chromium through Playwright, against a live server.

Their transactions really commit and the database is flushed after each one, so the county's
areas and the seeded programs are put back before each test, whatever ran before it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import PASSWORD, artifacts_dir

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(autouse=True)
def _reference_data(transactional_db: Any) -> None:
    from tests.web.cases_helpers import restore_reference_data

    restore_reference_data()


@pytest.fixture
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM set-up beside the browser's loop
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900},
                                      accept_downloads=True)
        yield context.new_page()
        context.close()
        browser.close()


def shot(page: Any, name: str) -> None:
    out = artifacts_dir() / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)


def login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=who]")


def logout(page: Any) -> None:
    page.click("text=退出")
    page.wait_for_selector("#id_username")


def click_nav(page: Any, text: str) -> None:
    """Click a menu item; on a phone the menu is folded behind its 菜单 button first."""
    # The stylesheet decides whether the menu is folded: wait for it before looking, or
    # the menu is seen unfolded, the button is not pressed, and the link is then hidden.
    page.wait_for_load_state("load")
    link = page.locator(f"header nav >> text={text}")
    button = page.locator("[data-testid=nav-button]")
    if button.is_visible() and not link.is_visible():
        button.click()
    link.click()
