"""The registry pages after the masking change, in Debian's chromium at 1366 and 390 px:
masked numbers (first and last character), ages instead of birth dates, and the search by
identity number posted from the form so that the number never enters the address bar."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.browser.conftest import login, logout, shot
from tests.conftest import VILLAGE_A, Personas, make_family

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1366, 390])
def test_registry_pages_show_masks_and_ages(page: Any, live_server: Any, personas: Personas,
                                            width: int) -> None:
    base = live_server.url
    page.set_viewport_size({"width": width, "height": 900})
    with time_machine.travel(datetime(2026, 6, 15, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))):
        fam = make_family(personas.cadre_a, VILLAGE_A, date(2025, 3, 3))
        make_family(personas.cadre_a, VILLAGE_A, date(2023, 12, 10), surname="郑")
        child = fam.child
        login(page, base, "cadre_a")
        page.goto(f"{base}/registry/persons/")
        assert child.id_number[0] + "*" * 16 + child.id_number[-1] in page.content()
        assert "1 岁 3 个月" in page.content() and "2025-03-03" not in page.content()
        shot(page, f"privacy-person-list-{width}")
        page.fill("#id_number", child.id_number)
        page.click("[data-testid=search-id] button")
        page.wait_for_selector(f"text={child.name}")
        assert child.id_number not in page.url and "按身份证号码查询：1 人" in page.content()
        shot(page, f"privacy-person-search-{width}")
        page.click(f"text={child.name}")
        page.wait_for_selector("[data-testid=household]")
        assert "2025-03-03" in page.content()  # the cadre checks it against the 户口簿
        shot(page, f"privacy-person-page-{width}")
        page.click("[data-testid=household]")
        page.wait_for_selector("[data-testid=timeline]")
        assert "36 岁" in page.content() and "1990-03-04" not in page.content()
        shot(page, f"privacy-household-{width}")
        logout(page)
        login(page, base, "finance")
        page.goto(f"{base}/registry/persons/{child.pk}/")
        assert "2025-03-03" not in page.content() and "1 岁 3 个月" in page.content()
        shot(page, f"privacy-person-page-finance-{width}")
