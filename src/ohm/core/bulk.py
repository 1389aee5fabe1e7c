"""Set-based row writes for batch paths: COPY on PostgreSQL, one prepared INSERT run over
many rows (``executemany``) on SQLite. Several times faster than ``bulk_create``, which
builds SQL per batch; values must already be in database form (ints, str, bytes, dates)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from operator import itemgetter

from django.db import connection

CHUNK = 20_000


def insert_rows(
    table: str, columns: Sequence[str], rows: Iterable[Sequence], *, chunk: int = CHUNK
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; returns how many.

    On SQLite a column whose value is the same in every row of a chunk (a bill run's dates,
    cycle, run, creator…) is written into the statement as a literal (``sql_literal``), so
    each row binds only the values that differ: the driver spends about 500 instructions
    binding one value (ADR 0006)."""
    quoted_table = connection.ops.quote_name(table)
    quoted_columns = [connection.ops.quote_name(c) for c in columns]
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            column_list = ", ".join(quoted_columns)
            with cursor.cursor.copy(f"COPY {quoted_table} ({column_list}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        batch: list[Sequence] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= chunk:
                _insert_batch(cursor, quoted_table, quoted_columns, batch)
                count += len(batch)
                batch = []
        if batch:
            _insert_batch(cursor, quoted_table, quoted_columns, batch)
            count += len(batch)
    return count


def _insert_batch(cursor, table: str, columns: list[str], rows: list[Sequence]) -> None:
    """One SQLite INSERT over ``rows``, the chunk's shared values as literals."""
    slots: list[str] = []
    bound: list[int] = []  # the columns left to bind, by position
    first, middle, last = rows[0], rows[len(rows) // 2], rows[-1]
    for j, value in enumerate(first):
        # Most columns that vary differ already between these three rows.
        literal = sql_literal(value) if middle[j] == value and last[j] == value else None
        if literal is not None:
            values = list(map(itemgetter(j), rows))
            if values.count(value) != len(values) or (
                # 1 == 1.0 == True: an equal value of another type would be stored differently.
                value.__class__ in (int, bool)
                and list(map(type, values)).count(value.__class__) != len(values)
            ):
                literal = None
        if literal is not None:
            slots.append(literal)
        else:
            slots.append("?")
            bound.append(j)
    if len(bound) > 1:
        params: list = list(map(itemgetter(*bound), rows))
    elif bound:
        params = [(row[bound[0]],) for row in rows]
    else:
        params = [()] * len(rows)
    executemany(
        cursor,
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(slots)})",
        params,
    )


def sql_literal(value) -> str | None:
    """``value`` as an SQLite literal, or None when it must be bound as a parameter.

    SQLite string literals have one escape, a doubled quote; a NUL cannot appear in the
    statement text, so a string holding one is bound instead (as is anything not an exact
    ``int``, ``bool`` or ``str``: floats, bytes, numpy scalars). A bool is the integer the
    driver would bind for it."""
    if value is None:
        return "NULL"
    if value.__class__ is int:
        return str(value)
    if value.__class__ is str and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    if value.__class__ is bool:
        return "1" if value else "0"
    return None


def executemany(cursor, sql: str, rows: Sequence[Sequence]) -> None:
    """SQLite's ``executemany`` straight on the ``sqlite3`` driver, with Django's error
    classes. ``sql`` uses ``?`` placeholders.

    Past Django's cursor wrappers, which would rewrite the statement's ``%`` signs (a literal
    may hold one) and copy the rows through ``tee``; so Django's query logging and
    ``assertNumQueries`` do not see it."""
    with connection.wrap_database_errors:
        sqlite3.Cursor.executemany(cursor.cursor, sql, rows)


def insert_instances(model, instances: Sequence) -> int:
    """Insert unsaved ``model`` instances whose primary keys are already set. Values go through
    each field's ``get_db_prep_save``, so encryption and time zones apply as in ``save()``."""
    fields = model._meta.concrete_fields
    rows = (
        tuple(f.get_db_prep_save(getattr(instance, f.attname), connection) for f in fields)
        for instance in instances
    )
    return insert_rows(model._meta.db_table, [f.column for f in fields], rows)
