"""Pages by key (huimin.keyset): every row once, in the list's order, and only the user's own.

A few families registered at one frozen instant, so that the sort keys tie (the same
registration time, the same mother's name, no death date) and only the id breaks the tie: the
cases where a keyset condition without its tie-breaker, or with NULLs in the wrong place,
skips or repeats rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from huimin import keyset, listing
from huimin.accounts.access import persons_for
from huimin.cases import actions as case_actions
from huimin.programs.models import Program
from huimin.registry import actions as reg_actions
from huimin.registry import lists
from huimin.registry.models import Person
from tests.conftest import PASSWORD, VILLAGE_A, VILLAGE_B, Personas, make_family

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 15, 10, 0, tzinfo=SH)


@pytest.fixture
def families(personas: Personas) -> dict[str, list[int]]:
    with time_machine.travel(NOW, tick=False):
        program = Program.objects.get(code="childcare-subsidy")
        for i in range(3):
            fam = make_family(personas.cadre_a, VILLAGE_A, date(2024, 1, 1 + i), surname="林")
            case_actions.submit_application(personas.cadre_a, program=program,
                                            subject=fam.child, claim_year=2026,
                                            applicant=fam.mother, bank_account=fam.account)
        make_family(personas.cadre_b, VILLAGE_B, date(2024, 2, 1), surname="黄")
        dead = Person.objects.filter(area__code=VILLAGE_A, name="林建国").order_by("id")[1]
        reg_actions.record_death(personas.county, dead, death_date=date(2026, 5, 1),
                                 source="公安户籍")
    by_village: dict[str, list[int]] = {}
    for pk, code in Person.objects.values_list("pk", "area__code"):
        by_village.setdefault(code, []).append(pk)
    return by_village


def _client(user: Any) -> Client:
    c = Client()
    assert c.login(username=user.username, password=PASSWORD)
    return c


def _walk_api(c: Client, url: str) -> list[int]:
    """The ids of every page of an API list, following X-Next-After."""
    seen: list[int] = []
    sep = "&" if "?" in url else "?"
    nxt = ""
    for _ in range(100):
        resp = c.get(f"{url}{sep}limit=2" + (f"&after={nxt}" if nxt else ""))
        assert resp.status_code == 200, (url, resp.content[:300])
        rows = resp.json()
        seen.extend(r["case"]["id"] if "case" in r else r["id"] for r in rows)
        nxt = resp.headers.get("X-Next-After", "")
        if not nxt:
            assert "Link" not in resp.headers
            return seen
        assert resp.headers["Link"].endswith('>; rel="next"') and f"after={nxt}" in \
            resp.headers["Link"]
    raise AssertionError("no last page")


@pytest.mark.parametrize("sort", [s.key for s in lists.PERSONS.sorts])
def test_web_list_pages_by_key_give_every_row_once_in_order(
        personas: Personas, families: dict[str, list[int]], sort: str) -> None:
    small = listing.ListSpec(**{**lists.PERSONS.__dict__, "per_page": 2})
    for user, villages in ((personas.cadre_a, [VILLAGE_A]),
                           (personas.county, [VILLAGE_A, VILLAGE_B])):
        whole = listing.run(listing.ListSpec(**{**small.__dict__, "per_page": 100}), user,
                            persons_for(user), {"sort": sort})
        want = [p.pk for p in whole.rows]
        assert sorted(want) == sorted(pk for v in villages for pk in families[v])
        got: list[int] = []
        params: dict[str, str] = {"sort": sort}
        numbers = []
        while True:
            page = listing.run(small, user, persons_for(user), params)
            assert not page.errors, page.errors
            got.extend(p.pk for p in page.rows)
            numbers.append(page.number)
            if not page.has_next:
                break
            params = {"sort": sort, "after": page.next_after}
        assert got == want, (user.username, sort)
        assert numbers == list(range(1, len(numbers) + 1))


def test_web_list_next_link_by_key_keeps_the_area(personas: Personas,
                                                 families: dict[str, list[int]]) -> None:
    c = _client(personas.cadre_b)
    mine = set(families[VILLAGE_B])
    # a cursor taken from the county's list does not open anything outside cadre_b's village
    county = listing.run(listing.ListSpec(**{**lists.PERSONS.__dict__, "per_page": 1}),
                         personas.county, persons_for(personas.county), {"sort": "created"})
    html = c.get("/registry/persons/", {"sort": "created",
                                        "after": county.next_after}).content.decode()
    shown = {p.pk for p in Person.objects.all() if f"/registry/persons/{p.pk}/" in html}
    assert shown and shown <= mine
    bad = c.get("/registry/persons/", {"after": "not-a-cursor"})
    assert bad.status_code == 400 and "翻页位置：翻页位置「not-a-cursor」无效" in \
        bad.content.decode()


def test_keyset_orders_nulls_the_same_on_every_database(
        personas: Personas, families: dict[str, list[int]]) -> None:
    qs = Person.objects.all()
    for order in (("death_date", "name", "id"), ("-death_date", "-name", "-id"),
                  ("household__head", "-created_at", "id")):
        want = list(keyset.ordered(qs, keyset.order_of(qs.order_by(*order)))
                    .values_list("pk", flat=True))
        got: list[int] = []
        cursor = ""
        while True:
            rows, cursor = keyset.page(qs.order_by(*order), cursor, limit=3)
            got.extend(p.pk for p in rows)
            if not cursor:
                break
        assert got == want and len(set(got)) == len(got) == Person.objects.count(), order
        dead = Person.objects.exclude(death_date=None).get().pk
        if order[0] == "death_date":  # ascending: NULLs last
            assert want[0] == dead
        elif order[0] == "-death_date":  # descending: NULLs first
            assert want[-1] == dead


API_LISTS = ["/api/persons", "/api/persons?q=陈秀英", "/api/cases", "/api/worklist",
             "/api/notices", "/api/cycles", "/api/batches", "/api/registry/changes?status=all",
             "/api/feeds/effects", "/api/feeds/files"]


def test_api_lists_page_by_key(personas: Personas, families: dict[str, list[int]]) -> None:
    walked = 0
    for url in API_LISTS:
        for user in (personas.cadre_a, personas.cadre_b, personas.township, personas.county):
            c = _client(user)
            whole = c.get(url + ("&" if "?" in url else "?") + "limit=500").json()
            want = [r["case"]["id"] if "case" in r else r["id"] for r in whole]
            assert _walk_api(c, url) == want, (user.username, url)
            walked += len(want) > 2
    assert walked >= 8  # persons, the name search, cases and the township's worklist
    for url in API_LISTS[:2]:
        got_a = set(_walk_api(_client(personas.cadre_a), url))
        assert got_a and got_a <= set(families[VILLAGE_A])
        got_b = set(_walk_api(_client(personas.cadre_b), url))
        assert got_b and got_b <= set(families[VILLAGE_B])


def test_api_cursor_is_no_key_to_another_area(personas: Personas,
                                              families: dict[str, list[int]]) -> None:
    county = _client(personas.county).get("/api/persons?limit=1")
    cursor = county.headers["X-Next-After"]
    rows = _client(personas.cadre_b).get(f"/api/persons?after={cursor}&limit=500").json()
    assert rows and {r["id"] for r in rows} <= set(families[VILLAGE_B])
    assert Client().get(f"/api/persons?after={cursor}").status_code == 401


def test_api_cursor_of_the_wrong_shape_or_role(personas: Personas,
                                               families: dict[str, list[int]]) -> None:
    c = _client(personas.county)
    notices_cursor = keyset.encode([("start_on", True), ("id", True)], ["2026-01-01", 5])
    for url in ("/api/persons?after=abc", "/api/cases?after=" + notices_cursor,
                "/api/notices?after=12", "/api/batches?after=e30"):
        resp = c.get(url)
        assert resp.status_code == 422, (url, resp.status_code)
        body = resp.json()
        assert body["errors"][0]["field"] == "after" and "翻页位置" in body["detail"], url
    # a role the list is not for is refused whatever the cursor
    resp = _client(personas.cadre_a).get("/api/recoveries?after=1")
    assert resp.status_code == 403


def test_openapi_documents_after_and_the_next_headers(personas: Personas) -> None:
    doc = _client(personas.county).get("/api/openapi.json").json()
    for path in ("/api/persons", "/api/cases", "/api/cycles", "/api/batches",
                 "/api/notices", "/api/worklist", "/api/recoveries"):
        op = doc["paths"][path]["get"]
        after = [p for p in op["parameters"] if p["name"] == "after"]
        assert after and "X-Next-After" in after[0]["schema"].get("description", "") + \
            after[0].get("description", ""), path
        assert set(op["responses"]["200"]["headers"]) == {"X-Next-After", "Link"}, path
