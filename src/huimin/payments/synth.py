"""Synthetic approved cases in bulk, for the payments benchmark and the crash test.

Each case's subject holds the account it is paid into. Rows are written with COPY
(PostgreSQL only); every column takes the model's default unless given, so the loader follows
the models as they change. Not for production data: it bypasses the review chain on purpose,
to put a million approved cases in place in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from huimin.cases.models import Case
from huimin.cases.states import State
from huimin.lib.masking import mask_account
from huimin.programs.models import Program
from huimin.registry.crypto import account_hash, box
from huimin.registry.models import Area, BankAccount, Person

CHUNK = 50_000
BANKS = ["中国农业银行惠来县支行", "惠来农村商业银行", "中国邮政储蓄银行惠来县支行"]
SURNAMES = "林陈黄郑吴李张许方杨"
GIVEN = ["小宝", "欣怡", "子轩", "梓涵", "浩然", "雨桐", "俊杰", "诗涵"]


def _copy(model: type[models.Model], rows: Iterator[dict[str, Any]]) -> None:
    fields = list(model._meta.concrete_fields)
    names = ", ".join(connection.ops.quote_name(f.column or f.attname) for f in fields)
    now = timezone.now()
    with connection.cursor() as cur, cur.cursor.copy(
            f"COPY {model._meta.db_table} ({names}) FROM STDIN") as copy:
        for row in rows:
            values = []
            for f in fields:
                if f.attname in row:
                    value = row[f.attname]
                elif isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add):
                    value = now
                else:
                    value = f.get_default()
                values.append(f.get_db_prep_save(value, connection))
            copy.write_row(values)


def _next_id(model: type[models.Model]) -> int:
    table = model._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
        return int(cur.fetchone()[0])


def _bump_sequence(model: type[models.Model]) -> None:
    table = model._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))")


def approved_cases(n: int, *, program: Program, county: str, claim_year: int, actor: Any,
                   explanation: dict[str, Any], amount_fen: int, months: int,
                   seed: int = 1) -> int:
    """Write n subjects, their accounts and their approved cases; returns the first case id."""
    if connection.vendor != "postgresql":
        raise RuntimeError("批量合成数据仅支持 PostgreSQL")
    villages = list(Area.objects.filter(level="village", code__startswith=county)
                    .order_by("code").values_list("id", flat=True))
    if not villages:
        raise RuntimeError(f"区划 {county} 没有村级区划")
    b = box()
    first_case = _next_id(Case)
    for start in range(0, n, CHUNK):
        count = min(CHUNK, n - start)
        with transaction.atomic():
            p0, a0, c0 = _next_id(Person), _next_id(BankAccount), _next_id(Case)

            def persons(p0: int = p0, count: int = count, start: int = start
                        ) -> Iterator[dict[str, Any]]:
                for i in range(count):
                    k = seed * 10**9 + start + i
                    yield {"id": p0 + i, "name": SURNAMES[k % 10] + GIVEN[k % 8],
                           "id_hash": f"synth-{k:020d}", "id_sealed": "",
                           "id_masked": "4" + "*" * 16 + str(k % 10),
                           "sex": "MF"[k % 2], "birth_date": date(2024, 1 + k % 12, 1),
                           "area_id": villages[k % len(villages)], "hukou_type": "rural"}

            def accounts(p0: int = p0, a0: int = a0, count: int = count, start: int = start
                         ) -> Iterator[dict[str, Any]]:
                for i in range(count):
                    number = f"62{seed:03d}{start + i:012d}"
                    yield {"id": a0 + i, "person_id": p0 + i, "bank_name": BANKS[i % 3],
                           "account_sealed": b.seal(number), "account_hash": account_hash(number),
                           "account_masked": mask_account(number), "active": True}

            def cases(p0: int = p0, a0: int = a0, c0: int = c0, count: int = count,
                      start: int = start) -> Iterator[dict[str, Any]]:
                for i in range(count):
                    yield {"program_id": program.pk, "subject_id": p0 + i,
                           "bank_account_id": a0 + i,
                           "area_id": villages[(seed * 10**9 + start + i) % len(villages)],
                           "claim_year": claim_year, "state": State.APPROVED, "eligible": True,
                           "months": months, "amount_fen": amount_fen,
                           "explanation": explanation, "version": 3,
                           "created_by_id": actor.pk, "id": c0 + i}

            _copy(Person, persons())
            _copy(BankAccount, accounts())
            _copy(Case, cases())
            for model in (Person, BankAccount, Case):
                _bump_sequence(model)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return first_case
