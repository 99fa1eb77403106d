"""The user manual's screenshots: each role walks its tasks on the demo county in chromium at
1366 px. The pictures go to the test artifacts (``manual-images/``); with
``HUIMIN_UPDATE_MANUAL=1`` they replace those of docs/manual/images (committed; small, palette
PNGs), so that a test run leaves the working tree as it was.

Only the synthetic demo county is shown; every page shot is a list or worklist, where ID
numbers are masked (the test checks no full ID number of the register is on a page)."""

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


def test_each_role_walks_its_tasks_for_the_manual(page: Any, live_server: Any) -> None:
    from huimin.payments.models import PaymentBatch, PaymentCycle
    from huimin.registry.models import Person

    with time_machine.travel(datetime(2026, 11, 20, 15, 0, tzinfo=SH), tick=False):
        build(1500, 2025, date(2026, 11, 20))
    full_ids = [p.id_number for p in Person.objects.order_by("id")[:400]]
    page.set_viewport_size({"width": 1366, "height": 900})
    base = live_server.url
    _images().mkdir(parents=True, exist_ok=True)
    walks: dict[str, list[tuple[str, str]]] = {
        "cadre_a": [("cadre-home", "/"), ("cadre-persons", "/registry/persons/"),
                    ("cadre-intake", "/cases/new/"), ("cadre-cases", "/cases/"),
                    ("cadre-notices", "/notices/"), ("cadre-changes", "/registry/changes/")],
        "township": [("township-home", "/"), ("township-cases", "/cases/?state=submitted"),
                     ("township-notices", "/notices/"),
                     ("township-changes", "/registry/changes/")],
        "county": [("county-home", "/"), ("county-cases", "/cases/?state=township_approved"),
                   ("county-batches", "/payments/"), ("county-feeds", "/feeds/")],
        "finance": [("finance-batches", "/payments/")],
        "auditor": [("auditor-audit", "/audit/"), ("auditor-batches", "/payments/")],
    }
    returned = PaymentBatch.objects.filter(state="returned").order_by("id").first()
    cycle = PaymentCycle.objects.order_by("id").first()
    assert returned is not None and cycle is not None
    walks["finance"] += [("finance-batch", f"/payments/{returned.pk}/"),
                         ("finance-reconcile", f"/payments/cycles/{cycle.pk}/reconcile/"),
                         ("finance-recoveries", "/payments/recoveries/")]
    made = []
    for user, steps in walks.items():
        _login(page, base, user)
        for name, url in steps:
            resp = page.goto(base + url)
            assert resp is not None and resp.status == 200, (user, url)
            assert page.is_visible("[data-testid=help-link]"), url
            made.append(_save(page, name, full_ids))
        # the 帮助 link opens the manual of the user's role, with its pictures
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
