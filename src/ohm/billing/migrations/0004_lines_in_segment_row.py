"""Bill lines move into their segment's row (``BillSegment.lines_json``): a bill run writes
one row per bill and per segment instead of one more per line."""

import json

from django.db import migrations, models


def move_lines(apps, schema_editor):
    connection = schema_editor.connection
    q = connection.ops.quote_name
    with connection.cursor() as read:
        read.execute(
            f"SELECT segment_id, component, gl_role, description, quantity, unit, price,"
            f" amount_cents, clause FROM {q('billing_billline')}"
            f" WHERE segment_id IS NOT NULL ORDER BY segment_id, sequence"
        )
        updates: list[tuple[str, int]] = []
        current, lines = None, []
        for segment_id, *line in read.fetchall():
            if segment_id != current and current is not None:
                updates.append(
                    (json.dumps(lines, ensure_ascii=False, separators=(",", ":")), current)
                )
                lines = []
            current = segment_id
            lines.append(line)
        if current is not None:
            updates.append((json.dumps(lines, ensure_ascii=False, separators=(",", ":")), current))
    with connection.cursor() as write:
        write.executemany(
            f"UPDATE {q('billing_billsegment')} SET lines_json = %s WHERE id = %s", updates
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_fewer_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="billsegment",
            name="lines_json",
            field=models.TextField(
                default="[]",
                help_text="The segment's bill lines, in order: JSON [[component, GL role, "
                "description, quantity, unit, price, cents, clause], …] (``line_list()``)",
            ),
        ),
        migrations.RunPython(move_lines, migrations.RunPython.noop),
        migrations.DeleteModel(
            name="BillLine",
        ),
    ]
