"""Uniform batches posted column by column: the same journal as one entry at a time."""

from datetime import UTC, date, datetime

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ohm.ledger import operations, queries
from ohm.ledger.batch import BatchEntryRefused, EntryColumns, Slot, post_columns
from ohm.ledger.models import JournalEntry, ReceivableExtra
from ohm.ledger.operations import EntrySpec, LineSpec
from tests.factories import SYSTEM, make_account
from tests.journal import line_count, lines_of

AT = datetime(2026, 3, 5, 12, tzinfo=UTC)
ON = date(2026, 3, 1)
SLOTS = (Slot("receivables"), Slot("revenue_energy"), Slot("tax_uut"))


def bills(accounts, energy, *, prefix="bill", on=ON) -> EntryColumns:
    energy = np.asarray(energy, dtype=np.int64)
    tax = energy * 3 // 40
    amounts = np.column_stack([energy + tax, -energy, -tax])
    return EntryColumns(
        kind="bill",
        slots=SLOTS,
        keys=[f"{prefix}:{i}" for i in range(len(energy))],
        effective_dates=[on] * len(energy),
        amounts=amounts,
        account_ids=[a.pk for a in accounts],
        descriptions="Electric bill",
        due_dates=[date(2026, 3, 22)] * len(energy),
        source="test",
    )


@pytest.mark.django_db
class TestPostColumns:
    def test_posts_every_entry_and_keeps_the_books_balanced(self):
        accounts = [make_account() for _ in range(3)]

        result = post_columns(
            bills(accounts, [10_000, 20_000, 10]), actor=SYSTEM, at=AT, chunk_size=2
        )

        assert (result.posted, result.replayed) == (3, 0)
        assert queries.get_balance_cents(account_id=accounts[1].pk) == 21_500
        assert queries.check_books().balanced
        # a zero tax is no line at all
        assert line_count() == 3 + 3 + 2

    def test_writes_what_post_entry_writes(self):
        account = make_account()
        post_columns(bills([account], [12_000], prefix="columns"), actor=SYSTEM, at=AT)
        operations.post_entry(
            EntrySpec(
                "bill",
                ON,
                "single",
                "Electric bill",
                [
                    LineSpec("receivables", 12_900, account.pk, due_date=date(2026, 3, 22)),
                    LineSpec("revenue_energy", -12_000),
                    LineSpec("tax_uut", -900),
                ],
            ),
            actor=SYSTEM,
            at=AT,
        )

        batched = JournalEntry.objects.get(idempotency_key="columns:0")
        single = JournalEntry.objects.get(idempotency_key="single")
        assert lines_of(batched) == lines_of(single)
        assert batched.line_list() == single.line_list()
        aging = queries.get_aging(account_id=account.pk, as_of=date(2026, 5, 1))
        assert aging.past_due_cents == 2 * 12_900

    def test_a_rerun_posts_nothing_more(self):
        accounts = [make_account(), make_account()]
        post_columns(bills(accounts, [500, 700]), actor=SYSTEM, at=AT)

        again = post_columns(bills(accounts, [500, 700]), actor=SYSTEM, at=AT)

        assert (again.posted, again.replayed) == (0, 2)
        assert JournalEntry.objects.count() == 2

    def test_second_receivable_slot_goes_to_an_extra_row(self):
        account = make_account()
        columns = EntryColumns(
            kind="bill",
            slots=(
                Slot("receivables"),
                Slot("receivables", category="deposit"),
                Slot("revenue_energy"),
                Slot("deposits_held"),
            ),
            keys=["a", "b"],
            effective_dates=[ON, ON],
            amounts=np.array([[1_000, 5_000, -1_000, -5_000], [0, 5_000, 0, -5_000]]),
            account_ids=[account.pk, account.pk],
            descriptions=["with deposit", "deposit only"],
        )

        post_columns(columns, actor=SYSTEM, at=AT)

        extra = ReceivableExtra.objects.get()
        assert (extra.entry.idempotency_key, extra.position, extra.category) == ("a", 1, "deposit")
        only = JournalEntry.objects.get(idempotency_key="b")
        assert (only.receivable_cents, only.category) == (5_000, "deposit")
        assert queries.get_balance_cents(account_id=account.pk) == 11_000
        assert queries.check_books().balanced

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"amounts": np.array([[100, -99, 0]])}, "does not balance"),
            ({"amounts": np.array([[100, 0, 0]])}, "does not balance"),
            ({"amounts": np.array([[0, 100, -100]]), "account_ids": [None]}, None),
            (
                {"amounts": np.array([[100, -100, 0]]), "account_ids": [None]},
                "must name the customer",
            ),
            ({"amounts": np.array([[1.5, -1.5, 0]])}, "whole cents"),
            ({"keys": [""]}, "idempotency key"),
            (
                {"slots": (Slot("nope"), Slot("revenue_energy"), Slot("tax_uut"))},
                "not an active GL",
            ),
        ],
    )
    def test_refuses_what_post_entry_refuses_and_writes_nothing(self, change, message):
        account = make_account()
        fields = {
            "kind": "adjustment",
            "slots": SLOTS,
            "keys": ["k"],
            "effective_dates": [ON],
            "amounts": np.array([[100, -100, 0]]),
            "account_ids": [account.pk],
            "descriptions": "x",
        } | change
        columns = EntryColumns(**fields)
        if message is None:
            post_columns(columns, actor=SYSTEM, at=AT)
            assert JournalEntry.objects.get().account_id is None
            return

        with pytest.raises(ValidationError, match=message):
            post_columns(columns, actor=SYSTEM, at=AT)

        assert JournalEntry.objects.count() == 0

    def test_a_closed_month_refuses_the_chunk_naming_the_entry(self):
        account = make_account()
        operations.close_period(year=2026, month=2, actor=SYSTEM, at=AT)

        with pytest.raises(BatchEntryRefused, match="bill:0"):
            post_columns(bills([account], [100], on=date(2026, 2, 10)), actor=SYSTEM, at=AT)

        assert JournalEntry.objects.count() == 0


@pytest.mark.django_db
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    energy=st.lists(st.integers(min_value=0, max_value=10_000_000), min_size=1, max_size=30),
    chunk=st.integers(min_value=1, max_value=7),
)
def test_balances_equal_the_sum_of_what_was_posted(energy, chunk):
    JournalEntry.objects.all()  # the test database rolls back after each example
    accounts = [make_account() for _ in range(2)]
    energy = [e if e else 1 for e in energy]
    owners = [accounts[i % 2] for i in range(len(energy))]
    prefix = f"p{np.random.default_rng().integers(1 << 60)}"

    post_columns(bills(owners, energy, prefix=prefix), actor=SYSTEM, at=AT, chunk_size=chunk)

    for account in accounts:
        expected = sum(e + e * 3 // 40 for e, o in zip(energy, owners, strict=True) if o == account)
        assert queries.get_balance_cents(account_id=account.pk) == expected
    assert queries.check_books().balanced
