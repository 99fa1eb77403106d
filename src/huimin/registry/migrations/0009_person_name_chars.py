"""Name search of one or two characters at county scale: on PostgreSQL a GIN index of the
characters of persons' names.

The trigram index (0006) serves ``name LIKE '%…%'`` only for searches of three characters or
more; most Chinese names have two, and a two-character search was a scan of every person. The
index holds each name as the array of its characters (``string_to_array(name, NULL)``); a short
search asks for the names holding all its characters (``@>``) and keeps the ``LIKE`` for the
exact meaning (see ``huimin.registry.search.name_contains``). SQLite is unaffected.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

INDEX = "person_name_chars"


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("registry", "Person")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON {table} "
                       "USING gin (string_to_array(name, NULL))")


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("registry", "0008_person_merged_into")]
    operations = [migrations.RunPython(create, drop)]
