"""Bills and segments without SQLite's per-INSERT bookkeeping (ADR 0006, as the journal in
ledger 0006): rowid primary keys instead of AUTOINCREMENT, the JSON columns without the
JSON_VALID CHECK, and four indexes fewer per bill — the account's bills found through the
one-live-bill-per-period unique index (now on account, end date and a live flag, not
partial), the rebill link unique only where set, the held queue a partial index, the run's
index replaced by the period's (end date, cycle). On SQLite the tables are rebuilt with every
row as it was; on PostgreSQL the columns are unchanged and only the indexes move."""

import django.db.models.deletion
import ohm.core.fields
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_lines_in_segment_row"),
        ("core", "0003_batch_runs"),
        ("customers", "0002_interaction_reasons"),
        ("ledger", "0006_journal_rowid_and_lines"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="bill",
            name="one_live_bill_per_account_period",
        ),
        migrations.RemoveIndex(
            model_name="bill",
            name="bill_account_status",
        ),
        migrations.RemoveIndex(
            model_name="bill",
            name="bill_status_cycle",
        ),
        migrations.AlterField(
            model_name="bill",
            name="exceptions",
            field=ohm.core.fields.UncheckedJSONField(
                blank=True, default=list, help_text="[{code, message}] found before issuing"
            ),
        ),
        migrations.AlterField(
            model_name="bill",
            name="id",
            field=ohm.core.fields.RowidPrimaryKey(primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name="bill",
            name="messages",
            field=ohm.core.fields.UncheckedJSONField(
                blank=True, default=list, help_text="[{code, text}] printed"
            ),
        ),
        migrations.AlterField(
            model_name="bill",
            name="replaces",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="replaced_by",
                to="billing.bill",
            ),
        ),
        migrations.AlterField(
            model_name="bill",
            name="run",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="core.batchrun",
            ),
        ),
        migrations.AlterField(
            model_name="billsegment",
            name="determinants",
            field=ohm.core.fields.UncheckedJSONField(
                default=dict,
                help_text="Detail: Wh per TOU period, demand W per period, tiers, interval minutes",
            ),
        ),
        migrations.AlterField(
            model_name="billsegment",
            name="id",
            field=ohm.core.fields.RowidPrimaryKey(primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name="billsegment",
            name="rate_versions",
            field=ohm.core.fields.UncheckedJSONField(
                default=list, help_text="[{id, number, start, end}] versions that priced the days"
            ),
        ),
        migrations.AddIndex(
            model_name="bill",
            index=models.Index(fields=["end_date", "cycle"], name="bill_period"),
        ),
        migrations.AddIndex(
            model_name="bill",
            index=models.Index(
                condition=models.Q(("status", "held")), fields=["cycle"], name="bill_held"
            ),
        ),
        migrations.AddConstraint(
            model_name="bill",
            constraint=models.UniqueConstraint(
                models.F("account"),
                models.F("end_date"),
                models.Case(
                    models.When(status__in=["held", "issued"], then=models.Value(True)),
                    default=None,
                ),
                name="one_live_bill_per_account_period",
            ),
        ),
        migrations.AddConstraint(
            model_name="bill",
            constraint=models.UniqueConstraint(
                condition=models.Q(("replaces__isnull", False)),
                fields=("replaces",),
                name="bill_replaced_once",
            ),
        ),
    ]
