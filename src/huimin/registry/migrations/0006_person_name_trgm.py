"""Name search at county scale: on PostgreSQL a trigram index on persons' names.

``name LIKE '%秀英%'`` (the lists' and the API's name search) cannot use a b-tree; a GIN
index of ``pg_trgm`` trigrams serves it for any search of three characters or more (a full
Chinese name; a shorter one is still a scan). The extension is created if the database allows
it (``pg_trgm`` is a trusted extension: the database owner may); if not, the index is left out
with a notice and searches work as before. SQLite is unaffected.
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, migrations, transaction

INDEX = "person_name_trgm"


def create(apps: Any, schema_editor: Any) -> None:
    conn = schema_editor.connection
    if conn.vendor != "postgresql":
        return
    table = apps.get_model("registry", "Person")._meta.db_table
    try:
        with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON {table} "
                           "USING gin (name gin_trgm_ops)")
    except DatabaseError as exc:  # no privilege: searches work without the index
        print(f"\n  registry.0006: 未建姓名三元组索引（{exc}）；请由数据库管理员执行 "
              "CREATE EXTENSION pg_trgm 后重新迁移")


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("registry", "0005_person_id_last4_hash_and_list_indexes")]
    operations = [migrations.RunPython(create, drop)]
