"""Writing a synthetic county into the database in chunks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from django.db import transaction

from huimin.registry.actions import seal_account, seal_id
from huimin.registry.models import Area, BankAccount, Household, ParentChild, Person
from huimin.registry.synth import SynthPerson, generate, neighbour_codes, to_parquet

CHUNK = 5000


def villages_of(county: str) -> list[tuple[str, str]]:
    return list(Area.objects.filter(level="village", code__startswith=county)
                .order_by("code").values_list("code", "name"))


def populate(
    county: str, persons: int, *, seed: int, as_of: date, parquet_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    people = list(generate(villages_of(county), persons, seed=seed, as_of=as_of,
                           birthplaces=neighbour_codes(county)))
    areas = {a.code: a for a in Area.objects.filter(level="village", code__startswith=county)}
    key_to_pk: dict[int, int] = {}
    stats = {"persons": 0, "households": 0, "links": 0, "accounts": 0}
    for start in range(0, len(people), CHUNK):
        chunk = people[start:start + CHUNK]
        with transaction.atomic():
            _write_chunk(chunk, areas, key_to_pk, stats)
        if progress:
            progress(len(chunk))
    if parquet_dir is not None:
        to_parquet(people, parquet_dir, ids=lambda p: key_to_pk[p.key])
    return stats


def _write_chunk(chunk: list[SynthPerson], areas: dict[str, Area], key_to_pk: dict[int, int],
                 stats: dict[str, int]) -> None:
    numbers = {p.household for p in chunk}
    existing = {h.number: h for h in Household.objects.filter(number__in=numbers)}
    new = [Household(number=n, area=areas[p.village], hukou_type=p.hukou_type)
           for n, p in {p.household: p for p in chunk}.items() if n not in existing]
    for h in Household.objects.bulk_create(new):
        existing[h.number] = h
    stats["households"] += len(new)
    rows = Person.objects.bulk_create([
        Person(household=existing[p.household], name=p.name, sex=p.sex, birth_date=p.birth_date,
               area=areas[p.village], hukou_type=p.hukou_type, death_date=p.death_date,
               **seal_id(p.id_number, areas[p.village].code))
        for p in chunk
    ])
    for p, row in zip(chunk, rows, strict=True):
        key_to_pk[p.key] = row.pk
    links = [ParentChild(parent_id=key_to_pk[k], child_id=key_to_pk[p.key], relation=rel)
             for p in chunk for k, rel in p.parents]
    ParentChild.objects.bulk_create(links)
    accounts = [BankAccount(person_id=key_to_pk[p.key], bank_name=p.bank_name,
                            **seal_account(p.account)) for p in chunk if p.account]
    BankAccount.objects.bulk_create(accounts)
    stats["persons"] += len(rows)
    stats["links"] += len(links)
    stats["accounts"] += len(accounts)
