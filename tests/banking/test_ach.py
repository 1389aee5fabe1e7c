"""ACH export, two-person release, returns and notifications of change, with the books."""

from __future__ import annotations

from datetime import date, timedelta

import achkit
import pytest
from django.core.exceptions import ValidationError

from ohm.banking import ach, nacha
from ohm.banking.models import AchEntry, AchFile, AchReturnItem, AutopayEnrolment
from ohm.core.models import AuditEvent
from ohm.customers.models import Account
from ohm.ledger.models import JournalEntry
from ohm.payments.models import Payment
from ohm.workqueue.models import WorkItem
from tests.banking.conftest import (
    BANK_ACCOUNT,
    BUILD_AT,
    DUE,
    balance,
    bill,
    books_clean,
    enrol,
    gl,
    returns_file,
)
from tests.factories import SYSTEM, make_account


@pytest.fixture
def maker(make_staff):
    return make_staff("billing_analyst", "bella")


@pytest.fixture
def checker(make_staff):
    return make_staff("supervisor", "sam")


def released(maker, checker, *, due=DUE, at=BUILD_AT):
    ach_file = ach.build_export(due_date=due, actor=maker, at=at)
    return ach.release_file(ach_file=ach_file, actor=checker, at=at + timedelta(hours=1))


class TestBuildExport:
    def test_debits_what_is_due_on_the_due_date(self, billed, maker):
        ach_file = ach.build_export(due_date=DUE, actor=maker, at=BUILD_AT)

        parsed = nacha.parse(ach_file.content)
        assert [(e.transaction_code, e.amount_cents, e.account_number) for e in parsed.entries] == [
            (27, 120_00, BANK_ACCOUNT)
        ]
        assert parsed.batches[0].effective_date == DUE
        assert ach_file.status == AchFile.Status.BUILT
        assert achkit.validate(ach_file.content)["ok"]

    def test_nothing_is_due_on_other_days(self, billed, maker):
        with pytest.raises(ach.NothingToSend):
            ach.build_export(due_date=DUE - timedelta(days=1), actor=maker, at=BUILD_AT)

    def test_an_entry_goes_in_one_file_ever(self, billed, maker):
        ach.build_export(due_date=DUE, actor=maker, at=BUILD_AT)

        with pytest.raises(ach.NothingToSend):
            ach.build_export(due_date=DUE, actor=maker, at=BUILD_AT + timedelta(minutes=5))
        assert AchEntry.objects.count() == 1

    def test_a_cancelled_file_frees_its_debits(self, billed, maker):
        first = ach.build_export(due_date=DUE, actor=maker, at=BUILD_AT)
        ach.cancel_file(ach_file=first, actor=maker, at=BUILD_AT, reason="wrong date")

        second = ach.build_export(due_date=DUE, actor=maker, at=BUILD_AT + timedelta(minutes=5))

        assert second.file_id_modifier == "B"
        assert second.entries.get().trace_number != first.entries.get().trace_number

    def test_a_new_enrolment_sends_a_prenote_and_waits_for_it(self, db, maker, checker):
        account = make_account()
        bill(account, 50_00, key="b1")
        enrolment = enrol(account, prenote=True)

        first = released(maker, checker)

        assert [(e.kind, e.amount_cents, e.transaction_code) for e in first.entries.all()] == [
            ("prenote", 0, 28)
        ]
        enrolment.refresh_from_db()
        assert enrolment.prenote_status == AutopayEnrolment.Prenote.SENT
        # three business days later the debit may go
        bill(account, 60_00, key="b2", due=date(2026, 3, 25))
        later = released(maker, checker, due=date(2026, 3, 25), at=BUILD_AT + timedelta(days=5))
        assert [(e.kind, e.amount_cents) for e in later.entries.all()] == [("debit", 110_00)]

    def test_cash_only_and_suspended_accounts_are_left_out(self, billed, maker):
        Account.objects.filter(pk=billed.pk).update(cash_only=True)

        with pytest.raises(ach.NothingToSend):
            ach.build_export(due_date=DUE, actor=maker, at=BUILD_AT)

    def test_the_bank_account_is_encrypted_in_the_database(self, billed, maker):
        from django.db import connection

        ach.build_export(due_date=DUE, actor=maker, at=BUILD_AT)

        with connection.cursor() as cursor:
            cursor.execute("SELECT account_number FROM banking_autopayenrolment")
            stored_number = cursor.fetchone()[0]
            cursor.execute("SELECT content FROM banking_achfile")
            stored_file = cursor.fetchone()[0]
        assert BANK_ACCOUNT not in stored_number
        assert BANK_ACCOUNT not in stored_file
        assert BANK_ACCOUNT not in str(list(AuditEvent.objects.values_list("after", flat=True)))


