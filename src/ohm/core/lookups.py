"""``field__any=[…]``: membership in a long list of integers as ONE query parameter.

Django's ``__in`` makes one placeholder per value: for a batch chunk of thousands of ids the
SQL text, its parameters and the database's parse all grow with the list (and SQLite caps
the number of parameters). ``__any`` sends the list once — an array on PostgreSQL
(``= ANY(%s)``), JSON on SQLite (``IN (SELECT value FROM json_each(%s))``) — so a chunk's
look-ups cost the same at 10 ids or 10,000. Integer fields only (ids, numbers).

Pass a ``frozenset`` (or any iterable that is not a list or tuple): Django looks into a list
or tuple on the right-hand side element by element for expressions to resolve, which for
thousands of ids costs more than the query.
"""

from __future__ import annotations

import json

from django.db.models import BigAutoField, BigIntegerField, ForeignKey, IntegerField, Lookup
from django.db.models.fields import AutoField, PositiveIntegerField, SmallIntegerField


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        values = self.rhs
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"__any needs a list of integers, got {type(values).__name__}")
        out = []
        for value in sorted(values) if isinstance(values, (set, frozenset)) else values:
            if isinstance(value, bool) or not isinstance(value, int):
                try:
                    value = int(value)
                except (TypeError, ValueError) as error:
                    raise TypeError(f"__any needs integers, got {value!r}") from error
            out.append(value)
        return out

    def process_rhs(self, compiler, connection):
        if connection.vendor == "postgresql":
            return "%s", [self.rhs]
        return "%s", [json.dumps(self.rhs)]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]
        return f"{lhs} IN (SELECT value FROM json_each({rhs}))", [*lhs_params, *rhs_params]


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
