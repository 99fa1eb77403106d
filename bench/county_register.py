"""A large synthetic county register for the benchmarks, written fast (untimed set-up).

    DATABASE_URL=postgresql://huimin@127.0.0.1:55432/<empty db> HUIMIN_DEV_KEYS=1 \\
        python bench/county_register.py --persons 1000000 --cases 50000

Persons come from ``huimin.registry.synth.generate`` (whole households, parents linked to
their children, bank accounts), each with the register's keyed hash and sealed number
(``registry.actions.seal_id`` / ``seal_account``); on PostgreSQL they are written with
``COPY``, elsewhere with ``bulk_create``. The demo users are created as ``huimin.demo`` does.
Open 育儿补贴 cases of the current year are then made for ``--cases`` small children, each
entitlement evaluated by the rules engine (``programs.entitlement.evaluate_mapping`` on the
registry columns ``programs.subjects.subject_facts`` reads), half waiting at the first review
level and half approved, and written in bulk too.

This is benchmark data written straight into the tables: a deployment's cases are made
through ``cases.actions`` (one at a time, with decisions and audit events), which at a
million persons would take far longer than the runs it prepares.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

DEMO_SEED = 7


def _write(model: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert rows (explicit ids) into ``model``'s table: COPY on PostgreSQL."""
    from django.db import connection

    table = model._meta.db_table
    cols = [model._meta.get_field(c).column for c in columns]
    n = 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([json.dumps(v, ensure_ascii=False)
                                    if isinstance(v, dict | list) else v for v in row])
                    n += 1
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT MAX(id) FROM {table}))")
        return n
    names = [model._meta.get_field(c).attname for c in columns]
    batch: list[Any] = []
    for row in rows:
        batch.append(model(**dict(zip(names, row, strict=True))))
        if len(batch) >= 5000:
            model.objects.bulk_create(batch)
            n += len(batch)
            batch = []
    model.objects.bulk_create(batch)
    return n + len(batch)


def _next_id(model: Any) -> int:
    from django.db.models import Max

    return int(model.objects.aggregate(m=Max("id"))["m"] or 0) + 1


def build_register(persons: int, *, cases: int, seed: int = DEMO_SEED,
                   today: date | None = None) -> dict[str, int]:
    from django.db import transaction
    from django.utils import timezone

    from huimin.accounts.models import User
    from huimin.demo import create_users, pick_focus
    from huimin.registry.actions import seal_account, seal_id
    from huimin.registry.areas import DEMO_COUNTY, load_county
    from huimin.registry.models import Area, BankAccount, Household, ParentChild, Person
    from huimin.registry.synth import generate, neighbour_codes
    from huimin.registry.synth_db import villages_of

    today = today or timezone.localdate()
    load_county(DEMO_COUNTY)
    county = Area.objects.get(code=DEMO_COUNTY.ljust(12, "0"))
    if Person.objects.exists():
        raise SystemExit("数据库中已有人员：请用空数据库")
    people = list(generate(villages_of(DEMO_COUNTY), persons, seed=seed, as_of=today,
                           birthplaces=neighbour_codes(DEMO_COUNTY)))
    areas = dict(Area.objects.filter(code__startswith=DEMO_COUNTY).values_list("code", "id"))
    now = timezone.now()
    with transaction.atomic():
        first_hh, first_person = _next_id(Household), _next_id(Person)
        households: dict[str, int] = {}
        hh_rows = []
        for p in people:
            if p.household not in households:
                households[p.household] = first_hh + len(households)
                hh_rows.append((households[p.household], p.household, areas[p.village], "",
                                p.hukou_type, now))
        _write(Household, ["id", "number", "area", "address", "hukou_type", "created_at"],
               hh_rows)
        pk = {p.key: first_person + i for i, p in enumerate(people)}
        _write(Person, ["id", "household", "name", "id_hash", "id_sealed", "id_masked",
                        "id_last4_hash", "sex", "birth_date", "area", "hukou_type", "death_date",
                        "death_source", "death_certificate", "moved_to_code", "created_at"],
               ((pk[p.key], households[p.household], p.name,
                 *seal_id(p.id_number, p.village).values(),
                 p.sex, p.birth_date, areas[p.village], p.hukou_type, p.death_date, "", "", "",
                 now) for p in people))
        first_link = _next_id(ParentChild)
        links = [(pk[k], pk[p.key], rel) for p in people for k, rel in p.parents]
        _write(ParentChild, ["id", "parent", "child", "relation"],
               ((first_link + i, *link) for i, link in enumerate(links)))
        first_acct = _next_id(BankAccount)
        holders = [p for p in people if p.account]
        accounts = {p.key: first_acct + i for i, p in enumerate(holders)}
        _write(BankAccount, ["id", "person", "bank_name", "account_sealed", "account_hash",
                             "account_masked", "active", "verified_how", "created_at"],
               ((accounts[p.key], pk[p.key], p.bank_name,
                 *(seal_account(p.account)[f] for f in ("account_sealed", "account_hash",
                                                       "account_masked")),
                 True, "", now) for p in holders))
    focus = pick_focus(DEMO_COUNTY)
    create_users(focus.village_a, focus.village_b, county, focus)
    cadre = User.objects.get(username="cadre_a")
    made = _children_cases(people, pk, accounts, cadre.pk, cases, seed, today)
    return {"persons": len(people), "households": len(households), "links": len(links),
            "accounts": len(holders), "cases": made}


