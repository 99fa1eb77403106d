"""On PostgreSQL, a trigger refuses UPDATE and DELETE of audit events (TRUNCATE, which only the
test database's flush uses, is not a row operation). The model refuses them everywhere."""

from django.db import migrations

CREATE = ["""
CREATE OR REPLACE FUNCTION audit_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '审计事件只能追加，不能修改或删除 (audit_auditevent is append-only)'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql""",
          "DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent",
          """CREATE TRIGGER audit_auditevent_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_auditevent_append_only()"""]

DROP = ["DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent",
        "DROP FUNCTION IF EXISTS audit_auditevent_append_only()"]


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        for sql in CREATE:
            schema_editor.execute(sql, params=None)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        for sql in DROP:
            schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_no_id_numbers_in_searches")]

    operations = [migrations.RunPython(create, drop)]
