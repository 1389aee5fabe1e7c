"""Seed the default chart of accounts, and make the journal append-only in the database."""

from django.db import migrations


def seed_chart(apps, schema_editor):
    from ohm.ledger.chart import DEFAULT_CHART

    gl = apps.get_model("ledger", "GLAccount")
    for code, name, kind, role in DEFAULT_CHART:
        gl.objects.update_or_create(code=code, defaults={"name": name, "kind": kind, "role": role})


def add_triggers(apps, schema_editor):
    from ohm.ledger import append_only

    append_only.install(schema_editor, append_only.TABLES_BEFORE_0005, view=False)


def drop_triggers(apps, schema_editor):
    from ohm.ledger import append_only

    append_only.uninstall(schema_editor, append_only.TABLES_BEFORE_0005)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [
        migrations.RunPython(seed_chart, migrations.RunPython.noop),
        migrations.RunPython(add_triggers, drop_triggers),
    ]