class TestRelease:
    def test_the_builder_cannot_release(self, billed, maker):
        ach_file = ach.build_export(due_date=DUE, actor=maker, at=BUILD_AT)

        with pytest.raises(ValidationError, match="different person"):
            ach.release_file(ach_file=ach_file, actor=maker, at=BUILD_AT)
        with pytest.raises(ValidationError, match="person"):
            ach.release_file(ach_file=ach_file, actor=SYSTEM, at=BUILD_AT)
        assert Payment.objects.count() == 0

    def test_release_posts_each_debit_as_an_autopay_payment(self, billed, maker, checker):
        ach_file = released(maker, checker)

        entry = ach_file.entries.get()
        payment = entry.payment
        assert (payment.channel, payment.tender, payment.idempotency_key) == (
            "autopay",
            "ach",
            entry.trace_number,
        )
        assert payment.effective_date == DUE
        assert balance(billed) == 0
        assert gl("cash_ach") == 120_00
        assert books_clean()

    def test_a_released_file_cannot_be_released_or_cancelled_again(self, billed, maker, checker):
        ach_file = released(maker, checker)

        with pytest.raises(ValidationError, match="released"):
            ach.release_file(ach_file=ach_file, actor=checker, at=BUILD_AT)
        with pytest.raises(ValidationError, match="released"):
            ach.cancel_file(ach_file=ach_file, actor=checker, at=BUILD_AT, reason="x")


