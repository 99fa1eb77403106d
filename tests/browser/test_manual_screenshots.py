"""The user manual's screenshots: each role walks its tasks on the demo county in chromium at
1366 px. The pictures go to the test artifacts (``manual-images/``); with
``HUIMIN_UPDATE_MANUAL=1`` they replace those of docs/manual/images (committed; small, palette
PNGs), so that a test run leaves the working tree as it was.

Only the synthetic demo county is shown: lists, worklists and the task pages (a review form,
change forms and their bulk preview, batch, cycle and recovery pages, the admin's user list),
where ID numbers and accounts are masked (the test checks no full ID number of the register
is on a page). A step may scroll to the form it shows or click through to a preview."""

from __future__ import annotations

import io
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from huimin.demo import DEMO_PASSWORD, build
from huimin.help.views import MANUAL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def _images() -> Path:
    from tests.conftest import artifacts_dir

    if os.environ.get("HUIMIN_UPDATE_MANUAL") == "1":
        return MANUAL / "images"
    return artifacts_dir() / "manual-images"


SH = ZoneInfo("Asia/Shanghai")


def _login(page: Any, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=who]")


def _save(page: Any, name: str, full_ids: list[str]) -> Path:
    """A shot of the page's first screen (1366 × 900), reduced to a palette PNG."""
    from PIL import Image

    text = page.content()
    leaked = [n for n in full_ids if n in text]
    assert not leaked, f"{name}: a full ID number is on the page"
    raw = page.screenshot(full_page=False)
    img = Image.open(io.BytesIO(raw)).convert("RGB")
    out = _images() / f"{name}.png"
    img.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    return out


def _reviewable(page: Any, base: str, cases: Any) -> str:
    """The page of the first case among ``cases`` that offers this user the review form."""
    for case in cases[:8]:
        page.goto(f"{base}/cases/{case.pk}/")
        if page.is_visible("[data-testid=review]"):
            return f"/cases/{case.pk}/"
    raise AssertionError("no case to review")


def _bulk_preview(page: Any) -> None:
    """变更登记: tick every request the user may confirm and open the 批量确认 preview."""
    for box in page.query_selector_all("[data-testid=changes] input[type=checkbox]"):
        box.check()
    page.click("[data-testid=bulk-preview]")
    page.wait_for_selector("[data-testid=bulk-confirm]")


def _effects_preview(page: Any) -> None:
    """数据比对 → 处理事项: preview every proposed effect before confirming."""
    page.click("button[name=all]")
    page.wait_for_selector("form[action$='/effects/confirm/']")


