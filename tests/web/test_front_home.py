"""The 工作台 (huimin.front): each role's tiles count exactly the rows of the list they link to,
and village and township users read their area's payment lines."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from huimin.audit.models import AuditEvent
from huimin.payments.models import PaymentBatch, PaymentLine
from huimin.verification.models import Effect, EffectKind, EffectStatus
from tests.conftest import PASSWORD, Personas
from tests.web import test_access_matrix as matrix
from tests.web.feeds_helpers import feeds_world
from tests.web.test_access_matrix import ROLES, SH, World

pytestmark = pytest.mark.django_db
# the authorization matrix's personas and world, built once for this module
_shared, personas, world = matrix._shared, matrix.personas, matrix.world
NOW = datetime(2026, 6, 15, 11, 0, tzinfo=SH)
TILE = re.compile(r'<a class="tile[^"]*" href="([^"]+)" data-tile="([^"]+)">'
                  r'.*?(?:data-count="(\d+)"|>查阅<)', re.S)


def client_for(role: str, personas: Personas) -> Client:
    client = Client()
    client.login(username=getattr(personas, role).username, password=PASSWORD)
    return client


def get(client: Client, url: str) -> str:
    with time_machine.travel(NOW, tick=False):
        resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return resp.content.decode()


def tiles(client: Client) -> dict[str, tuple[str, int | None]]:
    return {key: (url.replace("&amp;", "&"), int(n) if n else None)
            for url, key, n in TILE.findall(get(client, reverse("home")))}


def rows(client: Client, url: str) -> int | None:
    """The rows of a list page a tile links to, read from the page itself (None: a page
    whose rows this test does not read)."""
    html = get(client, url)
    path = url.split("?")[0].split("#")[0]
    if path == reverse("cases:list"):
        return len(set(re.findall(r'href="/cases/(\d+)/"', html)))
    if path == reverse("registry:changes"):
        return len(set(re.findall(r'href="/registry/changes/(\d+)/"', html)))
    if path == reverse("front:area_payments"):
        return html.count("data-line=")
    if url == reverse("identity:queue"):
        return html.count('data-testid="pair-link"')
    if url == reverse("identity:queue") + "#claims":
        return html.count("data-claim=")
    if url == reverse("home") + "#worklist":
        start = html.find('data-testid="worklist"')
        return 0 if start < 0 else html[start:html.find("</table>", start)].count("<tr>") - 1
    if url == reverse("home") + "#objections":
        start = html.find('data-testid="objections"')
        return 0 if start < 0 else html[start:html.find("</ul>", start)].count("<li>")
    return None


@pytest.mark.parametrize("role", ROLES)
def test_tiles_count_the_rows_of_their_list(role: str, personas: Personas, world: World) -> None:
    feeds_world(world)
    client = client_for(role, personas)
    found = tiles(client)
    assert found, "every role has tiles"
    checked = 0
    for key, (url, count) in found.items():
        n = rows(client, url)  # every tile's page opens (200) for its user
        if n is not None:
            assert n == count, (key, url, n, count)
            checked += 1
    assert checked, "at least one tile of each role is checked against its list"


#: what waits in the matrix world on 2026-06-15 (cases_helpers.matrix_world,
#: payments_helpers.payments_world, feeds_helpers.feeds_world)
EXPECTED = {
    "cadre_a": {"cases.review.rural-reward.submitted": 1, "cases.returned": 1,
                "cases.to_post": 1, "cases.objections": 1, "verification.offers": 1,
                "payments.area_failed": 1, "changes.pending": 0},  # own request: not to confirm
    "cadre_b": {"cases.review": 0, "cases.returned": 0, "cases.objections": 0,
                "verification.offers": 0, "payments.area_failed": 0},
    "township": {"cases.review.childcare-subsidy.submitted": 1,
                 "cases.review.rural-reward.village_approved": 2, "changes.pending": 1,
                 "payments.area_failed": 1},
    "county": {"payments.to_release": 1, "payments.recoveries": 1, "changes.pending": 1,
               "identity.claims": 0},
    "finance": {"cases.approved": 0, "cases.to_freeze": 0, "cases.failed": 1,
                "payments.to_batch": 0, "payments.to_export": 0, "payments.to_return": 1,
                "payments.to_correct": 1,
                "payments.held": 0, "payments.recoveries": 1},
    "auditor": {"cases.all": 10, "payments.batches": 4, "payments.recoveries": 1},
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_its_work(role: str, personas: Personas, world: World) -> None:
    feeds_world(world)
    found = {k: n for k, (_, n) in tiles(client_for(role, personas)).items()}
    for key, n in EXPECTED[role].items():
        assert found.get(key) == n, (key, found)


def test_county_confirms_effects_and_releases_batches(personas: Personas, world: World) -> None:
    feeds_world(world)
    found = tiles(client_for("county", personas))
    proposed = (Effect.objects.filter(status=EffectStatus.PROPOSED)
                .exclude(kind=EffectKind.OFFER).count())
    assert proposed and found["verification.effects"] == ("/feeds/effects/?status=proposed",
                                                          proposed)
    assert found["payments.to_release"] == (reverse("payments:list"), PaymentBatch.objects.filter(
        state="draft").count())
    assert "其中 1 项核销待审批" in get(client_for("county", personas), reverse("home"))


def test_finance_tile_leads_to_the_batch_with_the_failed_line(personas: Personas,
                                                              world: World) -> None:
    assert world.pay is not None
    url, n = tiles(client_for("finance", personas))["payments.to_correct"]
    assert (url, n) == (reverse("payments:detail", args=[world.pay.failed_line.batch_id]), 1)
    assert world.pay.failed_line.reference in get(client_for("finance", personas), url)


def test_outsiders_count_nothing_of_another_county(personas: Personas, world: World) -> None:
    for role in ("cadre_c", "township_c", "county_b", "finance_b", "auditor_b"):
        found = tiles(client_for(role, personas))
        assert found and all(not n for _, n in found.values()), (role, found)


def test_home_keeps_the_worklist_and_counts_by_state(personas: Personas, world: World) -> None:
    html = get(client_for("township", personas), reverse("home"))
    assert 'data-testid="worklist"' in html and world.submitted.number in html
    assert 'data-state="submitted">' in html
    assert "受理育儿补贴申请" in html


# -- the area's payment lines (front:area_payments) -------------------------------------------

def test_area_payments_lists_the_villages_lines(personas: Personas, world: World) -> None:
    assert world.pay is not None
    client = client_for("cadre_a", personas)
    html = get(client, reverse("front:area_payments"))
    lines = PaymentLine.objects.filter(case__area__code="445224100201")
    assert lines.count() >= 4 and html.count("data-line=") == lines.count()
    assert world.pay.failed_line.reference in html and "账户已销户" in html
    assert "6228480012345678901" not in html and "8901" in html  # account masked
    logged = AuditEvent.objects.filter(actor__username="cadre_a", action="person.list",
                                       data__via="area_payments")
    assert logged.count() == lines.count()
    unpaid = get(client, reverse("front:area_payments") + "?status=unpaid")
    assert unpaid.count("data-line=") == 1 and world.pay.failed_line.reference in unpaid
    paid = get(client, reverse("front:area_payments") + "?status=paid")
    assert world.pay.failed_line.reference not in paid
    assert get(client, reverse("front:area_payments") + "?status=nonsense").count(
        "data-line=") == lines.count()  # an unknown filter shows all


def test_area_payments_of_another_area_show_nothing(personas: Personas, world: World) -> None:
    for role in ("cadre_b", "township_b", "cadre_c", "township_c"):
        html = get(client_for(role, personas), reverse("front:area_payments"))
        assert "data-line=" not in html and "暂无发放明细" in html, role


@pytest.mark.parametrize("role", ["county", "finance", "auditor"])
def test_area_payments_are_for_villages_and_townships(role: str, personas: Personas,
                                                      world: World) -> None:
    with time_machine.travel(NOW, tick=False):
        resp = client_for(role, personas).get(reverse("front:area_payments"))
    assert resp.status_code == 403
    assert "此操作仅限村级专干、乡镇审核员" in resp.content.decode()


def test_nav_sends_villages_to_their_lines(personas: Personas, world: World) -> None:
    assert f'href="{reverse("front:area_payments")}">发放' in get(
        client_for("cadre_a", personas), reverse("home"))
    assert f'href="{reverse("payments:list")}">发放' in get(
        client_for("finance", personas), reverse("home"))




@pytest.mark.parametrize("role", ["cadre_a", "county", "finance", "auditor"])
def test_home_counts_the_cases_by_state_once(role: str, personas: Personas,
                                             world: World) -> None:
    """The tiles of a state (returned, suspended, approved, failed, each review group, all)
    and the cases by state read one count of the user's cases by program and state: each
    was a scan of every case in the user's areas."""
    client = client_for(role, personas)
    get(client, reverse("home"))  # the session and the user, once
    with CaptureQueriesContext(connection) as queries:
        html = get(client, reverse("home"))
    scans = [q["sql"] for q in queries.captured_queries
             if re.search(r'COUNT\(.*FROM "cases_case"', q["sql"])
             and not re.search(r"awaiting_role|pending_posting|entitlement|cases_objection",
                                  q["sql"])]
    assert len(scans) == 1, "\n".join(scans)
    assert 'data-state="submitted">' in html


def test_pages_take_a_bounded_number_of_queries(personas: Personas, world: World,
                                                django_assert_max_num_queries: Any) -> None:
    """No query per line or per tile row: the area's lines and the finance home page."""
    client = client_for("cadre_a", personas)
    get(client, reverse("home"))  # the session and the user, once
    with django_assert_max_num_queries(10):
        html = get(client, reverse("front:area_payments"))
    assert html.count("data-line=") >= 4
    finance = client_for("finance", personas)
    with django_assert_max_num_queries(30):
        get(finance, reverse("home"))