class TestReturns:
    def test_r01_reverses_the_payment_and_charges_the_fee(self, billed, maker, checker):
        entry = released(maker, checker).entries.get()

        result = ach.import_returns(
            data=returns_file([(entry, "R01")]),
            file_name="r.ach",
            actor=SYSTEM,
            at=BUILD_AT + timedelta(days=4),
        )

        payment = Payment.objects.get(pk=entry.payment_id)
        assert payment.status == Payment.Status.REVERSED
        assert payment.reversal_reason == "R01"
        assert balance(billed) == 120_00 + 25_00
        assert result.items[0].outcome.startswith("R01 Insufficient funds: payment")
        assert AutopayEnrolment.objects.get(account=billed).status == "active"
        assert books_clean()

    def test_reimporting_the_same_file_changes_nothing(self, billed, maker, checker):
        entry = released(maker, checker).entries.get()
        data = returns_file([(entry, "R01")])
        ach.import_returns(
            data=data, file_name="r.ach", actor=SYSTEM, at=BUILD_AT + timedelta(days=4)
        )
        counts = (
            JournalEntry.objects.count(),
            AchReturnItem.objects.count(),
            WorkItem.objects.count(),
        )

        again = ach.import_returns(
            data=data, file_name="r.ach", actor=SYSTEM, at=BUILD_AT + timedelta(days=5)
        )

        assert again.replayed
        assert (
            JournalEntry.objects.count(),
            AchReturnItem.objects.count(),
            WorkItem.objects.count(),
        ) == counts
        # the same return in a different file is skipped too
        other = ach.import_returns(
            data=data + b"\n", file_name="r2.ach", actor=SYSTEM, at=BUILD_AT + timedelta(days=5)
        )
        assert other.items == []
        assert JournalEntry.objects.count() == counts[0]

    @pytest.mark.parametrize("code", ["R02", "R03", "R04", "R10"])
    def test_administrative_returns_suspend_autopay_and_tell_the_customer(
        self, billed, maker, checker, code
    ):
        entry = released(maker, checker).entries.get()

        result = ach.import_returns(
            data=returns_file([(entry, code)]),
            file_name="r.ach",
            actor=SYSTEM,
            at=BUILD_AT + timedelta(days=4),
        )

        enrolment = AutopayEnrolment.objects.get(account=billed)
        assert enrolment.status == AutopayEnrolment.Status.SUSPENDED
        item = result.items[0].work_item
        assert item.category.code == "autopay_problem"
        assert code in item.title
        assert balance(billed) == 120_00  # reversed, no fee
        assert books_clean()

    def test_an_unknown_trace_refuses_the_whole_file(self, billed, maker, checker):
        entry = released(maker, checker).entries.get()
        stranger = AchEntry(
            kind="debit", amount_cents=1, trace_number="121042889999999", account=billed
        )
        before = (JournalEntry.objects.count(), AchReturnItem.objects.count())

        with pytest.raises(ValidationError, match="121042889999999"):
            ach.import_returns(
                data=returns_file([(entry, "R01"), (stranger, "R01")]),
                file_name="r.ach",
                actor=SYSTEM,
                at=BUILD_AT,
            )

        assert (JournalEntry.objects.count(), AchReturnItem.objects.count()) == before
        assert Payment.objects.get(pk=entry.payment_id).status == Payment.Status.POSTED

    def test_a_bad_file_is_refused_with_its_line(self, billed):
        with pytest.raises(nacha.NachaError, match="line 1"):
            ach.import_returns(
                data=b"1" + b"x" * 93 + b"\n", file_name="bad.ach", actor=SYSTEM, at=BUILD_AT
            )

    def test_a_notification_of_change_corrects_the_bank_details_with_audit(
        self, billed, maker, checker
    ):
        entry = released(maker, checker).entries.get()

        ach.import_returns(
            data=returns_file([], changes=[(entry, "C03", "011000015   99990000123      ")]),
            file_name="noc.ach", actor=SYSTEM, at=BUILD_AT + timedelta(days=3),
        )  # fmt: skip

        enrolment = AutopayEnrolment.objects.get(account=billed)
        assert (enrolment.routing_number, enrolment.account_number) == ("011000015", "99990000123")
        assert enrolment.account_last4 == "0123"
        event = AuditEvent.objects.get(event="banking.autopay.bank_corrected")
        assert event.after["account_number"].endswith("0123")
        assert "99990000123" not in str(event.after)
        assert event.before["routing_number"] == "231380104"


class TestJourney:
    def test_autopay_debit_r01_fee_then_cash_only_after_repeats(self, db, maker, checker, settings):
        settings.OHM_PAYMENTS_CASH_ONLY_AFTER_RETURNS = 3
        # given an account on autopay with a bill due each month
        account = make_account()
        enrol(account)
        for month in (3, 4, 5):
            due = date(2026, month, 20)
            bill(account, 100_00, key=f"bill:{month}", on=date(2026, month, 1), due=due)
            at = BUILD_AT.replace(month=month)
            # when the debit goes out and the bank returns it for insufficient funds
            ach_file = ach.build_export(due_date=due, actor=maker, at=at)
            ach.release_file(ach_file=ach_file, actor=checker, at=at)
            entry = ach_file.entries.get(kind="debit")
            assert entry.amount_cents == 100_00 * (month - 2) + 25_00 * (month - 3)
            ach.import_returns(
                data=returns_file([(entry, "R01")]),
                file_name=f"r{month}.ach",
                actor=SYSTEM,
                at=at + timedelta(days=3),
            )
            account.refresh_from_db()
            # then autopay keeps going until the third return makes the account cash-only
            assert account.cash_only == (month == 5)
        assert Payment.objects.filter(account=account, status="reversed").count() == 3
        assert balance(account) == 3 * 100_00 + 3 * 25_00
        enrolment = AutopayEnrolment.objects.get(account=account)
        assert enrolment.status == AutopayEnrolment.Status.SUSPENDED
        assert "cash-only" in enrolment.status_reason
        # and no debit goes out any more
        bill(account, 100_00, key="bill:6", on=date(2026, 6, 1), due=date(2026, 6, 20))
        with pytest.raises(ach.NothingToSend):
            ach.build_export(due_date=date(2026, 6, 20), actor=maker, at=BUILD_AT.replace(month=6))
        assert books_clean()


