"""API: the registry."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest
from ninja import Router, Schema

from huimin.accounts.access import get_person_for_user, persons_for
from huimin.audit.events import record_view
from huimin.registry.crypto import id_hash

router = Router(tags=["registry"])


class PersonOut(Schema):
    id: int
    name: str
    id_masked: str
    sex: str
    birth_date: date
    death_date: date | None
    area_code: str
    hukou_type: str


def person_out(p: object) -> PersonOut:
    from huimin.registry.models import Person

    assert isinstance(p, Person)
    return PersonOut(id=p.pk, name=p.name, id_masked=p.id_masked, sex=p.sex,
                     birth_date=p.birth_date, death_date=p.death_date, area_code=p.area.code,
                     hukou_type=p.hukou_type)


@router.get("/persons", response=list[PersonOut])
def list_persons(request: HttpRequest, q: str = "", limit: int = 50, offset: int = 0
                 ) -> list[PersonOut]:
    qs = persons_for(request.user).order_by("id")
    if q:
        qs = qs.filter(id_hash=id_hash(q.upper())) if len(q) == 18 else qs.filter(name__contains=q)
    return [person_out(p) for p in qs[offset: offset + min(limit, 500)]]


@router.get("/persons/{person_id}", response=PersonOut)
def get_person(request: HttpRequest, person_id: int) -> PersonOut:
    person = get_person_for_user(request.user, person_id)
    record_view(request.user, person)
    return person_out(person)
