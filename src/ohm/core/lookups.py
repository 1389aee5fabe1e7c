"""``field__any=[…]``: membership in a long list of integers as ONE query parameter.

Django's ``__in`` makes one placeholder per value: for a batch chunk of thousands of ids the
SQL text, its parameters and the database's parse all grow with the list (and SQLite caps
the number of parameters). ``__any`` sends the list once — an array on PostgreSQL
(``= ANY(%s)``), JSON on SQLite (``IN (SELECT value FROM json_each(%s))``) — so a chunk's
look-ups cost the same at 10 ids or 10,000. Integer fields only (ids, numbers).

Pass ``Ids(values)``: one value Django does not look into. Django looks into an iterable on
the right-hand side element by element — a list or tuple for expressions to resolve, and any
iterable on a foreign key for model instances of the wrong type (~1 µs an id) — which for a
chunk's thousands of ids costs more than the query. Other iterables of ints work too.

Raw SQL says the same with ``any_of_sql`` (any values, strings too) and ``ids_sql`` (sorted
integer ids; a range when they are dense).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import BigAutoField, BigIntegerField, ForeignKey, IntegerField, Lookup
from django.db.models.fields import AutoField, PositiveIntegerField, SmallIntegerField


def any_of_sql(column: str, values: Iterable, *, vendor: str | None = None) -> tuple[str, list]:
    """``column`` is one of ``values``, as SQL with the list as one parameter (for raw SQL;
    the ORM has ``__any``)."""
    listed = list(values)
    if (vendor or connection.vendor) == "postgresql":
        return f"{column} = ANY(%s)", [listed]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(listed)]


def ids_sql(column: str, ids: Sequence[int]) -> tuple[str, list, bool]:
    """``column`` is one of the sorted integer ``ids``: a range when they are dense (a batch
    chunk's consecutive ids: one index range scan, no list at all), else ``any_of_sql``.
    The flag says whether the SQL is exact; a range may take in ids between them, which the
    caller drops."""
    if len(ids) and int(ids[-1]) - int(ids[0]) < 2 * len(ids):
        exact = int(ids[-1]) - int(ids[0]) + 1 == len(ids)
        return f"{column} >= %s AND {column} <= %s", [int(ids[0]), int(ids[-1])], exact
    sql, params = any_of_sql(column, [int(i) for i in ids])
    return sql, params, True


class Ids:
    """Integer ids as one value for ``__any`` (sorted, each checked once). Not iterable on
    purpose: Django then passes it to the lookup as it is."""

    __slots__ = ("values",)

    def __init__(self, ids: Iterable[int]):
        self.values = _ints(sorted(set(ids)))

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"Ids({self.values!r})"


def _ints(values: list) -> list[int]:
    if all(type(value) is int for value in values):  # the usual list: nothing to convert
        return values
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(value)
            except (TypeError, ValueError) as error:
                raise TypeError(f"__any needs integers, got {value!r}") from error
        out.append(value)
    return out


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        values = self.rhs
        if isinstance(values, Ids):
            return values.values
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"__any needs a list of integers, got {type(values).__name__}")
        return _ints(sorted(values) if isinstance(values, (set, frozenset)) else list(values))

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        sql, params = any_of_sql(lhs, self.rhs, vendor=connection.vendor)
        return sql, [*lhs_params, *params]


def install() -> None:
    for field in (
        AutoField,
        BigAutoField,
        IntegerField,
        BigIntegerField,
        SmallIntegerField,
        PositiveIntegerField,
        ForeignKey,
    ):
        field.register_lookup(AnyOf)