class TestExactlyOnce:
    @pytest.mark.parametrize("times", [1, 2, 3, 4, 5])
    def test_the_same_returns_file_sent_n_times_reverses_once(self, billed, maker, checker, times):
        entry = released(maker, checker).entries.get()
        data = returns_file([(entry, "R01")])

        results = [
            ach.import_returns(
                data=data,
                file_name="r.ach",
                actor=SYSTEM,
                at=BUILD_AT + timedelta(days=4, minutes=n),
            )
            for n in range(times)
        ]

        assert [r.replayed for r in results] == [False] + [True] * (times - 1)
        assert JournalEntry.objects.filter(kind="payment_reversal").count() == 1
        assert balance(billed) == 120_00 + 25_00

    def test_release_posts_once_even_if_asked_again(self, billed, maker, checker):
        ach_file = released(maker, checker)

        with pytest.raises(ValidationError):
            ach.release_file(ach_file=ach_file, actor=checker, at=BUILD_AT)

        assert Payment.objects.count() == 1


class TestPreview:
    def test_the_console_preview_says_what_is_left_out(self, client, billed, maker):
        Account.objects.filter(pk=billed.pk).update(cash_only=True)
        client.force_login(maker)

        page = client.get(f"/console/banking/ach/?preview={DUE.isoformat()}").content.decode()

        assert "cash-only" in page
        assert "0 debits" in page


class TestReturnsOfEntriesNeverSent:
    def test_a_return_for_a_file_not_released_is_refused(self, billed, maker):
        ach_file = ach.build_export(due_date=DUE, actor=maker, at=BUILD_AT)

        with pytest.raises(ValidationError, match="never released"):
            ach.import_returns(
                data=returns_file([(ach_file.entries.get(), "R01")]),
                file_name="r.ach",
                actor=SYSTEM,
                at=BUILD_AT,
            )

        assert AchReturnItem.objects.count() == 0


class TestCrashDuringRelease:
    def test_a_release_stopped_part_way_resumes_and_posts_each_debit_once(
        self, db, maker, checker, monkeypatch
    ):
        accounts = [make_account() for _ in range(3)]
        for n, account in enumerate(accounts):
            bill(account, 10_00 * (n + 1), key=f"b{n}")
            enrol(account)
        ach_file = ach.build_export(due_date=DUE, actor=maker, at=BUILD_AT)
        monkeypatch.setattr(ach, "RELEASE_CHUNK", 1)
        real = ach.payment_batch.post_payments_batch
        calls = {"n": 0}

        def crash_on_second(**kwargs):
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("power cut")
            return real(**kwargs)

        monkeypatch.setattr(ach.payment_batch, "post_payments_batch", crash_on_second)

        stopped = ach.release_file(ach_file=ach_file, actor=checker, at=BUILD_AT)

        assert stopped.status == AchFile.Status.RELEASED
        assert stopped.release_run.status == "failed"
        assert Payment.objects.count() == 1
        resumed = ach.resume_release(ach_file=ach_file, at=BUILD_AT + timedelta(minutes=5))
        assert resumed.release_run.status == "succeeded"
        assert Payment.objects.count() == 3
        assert sorted(Payment.objects.values_list("amount_cents", flat=True)) == [
            10_00,
            20_00,
            30_00,
        ]
        assert set(ach_file.entries.values_list("status", flat=True)) == {"sent"}
        assert books_clean()


