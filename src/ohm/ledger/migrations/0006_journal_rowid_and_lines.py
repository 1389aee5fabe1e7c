"""The journal entry table without SQLite's per-INSERT bookkeeping (ADR 0006): a plain
``INTEGER PRIMARY KEY`` instead of ``AUTOINCREMENT``, and ``other_lines`` without the
``JSON_VALID`` CHECK. On SQLite the table is rebuilt with every row as it was; on
PostgreSQL nothing changes in the database."""

from django.db import migrations

import ohm.ledger.models


def drop_journal_objects(apps, schema_editor):
    from ohm.ledger import append_only

    append_only.uninstall(schema_editor)


def install_journal_objects(apps, schema_editor):
    from ohm.ledger import append_only

    append_only.install(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0005_wide_rows"),
    ]

    operations = [
        migrations.RunPython(drop_journal_objects, install_journal_objects),
        migrations.AlterField(
            model_name="journalentry",
            name="id",
            field=ohm.ledger.models.JournalId(primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name="journalentry",
            name="other_lines",
            field=ohm.ledger.models.LinesField(
                default=list,
                help_text="Every non-receivable line: [gl_account_id, cents] plus, when set, "
                "[account_id, agreement_id, memo] (ohm.ledger.lines)",
            ),
        ),
        migrations.RunPython(install_journal_objects, drop_journal_objects),
    ]
