"""Each role walks its worklist in Debian's chromium: log in, read the tiles on the 工作台,
check their counts against the data, click one, land on the list with those rows. Every page
is shot at 1366 and 390 px; at 390 the document is no wider than the phone and the menu folds
away behind a button, its items each on one line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from tests.browser.conftest import login, shot
from tests.conftest import VILLAGE_A, Personas, make_family

pytestmark = [pytest.mark.browser, pytest.mark.also_postgres,
              pytest.mark.django_db(transaction=True)]

CASE_ROWS = ("[...document.querySelectorAll('main table a[href]')]"
             ".filter(a => /^\\/cases\\/\\d+\\/$/.test(a.getAttribute('href'))).length")

BATCH_ROWS = CASE_ROWS.replace("cases", "payments")

#: menu items whose text lies on more than one line (a word broken in two)
LINES_OF_TEXT = """[...document.querySelectorAll('SELECTOR')].filter(a => {
  const r = document.createRange(); r.selectNodeContents(a);
  return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1;
}).map(a => a.textContent)"""


def cells(text: str) -> str:
    return (f"[...document.querySelectorAll('main table td')]"
            f".filter(td => td.textContent.trim() === {text!r}).length")


def phone_ok(page: Any, name: str) -> None:
    """Shoot at 1366 and 390 px; at 390 nothing is wider than the screen, the menu opens from
    its button and no menu item breaks over two lines."""
    page.set_viewport_size({"width": 1366, "height": 900})
    shot(page, f"front-{name}-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    assert not page.is_visible("header nav"), f"{name}: the menu is folded on a phone"
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= page.evaluate("innerWidth") == 390, f"{name}: the page is {width} px wide"
    shot(page, f"front-{name}-390")
    page.click("[data-testid=nav-button]")
    assert page.is_visible("header nav")
    broken = page.evaluate(LINES_OF_TEXT.replace("SELECTOR", "header nav a"))
    assert broken == [], f"{name}: menu items wrapped: {broken}"
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    shot(page, f"front-{name}-390-menu")
    page.click("[data-testid=nav-button]")
    page.set_viewport_size({"width": 1366, "height": 900})


@dataclass
class Walk:
    tile: str  # the tile clicked
    rows: str  # JavaScript counting the rows of the list it leads to


WALKS = {
    "cadre_a": [Walk("cases.returned", CASE_ROWS),
                Walk("cases.review.rural-reward.submitted", CASE_ROWS),
                Walk("payments.area_failed", "document.querySelectorAll('[data-line]').length")],
    "township": [Walk("cases.review.childcare-subsidy.submitted", CASE_ROWS)],
    "county": [Walk("cases.review.childcare-subsidy.township_approved", CASE_ROWS),
               Walk("payments.to_release", cells("待审核放行"))],
    "finance": [Walk("cases.to_freeze", CASE_ROWS), Walk("cases.failed", CASE_ROWS),
                Walk("payments.to_return", cells("已导出，待回盘"))],
    "auditor": [Walk("cases.all", CASE_ROWS), Walk("payments.batches", BATCH_ROWS)],
    "admin": [Walk("cases.all", CASE_ROWS)],
}


def world(personas: Personas) -> dict[str, int]:
    """Work for every role, built through actions; returns what the tiles must count."""
    from huimin.cases import actions as case_actions
    from huimin.payments.models import PaymentBatch, PaymentLine
    from huimin.programs.models import Program
    from tests.web.cases_helpers import matrix_world
    from tests.web.payments_helpers import payments_world

    program = Program.objects.get(code="childcare-subsidy")
    fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 2, 2))
    first = case_actions.submit_application(
        personas.cadre_a, program=program, subject=fam.child, claim_year=2026,
        applicant=fam.mother, bank_account=fam.account)
    case_actions.township_review(personas.township, first, approve=True)
    case_actions.county_confirm(personas.county, first, approve=True)
    payments_world(personas, program, fam)
    matrix_world(personas)
    for born, surname, approve in ((date(2025, 3, 3), "郑", False), (date(2025, 4, 4), "孙", True)):
        other = make_family(personas.cadre_a, VILLAGE_A, born, surname=surname)
        case = case_actions.submit_application(
            personas.cadre_a, program=program, subject=other.child, claim_year=2026,
            applicant=other.mother, bank_account=other.account)
        if approve:  # waits for the county
            case_actions.township_review(personas.township, case, approve=True)
    late = make_family(personas.cadre_a, VILLAGE_A, date(2025, 5, 5), surname="钱")
    case = case_actions.submit_application(  # confirmed after the cycle was frozen
        personas.cadre_a, program=program, subject=late.child, claim_year=2026,
        applicant=late.mother, bank_account=late.account)
    case_actions.township_review(personas.township, case, approve=True)
    case_actions.county_confirm(personas.county, case, approve=True)
    from huimin.cases.models import Case

    return {
        "cases.returned": Case.objects.filter(state="returned").count(),
        "cases.review.rural-reward.submitted": Case.objects.filter(
            state="submitted", program__code="rural-reward").count(),
        "cases.review.childcare-subsidy.submitted": Case.objects.filter(
            state="submitted", program__code="childcare-subsidy").count(),
        "cases.review.childcare-subsidy.township_approved": Case.objects.filter(
            state="township_approved", program__code="childcare-subsidy").count(),
        "payments.area_failed": PaymentLine.objects.filter(
            status__in=["failed", "returned"], correction__isnull=True).count(),
        "payments.to_release": PaymentBatch.objects.filter(state="draft").count(),
        "cases.failed": Case.objects.filter(state="payment_failed").count(),
        "cases.to_freeze": Case.objects.filter(state="approved",
                                               entitlement__isnull=True).count(),
        "payments.to_return": PaymentBatch.objects.filter(state="exported").count(),
        "cases.all": Case.objects.count(),
        "payments.batches": PaymentBatch.objects.count(),
    }


@pytest.mark.parametrize("role", sorted(WALKS))
def test_walk_the_worklist(role: str, page: Any, live_server: Any, personas: Personas,
                           settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    expected = world(personas)
    base = live_server.url
    login(page, base, getattr(personas, role).username)
    page.wait_for_selector("[data-testid=tiles]")
    phone_ok(page, f"{role}-home")
    for walk in WALKS[role]:
        n = expected[walk.tile]
        assert n > 0, f"the world has work for {walk.tile}"
        tile = page.locator(f"[data-tile='{walk.tile}']")
        assert tile.locator(".tile-count").inner_text() == str(n), walk.tile
        tile.click()
        page.wait_for_load_state()
        assert page.evaluate(walk.rows) == n, (walk.tile, page.url)
        phone_ok(page, f"{role}-{re.sub(r'[^a-z_]+', '-', walk.tile)}")
        page.goto(f"{base}/")


MAIN_PAGES = {
    "cadre_a": ["/registry/persons/", "/registry/changes/", "/cases/", "/notices/",
                "/area/payments/", "/feeds/offers/", "/reports/", "/cases/new/"],
    "township": ["/cases/", "/registry/changes/", "/notices/", "/area/payments/"],
    "county": ["/payments/", "/feeds/effects/", "/payments/recoveries/", "/notices/new/"],
    "finance": ["/payments/", "/payments/recoveries/", "/reports/"],
    "auditor": ["/audit/", "/cases/", "/payments/"],
}


@pytest.mark.parametrize("role", sorted(MAIN_PAGES))
def test_main_pages_fit_a_phone(role: str, page: Any, live_server: Any, personas: Personas,
                                settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    world(personas)
    base = live_server.url
    login(page, base, getattr(personas, role).username)
    from huimin.cases.models import Case

    case = Case.objects.filter(program__code="rural-reward").order_by("id").first()
    assert case is not None
    details = [f"/cases/{case.pk}/", f"/registry/persons/{case.subject_id}/",
               f"/registry/households/{case.subject.household_id}/"]
    for path in MAIN_PAGES[role] + (details if role in ("cadre_a", "county") else []):
        resp = page.goto(f"{base}{path}")
        assert resp.status == 200, path
        phone_ok(page, f"{role}-page{path.replace('/', '-').rstrip('-')}")


#: boxes in the page that are cut off: wider than their own box (so part of them is hidden
#: or must be scrolled sideways) — the selector names the boxes that must fit a phone whole
CUT_OFF = """[...document.querySelectorAll('SELECTOR')].filter(
  el => el.scrollWidth > el.clientWidth + 1 || el.getBoundingClientRect().right > innerWidth
).map(el => el.dataset.testid || el.tagName + ' ' + el.textContent.slice(0, 30))"""


def test_the_manuals_and_a_case_fit_a_phone(page: Any, live_server: Any,
                                            personas: Personas) -> None:
    """The help index and each role's manual at 390 px: nothing wider than the phone, the
    manual's text, pictures and role links inside the screen; a case's, a person's, a
    cycle's and a batch's page: the summary (pairs of label and value) read whole without
    scrolling sideways."""
    from huimin.cases import actions as case_actions
    from huimin.help.views import ROLES
    from huimin.payments import actions as pay
    from huimin.programs.models import Program

    program = Program.objects.get(code="childcare-subsidy")
    fams = [make_family(personas.cadre_a, VILLAGE_A, date(2024, 2 + i, 2)) for i in range(2)]
    case, paid = (case_actions.submit_application(
        personas.cadre_a, program=program, subject=f.child, claim_year=2026,
        applicant=f.mother, bank_account=f.account) for f in fams)
    case_actions.township_review(personas.township, paid, approve=True)
    case_actions.county_confirm(personas.county, paid, approve=True)
    cycle = pay.build_cycle(personas.finance, program=program, claim_year=2026)
    batch = pay.create_batch(personas.finance, cycle, layout="standard-csv")
    base = live_server.url
    login(page, base, personas.cadre_a.username)
    paths = ["/help/", *[f"/help/{r}/" for r in ROLES]]
    for path in paths:
        assert page.goto(f"{base}{path}").status == 200, path
        phone_ok(page, f"help{path.replace('/', '-').rstrip('-')}")
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.images.length") > 0, path
        page.wait_for_function("[...document.images].every(i => i.complete)")
        cut = page.evaluate(CUT_OFF.replace(
            "SELECTOR", "[data-testid=manual] > *, [data-testid=manual] img, "
                        "[data-testid=manual-roles] a"))
        assert cut == [], f"{path}: cut off at 390 px: {cut}"
        page.set_viewport_size({"width": 1366, "height": 900})
    summaries = [("cadre_a", f"/cases/{case.pk}/", "case-summary"),
                 ("cadre_a", f"/registry/persons/{case.subject_id}/", "person-summary"),
                 ("finance", f"/payments/cycles/{cycle.pk}/", "cycle-summary"),
                 ("finance", f"/payments/{batch.pk}/", "batch-summary")]
    for role, path, testid in summaries:
        if role == "finance" and "finance" not in page.inner_text("[data-testid=who]"):
            page.context.clear_cookies()
            login(page, base, personas.finance.username)
        assert page.goto(f"{base}{path}").status == 200, path
        phone_ok(page, testid)
        page.set_viewport_size({"width": 390, "height": 844})
        cut = page.evaluate(CUT_OFF.replace(
            "SELECTOR", f"[data-testid={testid}], [data-testid={testid}] td"))
        assert cut == [], f"{path}: the summary is cut off at 390 px: {cut}"
        page.set_viewport_size({"width": 1366, "height": 900})
