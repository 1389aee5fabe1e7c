"""The batch's write path (ADR 0006): optimistic inserts that fall back on a replayed key,
values shared by a chunk written as SQL literals, and the journal table's schema."""

from datetime import UTC, date, datetime

import numpy as np
import pytest
from django.db import IntegrityError, connection, transaction

from ohm.core.audit import SystemActor
from ohm.ledger import operations, queries
from ohm.ledger.batch import EntryColumns, Slot, post_columns, sql_literal
from ohm.ledger.models import JournalEntry
from ohm.ledger.operations import EntrySpec, LineSpec
from tests.factories import SYSTEM, make_account
from tests.journal import lines_of

AT = datetime(2026, 3, 5, 12, tzinfo=UTC)
ON = date(2026, 3, 1)
SLOTS = (Slot("receivables"), Slot("revenue_energy"), Slot("tax_uut"))


def bills(account_ids, energy, *, keys=None, on=ON, **fields) -> EntryColumns:
    energy = np.asarray(energy, dtype=np.int64)
    tax = energy * 3 // 40
    n = len(energy)
    return EntryColumns(
        **{
            "kind": "bill",
            "slots": SLOTS,
            "keys": keys or [f"bill:{i}" for i in range(n)],
            "effective_dates": [on] * n,
            "amounts": np.column_stack([energy + tax, -energy, -tax]),
            "account_ids": list(account_ids),
            "descriptions": "Electric bill",
            "due_dates": [date(2026, 3, 22)] * n,
            "source": "test",
        }
        | fields
    )


def single(key: str, account_id: int, cents: int = 1_075) -> EntrySpec:
    return EntrySpec(
        "bill",
        ON,
        key,
        "Electric bill",
        [
            LineSpec("receivables", cents, account_id, due_date=date(2026, 3, 22)),
            LineSpec("revenue_energy", -cents),
        ],
    )


@pytest.mark.django_db
class TestOptimisticInsert:
    def test_a_chunk_with_some_keys_posted_falls_back_and_posts_the_rest(self):
        account = make_account()
        operations.post_entry(single("bill:2", account.pk), actor=SYSTEM, at=AT)

        result = post_columns(bills([account.pk] * 4, [100, 200, 300, 400]), actor=SYSTEM, at=AT)

        assert (result.posted, result.replayed) == (3, 1)
        assert JournalEntry.objects.count() == 4
        # bill:2 is the entry posted first, not the batch's
        assert JournalEntry.objects.get(idempotency_key="bill:2").receivable_cents == 1_075
        assert queries.get_balance_cents(account_id=account.pk) == 1_075 + 107 + 215 + 430
        assert queries.check_books().balanced

    def test_the_fallback_works_inside_a_callers_transaction(self):
        account = make_account()
        post_columns(bills([account.pk] * 2, [100, 200]), actor=SYSTEM, at=AT)

        with transaction.atomic():
            result = post_columns(
                bills([account.pk] * 3, [100, 200, 300]), actor=SYSTEM, at=AT, chunk_size=2
            )
            assert JournalEntry.objects.count() == 3

        assert (result.posted, result.replayed) == (1, 2)
        assert queries.check_books().balanced

    def test_the_same_key_twice_in_one_chunk_posts_once(self):
        account = make_account()

        result = post_columns(
            bills([account.pk] * 3, [100, 200, 300], keys=["a", "b", "a"]), actor=SYSTEM, at=AT
        )

        assert (result.posted, result.replayed) == (2, 1)
        assert JournalEntry.objects.get(idempotency_key="a").receivable_cents == 107

    def test_a_replayed_entry_in_a_closed_month_is_skipped_not_refused(self):
        account = make_account()
        post_columns(bills([account.pk], [100], on=date(2026, 2, 10)), actor=SYSTEM, at=AT)
        operations.close_period(year=2026, month=2, actor=SYSTEM, at=AT)

        again = post_columns(bills([account.pk], [100], on=date(2026, 2, 10)), actor=SYSTEM, at=AT)

        assert (again.posted, again.replayed) == (0, 1)

    def test_an_unknown_account_is_refused_by_the_database(self):
        account = make_account()
        missing = account.pk + 10_000

        # The foreign key is deferred: the database refuses the row when the transaction
        # commits (the test's never does), so check the constraints as the commit would.
        def post_and_commit():
            with transaction.atomic():
                post_columns(bills([account.pk, missing], [100, 200]), actor=SYSTEM, at=AT)
                connection.check_constraints(table_names=["ledger_journalentry"])

        with pytest.raises(IntegrityError, match="account_id"):
            post_and_commit()

        assert JournalEntry.objects.count() == 0