def _children_cases(people: list[Any], pk: dict[int, int], accounts: dict[int, int],
                    cadre_id: int, wanted: int, seed: int, today: date) -> int:
    from django.db import transaction
    from django.utils import timezone

    from huimin.cases.models import Case
    from huimin.cases.states import State
    from huimin.programs import entitlement
    from huimin.programs.entitlement import CHILDCARE
    from huimin.programs.models import Program

    program = Program.objects.get(code=CHILDCARE)
    by_key = {p.key: p for p in people}
    children_of: dict[int, list[Any]] = {}
    for p in people:
        for k, rel in p.parents:
            if rel != "guardian":
                children_of.setdefault(k, []).append(p)
    small = [p for p in people if p.birth_date >= date(today.year - 3, 1, 1)
             and p.death_date is None and p.parents]
    random.Random(seed).shuffle(small)
    chains: dict[str, list[dict[str, Any]]] = {}
    rows = []
    first = _next_id(Case)
    now = timezone.now()
    for child in small:
        if len(rows) >= wanted:
            break
        parents = [by_key[k] for k, _ in child.parents]
        payer = next((q for q in parents if q.key in accounts), None)
        if payer is None:
            continue
        siblings = {c.key for q in parents for c in children_of.get(q.key, [])}
        facts = {"person_id": str(pk[child.key]), "birth_date": child.birth_date,
                 "death_date": None, "hukou_area_code": child.village,
                 "hukou_type": child.hukou_type, "sex": child.sex, "claim_date": today,
                 "parent1_hukou_area_code": parents[0].village,
                 "parent2_hukou_area_code": parents[1].village if len(parents) > 1 else None,
                 "birth_order": 1 + sum(1 for s in siblings
                                        if by_key[s].birth_date < child.birth_date),
                 "children_count": 0, "daughters_count": 0, "living_children_count": 0}
        ent = entitlement.evaluate_mapping(CHILDCARE, facts, today.year, today)
        if not ent.eligible:
            continue
        if child.village not in chains:
            chains[child.village] = [lv.to_dict() for lv in entitlement.review_chain(
                CHILDCARE, child.village, today.year, today)]
        chain = chains[child.village]
        waiting = len(rows) % 2 == 0
        rows.append((first + len(rows), program.pk, pk[child.key], pk[payer.key],
                     accounts[payer.key], pk_area(child.village), today.year,
                     State.SUBMITTED if waiting else State.APPROVED, True, ent.months,
                     ent.amount_fen, ent.to_dict(), {}, chain,
                     str(chain[0]["level"] if waiting else chain[-1]["level"]),
                     str(chain[0]["role"]) if waiting else "", "", today if waiting else None,
                     "", 1, cadre_id, now, now))
    with transaction.atomic():
        return _write(Case, ["id", "program", "subject", "applicant", "bank_account", "area",
                             "claim_year", "state", "eligible", "months", "amount_fen",
                             "explanation", "facts", "review_chain", "level", "awaiting_role",
                             "pending_posting", "ready_on", "stop_reason", "version",
                             "created_by", "created_at", "updated_at"], rows)


_AREAS: dict[str, int] = {}


def pk_area(code: str) -> int:
    if not _AREAS:
        from huimin.registry.models import Area

        _AREAS.update(Area.objects.values_list("code", "id"))
    return _AREAS[code]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huimin.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    start = time.perf_counter()
    stats = build_register(args.persons, cases=args.cases, seed=args.seed)
    print(f"register built in {time.perf_counter() - start:.1f} s: {stats}")


if __name__ == "__main__":
    main()
