"""Writing many new rows of a model at once.

``insert`` is ``bulk_create`` for rows that need nothing of it but their primary keys: on
PostgreSQL the keys are taken from the table's sequence first and the rows written with
``COPY … FROM STDIN``, which costs a fraction of an ``INSERT`` whose every value psycopg must
quote (a feed file's effects and audit events: several seconds a file at a county's size).
Elsewhere it is ``bulk_create``. Either way the objects come back with their ``pk`` set, as
saved objects; ``auto_now_add`` fields and defaults are filled as ``save`` fills them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


def insert(objs: Sequence[M], batch_size: int = 2000) -> list[M]:
    rows = list(objs)
    if not rows:
        return rows
    model = type(rows[0])
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_create(rows, batch_size=batch_size)
    meta = model._meta
    pk = meta.pk
    assert pk is not None and pk.column == "id"
    fields = list(meta.concrete_fields)
    names = ", ".join(connection.ops.quote_name(f.column or f.attname) for f in fields)
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                    "FROM generate_series(1, %s)", [meta.db_table, len(rows)])
        for obj, (key,) in zip(rows, cur.fetchall(), strict=True):
            obj.pk = key
        # the raw cursor's errors as Django's (a unique key taken: IntegrityError)
        with connection.wrap_database_errors, cur.cursor.copy(
                f"COPY {connection.ops.quote_name(meta.db_table)} ({names}) FROM STDIN") as copy:
            for obj in rows:
                copy.write_row([f.get_db_prep_save(f.pre_save(obj, True), connection)
                                for f in fields])
    for obj in rows:
        obj._state.adding = False
        obj._state.db = connection.alias
    return rows
