"""A list of ids as one query parameter: the ``__any`` lookup and its raw-SQL forms."""

import pytest
from django.db import connection

from ohm.core.lookups import Ids, any_of_sql, ids_sql
from ohm.customers.models import Account
from tests.factories import make_account


@pytest.fixture
def accounts():
    return [make_account() for _ in range(5)]


@pytest.mark.django_db
class TestAnyLookup:
    def test_finds_exactly_the_listed_ids_from_a_set_or_a_list(self, accounts):
        wanted = [accounts[0].pk, accounts[3].pk]
        for given in (Ids(wanted), frozenset(wanted), set(wanted), wanted, tuple(wanted)):
            found = Account.objects.filter(pk__any=given).values_list("pk", flat=True)
            assert sorted(found) == sorted(wanted)

    def test_an_empty_list_finds_nothing(self, accounts):
        assert not Account.objects.filter(pk__any=frozenset()).exists()

    def test_refuses_what_is_not_integers(self):
        with pytest.raises(TypeError, match="integers"):
            list(Account.objects.filter(pk__any=["seven"]))
        with pytest.raises(TypeError, match="list of integers"):
            list(Account.objects.filter(pk__any="12"))

    def test_ids_on_a_foreign_key_are_one_value_django_does_not_look_into(
        self, accounts, monkeypatch
    ):
        from django.db.models.sql.query import Query

        from ohm.agreements.models import ServiceAgreement

        looked_at = []
        check = Query.check_query_object_type
        monkeypatch.setattr(
            Query,
            "check_query_object_type",
            lambda self, value, *a: looked_at.append(value) or check(self, value, *a),
        )
        ids = [a.pk for a in accounts]
        list(ServiceAgreement.objects.filter(account_id__any=Ids(ids)))
        assert looked_at == []
        list(ServiceAgreement.objects.filter(account_id__any=frozenset(ids)))
        assert sorted(looked_at) == sorted(ids)  # what Ids saves: one check per id
        assert Ids([3, 1, 3]).values == [1, 3]
        with pytest.raises(TypeError, match="integers"):
            Ids(["x"])

    def test_sends_the_list_as_one_parameter(self, accounts):
        query = Account.objects.filter(pk__any=frozenset(a.pk for a in accounts)).query
        _sql, params = query.sql_with_params()
        assert len(params) == 1


@pytest.mark.django_db
class TestRawSql:
    def _ids(self, where: str, params: list) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM customers_account WHERE {where}", params)
            return sorted(row[0] for row in cursor.fetchall())

    def test_dense_ids_are_a_range_and_say_whether_it_is_exact(self, accounts):
        ids = sorted(a.pk for a in accounts)
        where, params, exact = ids_sql("id", ids)
        assert exact
        assert ">=" in where
        assert self._ids(where, params) == ids
        gappy = [ids[0], ids[2], ids[4]]  # still dense enough for a range: not exact
        where, params, exact = ids_sql("id", gappy)
        assert not exact
        assert set(gappy) <= set(self._ids(where, params))

    def test_sparse_ids_and_strings_go_as_one_list(self, accounts):
        ids = [accounts[0].pk, accounts[0].pk + 1_000_000]
        where, params, exact = ids_sql("id", ids)
        assert exact
        assert len(params) == 1
        assert self._ids(where, params) == [accounts[0].pk]
        where, params = any_of_sql("number", [accounts[1].number, "nobody's number"])
        assert self._ids(where, params) == [accounts[1].pk]