def test_each_role_walks_its_tasks_for_the_manual(page: Any, live_server: Any) -> None:
    from huimin.accounts.models import User
    from huimin.cases.models import Case
    from huimin.payments.models import PaymentBatch, PaymentCycle, Recovery
    from huimin.registry.models import BankAccount, ChangeRequest, Person

    with time_machine.travel(datetime(2026, 11, 20, 15, 0, tzinfo=SH), tick=False):
        build(1500, 2025, date(2026, 11, 20))
    full_ids = [p.id_number for p in Person.objects.order_by("id")[:400]]
    page.set_viewport_size({"width": 1366, "height": 900})
    base = live_server.url
    _images().mkdir(parents=True, exist_ok=True)
    village = User.objects.get(username="cadre_a").areas.get()
    township = User.objects.get(username="township").areas.get()
    account = BankAccount.objects.filter(person__area=village, active=True).order_by("id").first()
    death = ChangeRequest.objects.filter(status="submitted", kind="death").first()
    returned = PaymentBatch.objects.filter(state="returned").order_by("id").first()
    exported = PaymentBatch.objects.filter(state="exported").order_by("id").first()
    draft = PaymentBatch.objects.filter(state="draft").order_by("id").first()
    cycle = PaymentCycle.objects.order_by("id").first()
    suspended = Case.objects.filter(state="suspended").order_by("id").first()
    recovery = Recovery.objects.order_by("id").first()
    assert account is not None and death is not None and returned is not None
    assert exported is not None and draft is not None and cycle is not None
    assert suspended is not None and recovery is not None
    to_review = list(Case.objects.filter(area__code__startswith=township.prefix,
                                         state__in=["submitted", "village_approved"])
                     .order_by("id"))
    # each step: (picture, page, then: None, an element to scroll to, or a function)
    Step = tuple[str, str, Any]
    walks: dict[str, list[Step]] = {
        "cadre_a": [("cadre-home", "/", None), ("cadre-persons", "/registry/persons/", None),
                    ("cadre-person-new", "/registry/persons/new/", None),
                    ("cadre-intake", "/cases/new/", None), ("cadre-cases", "/cases/", None),
                    ("cadre-notices", "/notices/", None),
                    ("cadre-changes", "/registry/changes/", None),
                    ("cadre-change-account", f"/registry/persons/{account.person_id}/changes/"
                     "new/?kind=account_replace", None),
                    ("cadre-area-payments", "/area/payments/", None)],
        "township": [("township-home", "/", None),
                     ("township-cases", "/cases/?state=submitted", None),
                     ("township-review", "", "[data-testid=review]"),
                     ("township-notices", "/notices/", None),
                     ("township-changes", "/registry/changes/", None),
                     ("township-change", f"/registry/changes/{death.pk}/", None),
                     ("township-changes-preview", "/registry/changes/", _bulk_preview)],
        "county": [("county-home", "/", None),
                   ("county-cases", "/cases/?state=township_approved", None),
                   ("county-batches", "/payments/", None),
                   ("county-release", f"/payments/{draft.pk}/", None),
                   ("county-feeds", "/feeds/", None),
                   ("county-effects", "/feeds/effects/", None),
                   ("county-effects-preview", "/feeds/effects/", _effects_preview),
                   ("county-suspended", f"/cases/{suspended.pk}/", None),
                   ("county-whatif", "/programs/whatif/", None)],
        "finance": [("finance-batches", "/payments/", None),
                    ("finance-cycle", f"/payments/cycles/{cycle.pk}/", None),
                    ("finance-export", f"/payments/{exported.pk}/", None),
                    ("finance-batch", f"/payments/{returned.pk}/", None),
                    ("finance-correct", f"/payments/{returned.pk}/",
                     "form[action*='/correct/']"),
                    ("finance-stuck", f"/payments/{draft.pk}/", "[data-testid=stuck]"),
                    ("finance-reconcile", f"/payments/cycles/{cycle.pk}/reconcile/", None),
                    ("finance-recoveries", "/payments/recoveries/", None),
                    ("finance-recovery", f"/payments/recoveries/{recovery.pk}/", None)],
        "auditor": [("auditor-audit", "/audit/", None), ("auditor-batches", "/payments/", None)],
        # the admin's pages under /admin/ are Django's own (no 帮助 link in their menu)
        "admin": [("admin-users", "/admin/accounts/user/", None),
                  ("admin-tokens", "/feeds/tokens/", None),
                  ("admin-audit", "/admin/audit/auditevent/", None)],
    }
    made = []
    for user, steps in walks.items():
        _login(page, base, user)
        for name, url, then in steps:
            if not url:
                url = _reviewable(page, base, to_review)
            resp = page.goto(base + url)
            assert resp is not None and resp.status == 200, (user, url)
            assert url.startswith("/admin/") or page.is_visible("[data-testid=help-link]"), url
            if callable(then):
                then(page)
            elif then:
                page.locator(then).first.scroll_into_view_if_needed()
            made.append(_save(page, name, full_ids))
        # the 帮助 link opens the manual of the user's role, with its pictures
        page.goto(base + "/")
        page.click("[data-testid=help-link]")
        page.wait_for_selector("[data-testid=manual]")
        for src in page.eval_on_selector_all("[data-testid=manual] img",
                                             "els => els.map(e => e.getAttribute('src'))"):
            assert page.request.get(base + src).status == 200, src
    for path in made:
        from PIL import Image

        with Image.open(path) as img:
            assert img.size == (1366, 900)
        assert path.stat().st_size < 250_000, path.name
    # every picture the manuals name has been taken
    named = {line.split("(images/")[1].split(")")[0] for md in MANUAL.glob("*.md")
             for line in md.read_text(encoding="utf-8").splitlines() if "(images/" in line}
    assert named == {p.name for p in made}
    # and the committed manual holds each of them
    assert named <= {p.name for p in (MANUAL / "images").glob("*.png")}