class TestSetBasedRelease:
    def _file_of(self, count: int, maker):
        for n in range(count):
            account = make_account()
            bill(account, 10_00 + n, key=f"b{n}")
            enrol(account)
        return ach.build_export(due_date=DUE, actor=maker, at=BUILD_AT)

    def test_a_chunk_of_debits_is_one_deposit_entry_with_a_line_per_account(
        self, db, maker, checker
    ):
        ach_file = self._file_of(3, maker)

        ach.release_file(ach_file=ach_file, actor=checker, at=BUILD_AT + timedelta(hours=1))

        payments = Payment.objects.filter(channel="autopay").order_by("idempotency_key")
        assert payments.count() == 3
        assert {p.entry_id for p in payments} == {payments[0].entry_id}
        assert JournalEntry.objects.filter(kind="payment_batch").count() == 1
        for entry in ach_file.entries.select_related("payment"):
            assert entry.status == "sent"
            assert entry.payment.idempotency_key == entry.trace_number
            assert entry.payment.amount_cents == entry.amount_cents
            assert entry.payment.account_id == entry.account_id
            assert "••••9012" in entry.payment.reference
            assert BANK_ACCOUNT not in entry.payment.reference
        assert gl("cash_ach") == 10_00 + 10_01 + 10_02
        assert AuditEvent.objects.filter(event="payments.batch.posted").count() == 1
        assert books_clean()

    def test_each_chunk_of_the_run_is_its_own_deposit(self, db, maker, checker, monkeypatch):
        monkeypatch.setattr(ach, "RELEASE_CHUNK", 2)
        ach_file = self._file_of(5, maker)

        released_file = ach.release_file(ach_file=ach_file, actor=checker, at=BUILD_AT)

        assert released_file.release_run.status == "succeeded"
        assert JournalEntry.objects.filter(kind="payment_batch").count() == 3
        assert Payment.objects.filter(channel="autopay", status="posted").count() == 5
        assert books_clean()

    def test_the_queries_do_not_grow_with_the_debits(self, db, maker, checker):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        counts = []
        for size in (2, 12):
            ach_file = self._file_of(size, maker)
            with CaptureQueriesContext(connection) as queries:
                ach.release_file(ach_file=ach_file, actor=checker, at=BUILD_AT)
            counts.append(len(queries))

        assert counts[1] == counts[0]

    def test_a_trace_number_posted_before_is_linked_not_posted_again(self, billed, maker, checker):
        ach_file = ach.build_export(due_date=DUE, actor=maker, at=BUILD_AT)
        entry = ach_file.entries.get()
        earlier = ach.payment_operations.post_payment(
            account_id=billed.pk,
            amount_cents=entry.amount_cents,
            tender="ach",
            channel="autopay",
            idempotency_key=entry.trace_number,
            received_at=BUILD_AT,
            effective_date=DUE,
            actor=SYSTEM,
        )

        ach.release_file(ach_file=ach_file, actor=checker, at=BUILD_AT)

        entry.refresh_from_db()
        assert entry.payment_id == earlier.pk
        assert Payment.objects.count() == 1
        assert balance(billed) == 0
        assert books_clean()

    def test_a_closed_account_goes_to_suspense(self, billed, maker, checker):
        ach_file = ach.build_export(due_date=DUE, actor=maker, at=BUILD_AT)
        Account.objects.filter(pk=billed.pk).update(status=Account.Status.CLOSED)

        ach.release_file(ach_file=ach_file, actor=checker, at=BUILD_AT)

        payment = ach_file.entries.get().payment
        assert payment.status == Payment.Status.UNAPPLIED
        assert "closed" in payment.unapplied_reason
        assert gl("unapplied_cash") == -120_00
        assert books_clean()
