"""Set-based row writes for batch paths: COPY on PostgreSQL, one prepared INSERT run over
many rows (``executemany``) on SQLite. Several times faster than ``bulk_create``, which
builds SQL per batch; values must already be in database form (ints, str, bytes, dates)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection

CHUNK = 20_000


def insert_rows(
    table: str, columns: Sequence[str], rows: Iterable[Sequence], *, chunk: int = CHUNK
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; returns how many."""
    quoted_table = connection.ops.quote_name(table)
    column_list = ", ".join(connection.ops.quote_name(c) for c in columns)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {quoted_table} ({column_list}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        sql = f"INSERT INTO {quoted_table} ({column_list}) VALUES ({', '.join(['%s'] * len(columns))})"
        batch: list[Sequence] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= chunk:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def insert_instances(model, instances: Sequence) -> int:
    """Insert unsaved ``model`` instances whose primary keys are already set. Values go through
    each field's ``get_db_prep_save``, so encryption and time zones apply as in ``save()``."""
    fields = model._meta.concrete_fields
    rows = (
        tuple(f.get_db_prep_save(getattr(instance, f.attname), connection) for f in fields)
        for instance in instances
    )
    return insert_rows(model._meta.db_table, [f.column for f in fields], rows)
