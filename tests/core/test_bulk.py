"""Bulk row writes on SQLite: the same rows whichever values the chunk shares (written into
the statement as literals) and whichever it binds."""

import pytest
from django.db import connection

from ohm.core import bulk


@pytest.fixture
def scratch():
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bulk_scratch (id integer PRIMARY KEY, n integer, t text, f real, b bigint)"
        )
    yield "bulk_scratch"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bulk_scratch")


def rows_of(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, n, t, f, b, typeof(n), typeof(t) FROM {table} ORDER BY id")
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "sqlite", reason="the literals are SQLite's")
class TestInsertRows:
    def test_shared_and_varying_values_are_stored_as_bound(self, scratch):
        rows = [
            (1, 7, "it's 100%", 1.5, True),
            (2, 7, "it's 100%", 1.5, True),
            (3, 7, "it's 100%", 2.5, False),
        ]

        count = bulk.insert_rows(scratch, ["id", "n", "t", "f", "b"], rows)

        assert count == 3
        stored = rows_of(scratch)
        assert [row[:5] for row in stored] == [
            (1, 7, "it's 100%", 1.5, 1),
            (2, 7, "it's 100%", 1.5, 1),
            (3, 7, "it's 100%", 2.5, 0),
        ]
        assert {row[5:] for row in stored} == {("integer", "text")}

    def test_equal_values_of_other_types_are_not_taken_as_shared(self, scratch):
        rows = [(1, 1, None, 0.0, 1), (2, True, None, 0.0, 1), (3, 1.0, None, 0.0, 1)]

        bulk.insert_rows(scratch, ["id", "t", "n", "f", "b"], rows)

        assert [row[2] for row in rows_of(scratch)] == ["1", "1", "1.0"]

    def test_one_row_and_chunks(self, scratch):
        bulk.insert_rows(scratch, ["id", "n", "t"], [(1, None, "a\x00b")])
        bulk.insert_rows(scratch, ["id", "n", "t"], [(9, 1, "z")])
        bulk.insert_rows(scratch, ["id", "n", "t"], ((i, i % 2, "x") for i in range(2, 9)), chunk=3)

        stored = rows_of(scratch)
        assert [row[:3] for row in stored] == [(1, None, "a\x00b")] + [
            (i, i % 2, "x") for i in range(2, 9)
        ] + [(9, 1, "z")]


@pytest.mark.parametrize(
    ("value", "literal"),
    [(None, "NULL"), (3, "3"), (True, "1"), (False, "0"), ("a'b", "'a''b'"), (1.0, None)],
)
def test_sql_literal(value, literal):
    assert bulk.sql_literal(value) == literal
