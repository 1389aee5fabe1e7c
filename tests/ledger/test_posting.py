from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

from ohm.core.models import AuditEvent
from ohm.ledger import operations, queries
from ohm.ledger.models import GLTotal, JournalEntry, ReceivableExtra
from ohm.ledger.operations import EntrySpec, LineSpec
from tests.factories import SYSTEM, make_account
from tests.journal import line_count

AT = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)


def charge(account, cents, *, key, on=date(2026, 3, 1), due=date(2026, 3, 22)):
    return operations.post_entry(
        EntrySpec(
            "bill",
            on,
            key,
            "March bill",
            [
                LineSpec("receivables", cents, account_id=account.pk, due_date=due),
                LineSpec("revenue_energy", -cents),
            ],
        ),
        actor=SYSTEM,
        at=AT,
    )


@pytest.mark.django_db
class TestPostEntry:
    def test_posts_balanced_lines_to_the_customer_subledger_and_audits(self):
        account = make_account()

        entry = charge(account, 12_345, key="bill:1")

        assert entry.replayed is False
        assert sorted(line.amount_cents for line in entry.line_list()) == [-12_345, 12_345]
        assert queries.get_balance_cents(account_id=account.pk) == 12_345
        assert (
            AuditEvent.objects.filter(event="ledger.entry.posted", account_id=account.pk).count()
            == 1
        )

    def test_the_same_key_twice_returns_the_first_entry_and_writes_nothing(self):
        account = make_account()
        first = charge(account, 500, key="bill:dup")

        second = charge(account, 999, key="bill:dup")

        assert second.pk == first.pk
        assert second.replayed is True
        assert JournalEntry.objects.count() == 1
        assert line_count() == 2

    @pytest.mark.parametrize(
        ("lines", "message"),
        [
            (
                [LineSpec("receivables", 100, account_id=-1), LineSpec("revenue_energy", -99)],
                "does not balance",
            ),
            ([LineSpec("receivables", 100, account_id=-1)], "at least two lines"),
            (
                [LineSpec("receivables", 0, account_id=-1), LineSpec("revenue_energy", 0)],
                "zero cents",
            ),
            ([LineSpec("9999", 100), LineSpec("revenue_energy", -100)], "not an active GL account"),
            (
                [LineSpec("receivables", 100), LineSpec("revenue_energy", -100)],
                "must name the customer account",
            ),
        ],
    )
    def test_refuses_bad_entries_and_writes_nothing(self, lines, message):
        account = make_account()
        lines = [
            LineSpec(
                ln.gl,
                ln.amount_cents,
                account_id=account.pk if ln.account_id == -1 else ln.account_id,
            )
            for ln in lines
        ]

        with pytest.raises(ValidationError, match=message):
            operations.post_entry(
                EntrySpec("adjustment", date(2026, 3, 1), "bad", "bad", lines), actor=SYSTEM, at=AT
            )

        assert JournalEntry.objects.count() == 0

    def test_refuses_a_closed_period(self):
        account = make_account()
        operations.close_period(year=2026, month=2, actor=SYSTEM, at=AT)

        with pytest.raises(operations.PeriodClosed, match="February 2026 are closed"):
            charge(account, 100, key="late", on=date(2026, 2, 28))

        assert JournalEntry.objects.count() == 0


# Not a transactional test: flushing the database afterwards would itself be refused.
@pytest.mark.django_db
class TestAppendOnly:
    def test_the_database_refuses_to_update_or_delete_any_journal_row(self):
        first, second = make_account(), make_account()
        entry = operations.post_entry(
            EntrySpec(
                "transfer",
                date(2026, 3, 1),
                "transfer:immutable",
                "Transfer",
                [
                    LineSpec("receivables", 700, account_id=second.pk),
                    LineSpec("receivables", -700, account_id=first.pk),
                ],
            ),
            actor=SYSTEM,
            at=AT,
        )
        extra = ReceivableExtra.objects.get(entry=entry)
        total = GLTotal.objects.filter(entry=entry).first()

        for sql in (
            f"UPDATE ledger_journalentry SET receivable_cents = 1 WHERE id = {entry.pk}",
            f"UPDATE ledger_journalentry SET description = 'x' WHERE id = {entry.pk}",
            f"DELETE FROM ledger_journalentry WHERE id = {entry.pk}",
            f"UPDATE ledger_receivableextra SET amount_cents = 1 WHERE id = {extra.pk}",
            f"DELETE FROM ledger_receivableextra WHERE id = {extra.pk}",
            f"UPDATE ledger_gltotal SET debit_cents = 0 WHERE id = {total.pk}",
            f"DELETE FROM ledger_gltotal WHERE id = {total.pk}",
        ):
            with (
                pytest.raises(DatabaseError, match="append-only"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql)

        assert ReceivableExtra.objects.get(pk=extra.pk).amount_cents == -700
        assert queries.get_balance_cents(account_id=first.pk) == -700
        assert queries.get_balance_cents(account_id=second.pk) == 700
        assert queries.check_books().balanced


@pytest.mark.django_db
class TestReverseEntry:
    def test_posts_the_mirror_once(self):
        account = make_account()
        entry = charge(account, 2_500, key="bill:r")

        reversal = operations.reverse_entry(
            entry=entry,
            effective_date=date(2026, 3, 6),
            actor=SYSTEM,
            at=AT,
            reason="billing error",
        )

        assert reversal.reverses_id == entry.pk
        assert queries.get_balance_cents(account_id=account.pk) == 0
        with pytest.raises(operations.EntryAlreadyReversed):
            operations.reverse_entry(
                entry=entry,
                effective_date=date(2026, 3, 6),
                actor=SYSTEM,
                at=AT,
                reason="again",
                idempotency_key="other",
            )


@pytest.mark.django_db
class TestAging:
    def test_credits_apply_to_the_oldest_charge_first(self):
        account = make_account()
        charge(account, 10_000, key="jan", on=date(2026, 1, 1), due=date(2026, 1, 22))
        charge(account, 8_000, key="feb", on=date(2026, 2, 1), due=date(2026, 2, 22))
        charge(account, 9_000, key="mar", on=date(2026, 3, 1), due=date(2026, 3, 22))
        operations.post_entry(
            EntrySpec(
                "payment",
                date(2026, 3, 3),
                "pay:1",
                "Payment",
                [
                    LineSpec("cash_cashier", 12_000),
                    LineSpec("receivables", -12_000, account_id=account.pk, category="credit"),
                ],
            ),
            actor=SYSTEM,
            at=AT,
        )

        aging = queries.get_aging(account_id=account.pk, as_of=date(2026, 3, 10))

        assert aging.balance_cents == 15_000
        assert aging.past_due_cents == 6_000  # what is left of February
        assert aging.buckets == {
            "current": 9_000,
            "31_60": 6_000,
            "61_90": 0,
            "91_120": 0,
            "over_120": 0,
        }
        assert queries.check_books().balanced
