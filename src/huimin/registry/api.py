"""API: the registry.

Persons are listed with their masked identity number and an age, never the birth date: the
birth date is the identity number's middle eight characters. Names are searched with
``GET /api/persons?q=``; identity numbers only with ``POST /api/persons/search`` (a number in
a URL stays in every server log). Every person listed is a logged read.
"""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema

from huimin.accounts.access import get_person_for_user
from huimin.api_params import Page
from huimin.audit.events import actor_area_code, record, record_reads, record_view
from huimin.errors import ActionError
from huimin.lib.masking import age_label, age_parts
from huimin.registry import search

router = Router(tags=["registry"])
MAX_LIMIT = 500


class PersonOut(Schema):
    id: int
    name: str
    id_masked: str
    sex: str
    age: int
    age_text: str
    death_date: date | None
    area_code: str
    hukou_type: str


class IdSearchIn(Schema):
    id_number: str


def person_out(p: object) -> PersonOut:
    from huimin.registry.models import Person

    assert isinstance(p, Person)
    on = p.death_date or timezone.localdate()
    return PersonOut(id=p.pk, name=p.name, id_masked=p.id_masked, sex=p.sex,
                     age=age_parts(p.birth_date, on)[0], age_text=age_label(p.birth_date, on),
                     death_date=p.death_date, area_code=p.area.code, hukou_type=p.hukou_type)


@router.get("/persons", response=list[PersonOut])
def list_persons(request: HttpRequest, page: Query[Page], q: str = "") -> list[PersonOut]:
    """Persons in the caller's areas, by name (``q``); an identity number in ``q`` is
    refused with 400: search it with ``POST /api/persons/search``."""
    limit, offset = page.limit, page.offset
    q = q.strip()
    if search.looks_like_id(q):
        raise ActionError("q：身份证号码不能放在网址中，请用 POST /api/persons/search"
                          "（号码放在请求体的 id_number 中）查询")
    qs = search.by_name(request.user, q).order_by("id")
    persons = list(qs[offset: offset + min(limit, MAX_LIMIT)])
    if q:
        record(request.user, "person.search", request.user,
               area_code=actor_area_code(request.user), by="name", q=q, found=len(persons),
               via="api")
    record_reads(request.user, "person.list", persons, via="api", q=q, offset=offset)
    return [person_out(p) for p in persons]


@router.post("/persons/search", response=list[PersonOut])
def search_persons(request: HttpRequest, payload: IdSearchIn) -> list[PersonOut]:
    """The person (none or one) in the caller's areas with this identity number, sent in
    the body so that it stays out of URLs and logs."""
    found = search.by_id_number(request.user, payload.id_number, via="api")
    record_reads(request.user, "person.list", found, via="api_id_search")
    return [person_out(p) for p in found]


@router.get("/persons/{person_id}", response=PersonOut)
def get_person(request: HttpRequest, person_id: int) -> PersonOut:
    person = get_person_for_user(request.user, person_id)
    record_view(request.user, person)
    return person_out(person)
