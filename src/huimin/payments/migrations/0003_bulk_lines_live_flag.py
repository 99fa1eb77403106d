"""Lines: a ``live`` flag for the never-pay-twice index, the return that settled each line, and
the account paid into by reference (not a copy of its sealed number);
no per-row foreign-key triggers on the bulk tables; free room on each line page so that a
bank result rewrites the row in place."""

import django.db.models.deletion
from typing import Any

from django.db import migrations, models


def fillfactor(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE payments_paymentline SET (fillfactor = 50)")


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0004_state_out_of_indexes'),
        ('payments', '0002_cycles_entitlements_ledger_returns'),
        ('registry', '0001_initial'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='paymentline',
            name='uniq_live_line_per_case',
        ),
        migrations.AddField(
            model_name='paymentline',
            name='live',
            field=models.BooleanField(default=True, verbose_name='未失败'),
        ),
        migrations.RunSQL(
            "UPDATE payments_paymentline SET live = false WHERE status IN ('failed', 'returned')",
            migrations.RunSQL.noop),
        migrations.AddField(
            model_name='paymentline',
            name='bank_account',
            field=models.ForeignKey(null=True, db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='registry.bankaccount', verbose_name='收款账户'),
        ),
        # the account a line paid into is the one whose sealed number it copied
        migrations.RunSQL(
            "UPDATE payments_paymentline SET bank_account_id = (SELECT MIN(a.id) FROM "
            "registry_bankaccount a WHERE a.account_hash = payments_paymentline.account_hash "
            "AND a.account_sealed = payments_paymentline.account_sealed)",
            migrations.RunSQL.noop),
        migrations.AlterField(
            model_name='paymentline',
            name='bank_account',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='registry.bankaccount', verbose_name='收款账户'),
        ),
        migrations.RemoveField(model_name='paymentline', name='account_sealed'),
        migrations.RemoveField(model_name='paymentline', name='account_hash'),
        migrations.RemoveField(model_name='paymentline', name='account_masked'),
        migrations.AddField(
            model_name='paymentline',
            name='settled_by',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='payments.bankreturn'),
        ),
        migrations.AlterField(
            model_name='entitlement',
            name='bank_account',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='registry.bankaccount', verbose_name='收款账户'),
        ),
        migrations.AlterField(
            model_name='entitlement',
            name='case',
            field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='entitlement', to='cases.case'),
        ),
        migrations.AlterField(
            model_name='entitlement',
            name='cycle',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='entitlements', to='payments.paymentcycle'),
        ),
        migrations.AlterField(
            model_name='paymentline',
            name='batch',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='lines', to='payments.paymentbatch'),
        ),
        migrations.AlterField(
            model_name='paymentline',
            name='case',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='payment_lines', to='cases.case'),
        ),
        migrations.AlterField(
            model_name='paymentline',
            name='entitlement',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='lines', to='payments.entitlement'),
        ),
        migrations.AddConstraint(
            model_name='paymentline',
            constraint=models.UniqueConstraint(condition=models.Q(('live', True)), fields=('case',), name='uniq_live_line_per_case'),
        ),
        migrations.AddConstraint(
            model_name='paymentline',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('live', True), ('status__in', ['pending', 'paid'])), models.Q(('live', False), ('status__in', ['failed', 'returned'])), _connector='OR'), name='line_live_matches_status'),
        ),
        migrations.RunPython(fillfactor, migrations.RunPython.noop),
    ]
