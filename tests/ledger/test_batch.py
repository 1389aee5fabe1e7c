from datetime import UTC, date, datetime

import pytest

from ohm.core.models import AuditEvent
from ohm.ledger import operations, queries
from ohm.ledger.batch import BatchEntryRefused, post_entries_batch
from ohm.ledger.models import JournalEntry
from ohm.ledger.operations import EntrySpec, LineSpec
from tests.factories import SYSTEM, make_account
from tests.journal import line_count

AT = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)


def bill(account, key, cents=10_000, on=date(2026, 3, 1)):
    tax = cents * 3 // 40
    return EntrySpec(
        "bill",
        on,
        key,
        "March bill",
        [
            LineSpec(
                "receivables",
                cents + 1_500 + tax,
                account_id=account.pk,
                due_date=date(2026, 3, 22),
            ),
            LineSpec("revenue_energy", -cents),
            LineSpec("revenue_customer_charge", -1_500),
            LineSpec("tax_uut", -tax),
        ],
    )


@pytest.mark.django_db
class TestPostEntriesBatch:
    def test_writes_every_entry_with_its_lines_and_one_audit_event(self):
        first, second = make_account(), make_account()
        specs = [bill(first if i % 2 else second, f"bill:{i}", 1_000 * (i + 1)) for i in range(7)]

        result = post_entries_batch(specs, actor=SYSTEM, at=AT, chunk_size=3)

        assert (result.posted, result.replayed) == (7, 0)
        assert JournalEntry.objects.count() == 7
        assert line_count() == 28
        expected = sum(s.lines[0].amount_cents for s in specs if s.lines[0].account_id == first.pk)
        assert queries.get_balance_cents(account_id=first.pk) == expected
        assert queries.check_books().balanced
        event = AuditEvent.objects.get(event="ledger.batch.posted")
        assert event.after["posted"] == 7
        assert event.after["chunks"] == 3

    def test_writes_the_same_rows_as_posting_one_by_one(self):
        account = make_account()
        spec = bill(account, "one")
        operations.post_entry(spec, actor=SYSTEM, at=AT)

        post_entries_batch([bill(account, "many")], actor=SYSTEM, at=AT)

        def shape(key):
            entry = JournalEntry.objects.get(idempotency_key=key)
            lines = [
                (
                    line.gl_account_id,
                    line.amount_cents,
                    line.account_id,
                    line.due_date,
                    line.category,
                )
                for line in entry.line_list()
            ]
            return (
                entry.kind,
                entry.effective_date,
                entry.posted_at,
                entry.actor_label,
                list(lines),
            )

        assert shape("one") == shape("many")

    def test_a_rerun_posts_only_the_keys_not_yet_posted(self):
        account = make_account()
        specs = [bill(account, f"bill:{i}") for i in range(5)]
        post_entries_batch(specs[:3], actor=SYSTEM, at=AT)

        result = post_entries_batch(specs, actor=SYSTEM, at=AT, chunk_size=2)

        assert (result.posted, result.replayed) == (2, 3)
        assert JournalEntry.objects.count() == 5
        assert (
            queries.get_balance_cents(account_id=account.pk) == 5 * specs[0].lines[0].amount_cents
        )

    def test_the_same_key_twice_in_one_batch_posts_once(self):
        account = make_account()

        result = post_entries_batch(
            [bill(account, "dup"), bill(account, "dup", 99)], actor=SYSTEM, at=AT
        )

        assert (result.posted, result.replayed) == (1, 1)
        assert JournalEntry.objects.count() == 1

    def test_a_closed_period_refuses_the_whole_chunk_naming_the_key(self):
        account = make_account()
        operations.close_period(year=2026, month=2, actor=SYSTEM, at=AT)
        specs = [bill(account, f"ok:{i}") for i in range(4)]
        specs.insert(3, bill(account, "late:feb", on=date(2026, 2, 27)))

        with pytest.raises(
            BatchEntryRefused, match=r"late:feb.*February 2026 are closed"
        ) as refused:
            post_entries_batch(specs, actor=SYSTEM, at=AT, chunk_size=2)

        assert refused.value.idempotency_key == "late:feb"
        # The first chunk committed; the chunk with the bad entry wrote nothing.
        assert sorted(JournalEntry.objects.values_list("idempotency_key", flat=True)) == [
            "ok:0",
            "ok:1",
        ]

    def test_an_unbalanced_entry_is_refused_by_key_and_nothing_of_its_chunk_is_written(self):
        account = make_account()
        lopsided = EntrySpec(
            "adjustment",
            date(2026, 3, 2),
            "adj:lopsided",
            "Courtesy credit",
            [
                LineSpec("receivables", -500, account_id=account.pk),
                LineSpec("billing_adjustments", 400),
            ],
        )

        with pytest.raises(BatchEntryRefused, match=r"adj:lopsided.*does not balance"):
            post_entries_batch([bill(account, "fine"), lopsided], actor=SYSTEM, at=AT)

        assert JournalEntry.objects.count() == 0

    def test_ids_continue_after_entries_posted_one_by_one(self):
        account = make_account()
        single = operations.post_entry(bill(account, "single"), actor=SYSTEM, at=AT)

        post_entries_batch([bill(account, "batch")], actor=SYSTEM, at=AT)
        after = operations.post_entry(bill(account, "single:2"), actor=SYSTEM, at=AT)

        batched = JournalEntry.objects.get(idempotency_key="batch")
        assert single.pk < batched.pk < after.pk
        assert line_count() == 12
