"""How bills are stored: the database's rules (one live bill per account and period, one
rebill per bill), the indexes the reads use, and no per-row bookkeeping on SQLite."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import IntegrityError, connection, transaction

from ohm.billing import operations, queries
from ohm.billing.models import Bill, BillSegment
from ohm.core.audit import SystemActor
from tests.billing.support import delivered_channel, served_with_rate, store_local_days

ACTOR = SystemActor("tests")
APRIL = operations.BillDates(
    cycle=1,
    read_date=date(2026, 4, 1),
    bill_date=date(2026, 4, 2),
    due_date=date(2026, 4, 23),
    previous_read_date=date(2026, 3, 2),
)
AT = datetime(2026, 4, 2, 16, 0, tzinfo=UTC)


def billed(kwh: float = 1.0) -> Bill:
    account = served_with_rate()
    store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1), kwh=kwh)
    result = operations.bill_accounts(account_ids=[account.pk], dates=APRIL, at=AT, actor=ACTOR)
    (bill,) = result.bills
    return Bill.objects.get(pk=bill.pk)


def copy_of(bill: Bill, suffix: str, **changes) -> Bill:
    """Another row for the same account and period, written straight to the table."""
    values = {f.attname: getattr(bill, f.attname) for f in Bill._meta.concrete_fields}
    values.pop("id")
    values |= {"number": bill.number + suffix, "entry_key": "", "entry_id": None, **changes}
    with transaction.atomic():
        return Bill.objects.create(**values)


@pytest.mark.django_db
class TestOneLiveBillPerPeriod:
    def test_a_second_live_bill_for_the_period_is_refused(self):
        bill = billed()

        with pytest.raises(IntegrityError):
            copy_of(bill, "H", status=Bill.Status.HELD)

    def test_cancelled_and_discarded_bills_may_share_the_period(self):
        bill = billed()

        copy_of(bill, "C1", status=Bill.Status.CANCELLED)
        copy_of(bill, "C2", status=Bill.Status.CANCELLED)
        copy_of(bill, "D1", status=Bill.Status.DISCARDED)

        assert Bill.objects.filter(account_id=bill.account_id).count() == 4

    def test_a_bill_is_replaced_once(self):
        bill = billed()
        copy_of(bill, "R1", status=Bill.Status.CANCELLED, replaces_id=bill.pk)

        with pytest.raises(IntegrityError):
            copy_of(bill, "R2", status=Bill.Status.CANCELLED, replaces_id=bill.pk)


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's table definitions")
class TestSQLiteTables:
    def test_no_autoincrement_and_no_json_check(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN (%s, %s)",
                [Bill._meta.db_table, BillSegment._meta.db_table],
            )
            tables = [row[0] for row in cursor.fetchall()]

        assert len(tables) == 2
        for sql in tables:
            assert '"id" integer NOT NULL PRIMARY KEY,' in sql
            assert "AUTOINCREMENT" not in sql
            assert "JSON_VALID" not in sql

    def test_new_bills_take_the_next_ids(self):
        first = billed()
        second = billed()

        assert second.pk == first.pk + 1
        assert second.segments.get().pk == first.segments.get().pk + 1

    def test_the_account_and_held_reads_use_their_indexes(self):
        bill = billed()

        plans = {
            "account": _plan(queries.list_bills(account_id=bill.account_id)),
            "previous": _plan(
                Bill.objects.filter(
                    account_id=bill.account_id,
                    status=Bill.Status.ISSUED,
                    end_date__lte=bill.start_date,
                )
            ),
            "held": _plan(queries.list_held_bills(cycle=1)),
            "period": _plan(Bill.objects.filter(cycle=1, end_date=bill.end_date)),
        }

        assert "one_live_bill_per_account_period" in plans["account"]
        assert "one_live_bill_per_account_period" in plans["previous"]
        assert "bill_held" in plans["held"]
        assert "bill_period" in plans["period"]


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return " ".join(str(row[-1]) for row in cursor.fetchall())


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's column types")
def test_postgresql_keeps_jsonb_and_identity_columns():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type, is_identity FROM information_schema.columns"
            " WHERE table_name IN (%s, %s) AND column_name IN"
            " ('id', 'exceptions', 'messages', 'rate_versions', 'determinants')",
            [Bill._meta.db_table, BillSegment._meta.db_table],
        )
        columns = {(table, column): (kind, identity) for table, column, kind, identity in cursor}

    assert columns[("billing_bill", "id")] == ("bigint", "YES")
    assert columns[("billing_billsegment", "id")] == ("bigint", "YES")
    for table, column in [
        ("billing_bill", "exceptions"),
        ("billing_bill", "messages"),
        ("billing_billsegment", "rate_versions"),
        ("billing_billsegment", "determinants"),
    ]:
        assert columns[(table, column)][0] == "jsonb"
