"""Name search of one or two characters: on PostgreSQL it is answered by the GIN index of
names' characters (registry migration 0008) and means exactly what ``LIKE '%…%'`` means."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from huimin.accounts.access import persons_for
from huimin.cases.lists import _case_search
from huimin.cases.models import Case
from huimin.registry import actions
from huimin.registry.models import Area, Person
from huimin.registry.search import name_contains
from tests.conftest import PASSWORD, VILLAGE_A, Personas, new_id

pytestmark = pytest.mark.django_db
NAMES = ("张军", "军张", "张小军", "李张军华")
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="the character index exists on PostgreSQL only")


@pytest.fixture
def named(personas: Personas) -> dict[str, int]:
    area = Area.objects.get(code=VILLAGE_A)
    born = date(1990, 1, 1)
    return {n: actions.create_person(personas.cadre_a, name=n, id_number=new_id(born, "M"),
                                     sex="M", birth_date=born, area=area,
                                     hukou_type="rural").pk for n in NAMES}


def _found(client: Client, q: str) -> set[int]:
    html = client.get("/registry/persons/", {"q": q}).content.decode()
    return {int(i) for i in re.findall(r'href="/registry/persons/(\d+)/"', html)}


@pytest.mark.parametrize(("q", "expected"), [
    ("张军", {"张军", "李张军华"}),  # both characters, side by side and in this order
    ("军", set(NAMES)),
    ("张小军", {"张小军"}),
    ("军张", {"军张"}),
])
def test_short_names_match_as_substrings(q: str, expected: set[str], personas: Personas,
                                         named: dict[str, int]) -> None:
    client = Client()
    client.login(username=personas.cadre_a.username, password=PASSWORD)
    want = {named[n] for n in expected}
    assert _found(client, q) == want
    api = client.get("/api/persons", {"q": q, "limit": 200}).json()
    assert {p["id"] for p in api} == want


def _plan(qs: Any) -> str:
    sql, params = qs.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(r[0] for r in cursor.fetchall())


@on_postgresql
def test_two_characters_ask_for_the_character_index(personas: Personas,
                                                    named: dict[str, int]) -> None:
    """The index (registry 0008) exists, and a short search filters by its very expression
    (as the planner normalises both), so that at county scale the planner can use it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef(indexrelid) FROM pg_index "
                       "WHERE indexrelid = 'person_name_chars'::regclass")
        (indexdef,) = cursor.fetchone()
    expression = re.search(r"USING gin \((.*)\)$", indexdef)
    assert expression and "string_to_array" in expression.group(1)
    wanted = f"{expression.group(1)} @> '{{军,张}}'::text[]"
    assert wanted in _plan(name_contains(Person.objects.all(), "张军"))
    assert wanted in _plan(_case_search(Case.objects.all(), "张军"))
    # three characters and more: the trigram index, without the character condition
    persons = persons_for(personas.cadre_a)
    assert "string_to_array" not in str(name_contains(persons, "张小军").query)