@pytest.mark.django_db
class TestValuesSharedByAChunk:
    @pytest.mark.parametrize(
        "text",
        ["O'Brien's bill", "50%s off", "100%% of it", "'; DROP TABLE x; --", "Ünïcødé ✓", "a\x00b"],
    )
    def test_are_stored_exactly(self, text):
        if "\x00" in text and connection.vendor == "postgresql":
            pytest.skip("PostgreSQL's text refuses NUL")
        account = make_account()
        actor = SystemActor(f"actor {text}"[:150])

        post_columns(
            bills(
                [account.pk],
                [100],
                kind=text[:30],
                descriptions=text,
                reason_code=text[:40],
                source=text,
                slots=(Slot("receivables", memo=text), Slot("revenue_energy"), Slot("tax_uut")),
            ),
            actor=actor,
            at=AT,
        )

        entry = JournalEntry.objects.get()
        assert (entry.kind, entry.description, entry.reason_code, entry.source) == (
            text[:30],
            text,
            text[:40],
            text,
        )
        assert (entry.receivable_memo, entry.actor_label) == (text, f"actor {text}")
        assert queries.check_books().balanced

    def test_dates_that_differ_within_a_chunk_and_credits_without_a_due_date(self):
        account = make_account()
        columns = EntryColumns(
            kind="adjustment",
            slots=(Slot("receivables"), Slot("revenue_energy")),
            keys=["a", "b", "c"],
            effective_dates=[date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 2)],
            amounts=np.array([[500, -500], [-200, 200], [300, -300]]),
            account_ids=[account.pk] * 3,
            descriptions=["one", "two", "three"],
            due_dates=[date(2026, 3, 20), date(2026, 3, 21), date(2026, 3, 22)],
            agreement_ids=[None, None, None],
        )

        post_columns(columns, actor=SYSTEM, at=AT)

        rows = list(
            JournalEntry.objects.order_by("idempotency_key").values_list(
                "effective_date", "due_date", "receivable_cents", "description"
            )
        )
        assert rows == [
            (date(2026, 3, 1), date(2026, 3, 20), 500, "one"),
            (date(2026, 3, 2), None, -200, "two"),
            (date(2026, 3, 2), date(2026, 3, 22), 300, "three"),
        ]
        assert queries.check_books().balanced

    def test_other_lines_with_a_value_shared_by_every_entry(self):
        account = make_account()
        columns = EntryColumns(
            kind="bill",
            slots=(Slot("receivables"), Slot("revenue_customer_charge"), Slot("revenue_energy")),
            keys=["a", "b"],
            effective_dates=[ON, ON],
            amounts=np.array([[2_000, -1_500, -500], [1_500, -1_500, 0]]),
            account_ids=[account.pk, account.pk],
            descriptions="Bill",
        )

        post_columns(columns, actor=SYSTEM, at=AT)

        a, b = JournalEntry.objects.order_by("idempotency_key")
        assert [line[1] for line in lines_of(a)] == [2_000, -500, -1_500]
        assert [line[1] for line in lines_of(b)] == [1_500, -1_500]
        assert queries.check_books().balanced


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (None, "NULL"),
        (0, "0"),
        (-42, "-42"),
        ("", "''"),
        ("it's", "'it''s'"),
        ("%s", "'%s'"),
        ("a\x00b", None),
        (1.5, None),
        (np.int64(3), None),
        (b"x", None),
    ],
)
def test_sql_literal(value, literal):
    assert sql_literal(value) == literal


@pytest.mark.django_db
def test_the_journal_table_has_no_per_insert_bookkeeping_on_sqlite():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's table definition")
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'ledger_journalentry'")
        sql = cursor.fetchone()[0]
    assert "AUTOINCREMENT" not in sql
    assert "JSON_VALID" not in sql
    assert 'REFERENCES "customers_account"' in sql


@pytest.mark.django_db
def test_ids_keep_increasing_across_both_write_paths():
    account = make_account()
    first = operations.post_entry(single("one", account.pk), actor=SYSTEM, at=AT)
    post_columns(bills([account.pk] * 2, [100, 200]), actor=SYSTEM, at=AT)
    last = operations.post_entry(single("two", account.pk), actor=SYSTEM, at=AT)

    ids = list(JournalEntry.objects.order_by("id").values_list("id", flat=True))

    assert ids[0] == first.pk
    assert ids[-1] == last.pk
    assert ids == sorted(set(ids))
    assert len(ids) == 4
