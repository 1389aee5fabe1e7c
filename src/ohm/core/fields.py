"""Model fields for the tables batch runs write by the hundred thousand (the journal, bills and
their segments), without SQLite's per-row bookkeeping that those tables do not need (ADR 0006).

On PostgreSQL both behave exactly like the Django fields they extend.
"""

from __future__ import annotations

from django.db import models


class RowidPrimaryKey(models.BigAutoField):
    """A primary key that is, on SQLite, a plain ``INTEGER PRIMARY KEY`` (the rowid), without
    ``AUTOINCREMENT``.

    ``AUTOINCREMENT`` only promises that the ids of deleted rows are never handed out again;
    it costs every INSERT a read and a write of ``sqlite_sequence`` (measured with callgrind:
    17,000 of SQLite's 44,000 instructions per batch-posted journal entry). Use it only for
    tables whose rows are never deleted, so that a new row's id is ``max(id) + 1`` either way
    (which is also how the batch paths reserve ids under SQLite's write lock). PostgreSQL
    keeps its identity column.
    """

    def db_type_suffix(self, connection):
        if connection.vendor == "sqlite":
            return None
        return super().db_type_suffix(connection)


class UncheckedJSONField(models.JSONField):
    """JSON written only by Ohm's own code, without the ``JSON_VALID`` CHECK Django adds on
    SQLite.

    The CHECK parses every value on every INSERT. Use it only for columns that nothing but
    our code writes (the ORM's JSON encoder or ``json.dumps``), and say in the field's help
    or comment where the values are read back. On PostgreSQL the column stays ``jsonb``,
    which parses what it stores.
    """

    def db_check(self, connection):
        if connection.vendor == "sqlite":
            return None
        return super().db_check(connection)
