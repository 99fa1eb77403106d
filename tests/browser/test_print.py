"""Pages on paper: the 一户一档 page printed from chromium keeps the members and the timeline
and drops navigation and buttons; its PDF link is there on screen. Screenshots at 1366 and
390 px and in print media."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import login, shot
from tests.conftest import VILLAGE_A, Personas, make_family

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_household_page_prints_without_navigation(page: Any, live_server: Any,
                                                  personas: Personas) -> None:
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 20))
    login(page, live_server.url, "cadre_a")
    page.goto(f"{live_server.url}/registry/households/{fam.mother.household_id}/")
    link = page.locator("[data-testid=household-pdf]")
    assert link.is_visible() and link.get_attribute("href", timeout=2000).endswith("/file.pdf")
    assert page.locator("header.top").is_visible()
    shot(page, "household-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "household-390")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not link.is_visible()
    assert page.locator("[data-testid=timeline]").is_visible()
    assert fam.child.name in page.locator("[data-testid=timeline]").inner_text()
    shot(page, "household-print")
    pdf = page.pdf(format="A4")  # chromium's own print of the page
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000


def test_whatif_page_offers_names_documents_and_the_population(page: Any, live_server: Any,
                                                               personas: Personas) -> None:
    make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 20))
    login(page, live_server.url, "county")
    page.goto(f"{live_server.url}/programs/whatif/")
    options = page.locator("#program option").all_inner_texts()
    assert "育儿补贴" in options and "childcare-subsidy" not in options
    with page.expect_download() as info:
        page.click("[data-testid=document-childcare-subsidy]")
    current = Path(info.value.path()).read_text(encoding="utf-8")
    assert "id: childcare-subsidy" in current
    proposal = Path(info.value.path()).with_name("proposal.yaml")
    proposal.write_text(current.replace("monthly_rate_yuan: 300", "monthly_rate_yuan: 400"),
                        encoding="utf-8")
    page.select_option("#program", "childcare-subsidy")
    page.set_input_files("#proposal", str(proposal))
    page.click("form.card button[type=submit]:not([name])")
    page.wait_for_selector("[data-testid=base-2026]")
    assert "惠城镇" in page.locator("table").inner_text()
    shot(page, "whatif-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "whatif-390")


def test_a_case_and_a_list_print_their_content_without_the_controls(
        page: Any, live_server: Any, personas: Personas, settings: Any,
        tmp_path: Path) -> None:
    """The case page prints its facts and history without its forms; the change-request list,
    whose rows sit in the form that ticks them for bulk confirmation, prints its rows without
    the boxes and buttons."""
    from tests.web.changes_helpers import submit
    from tests.web.feeds_helpers import childcare_case

    settings.MEDIA_ROOT = tmp_path / "media"
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 20))
    case = childcare_case(personas, fam)
    req = submit(personas.cadre_a, "death", fam.father,
                 {"death_date": "2026-01-05", "source": "县卫生健康局"})
    login(page, live_server.url, "township")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert page.locator("form").first.is_visible() is False
    text = page.inner_text("main")
    assert case.number in text and fam.child.name in text
    shot(page, "case-print")
    assert page.pdf(format="A4").startswith(b"%PDF")

    page.emulate_media(media="screen")
    page.goto(f"{live_server.url}/registry/changes/")
    bulk = page.locator("[data-testid=bulk]")
    assert bulk.is_visible() and page.locator("[data-testid=bulk] input[type=checkbox]").count()
    page.emulate_media(media="print")
    assert page.locator("[data-testid=changes]").is_visible()
    assert req.number in page.inner_text("[data-testid=changes]")
    assert not page.locator("[data-testid=bulk] input[type=checkbox]").first.is_visible()
    assert not page.locator("[data-testid=bulk] button").first.is_visible()
    shot(page, "changes-print")
