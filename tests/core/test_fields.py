"""The batch tables' fields: on SQLite no AUTOINCREMENT and no JSON CHECK; on PostgreSQL what
Django's own fields make."""

from django.db import connection, models

from ohm.core import fields
from ohm.ledger import models as ledger_models


class TestRowidPrimaryKey:
    def test_sqlite_gets_a_plain_integer_primary_key(self):
        field = fields.RowidPrimaryKey(primary_key=True)
        field.set_attributes_from_name("id")

        suffix = field.db_type_suffix(connection)

        if connection.vendor == "sqlite":
            assert suffix is None
        else:
            assert suffix == models.BigAutoField(primary_key=True).db_type_suffix(connection)


class TestUncheckedJSONField:
    def test_sqlite_gets_no_json_valid_check(self):
        field = fields.UncheckedJSONField(default=list)
        field.set_attributes_from_name("lines")

        check = field.db_check(connection)

        if connection.vendor == "sqlite":
            assert check is None
        else:
            plain = models.JSONField(default=list)
            plain.set_attributes_from_name("lines")
            assert check == plain.db_check(connection)


def test_the_ledger_names_stay_for_its_migrations():
    assert ledger_models.JournalId is fields.RowidPrimaryKey
    assert ledger_models.LinesField is fields.UncheckedJSONField
