from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError

from ohm.core.models import AuditEvent
from ohm.customers.models import Account
from ohm.payments import operations, policies
from ohm.payments.models import Payment, PaymentMove
from ohm.workqueue.models import WorkItem
from tests.factories import SYSTEM, make_account
from tests.payments.conftest import TAKEN_AT, TODAY, balance, bill, books_clean, gl, writes


def pay(account, cents=50_00, *, key="req-1", channel="portal", tender="card", **kw):
    return operations.post_payment(
        account_id=account.pk if account is not None else None,
        amount_cents=cents,
        tender=tender,
        channel=channel,
        idempotency_key=key,
        received_at=kw.pop("received_at", TAKEN_AT),
        effective_date=kw.pop("effective_date", TODAY),
        actor=kw.pop("actor", SYSTEM),
        **kw,
    )


@pytest.mark.django_db
class TestPostPayment:
    def test_debits_the_channels_clearing_and_credits_the_account(self, owing):
        payment = pay(owing, 50_00)

        assert payment.status == Payment.Status.POSTED
        assert balance(owing) == 150_00
        assert gl("cash_card") == 50_00
        assert payment.entry.kind == "payment"
        assert books_clean()
        assert AuditEvent.objects.filter(
            event="payments.payment.posted", account_id=owing.pk
        ).exists()

    def test_each_channel_posts_to_its_own_clearing_account(self, owing, drawer):
        pay(owing, 10_00, key="a", channel="cashier", tender="cash", drawer=drawer)
        pay(owing, 20_00, key="b", channel="lockbox", tender="check")
        pay(owing, 30_00, key="c", channel="pay_agent", tender="cash")

        assert (gl("cash_cashier"), gl("cash_lockbox"), gl("cash_pay_agent")) == (
            10_00,
            20_00,
            30_00,
        )
        assert balance(owing) == 140_00

    def test_the_same_key_again_returns_the_first_payment_and_writes_nothing(self, owing):
        first = pay(owing)
        before = writes()

        again = pay(owing)

        assert again.pk == first.pk
        assert again.replayed
        assert not first.replayed
        assert writes() == before
        assert balance(owing) == 150_00

    def test_the_same_key_on_another_channel_is_another_payment(self, owing):
        pay(owing, key="k", channel="portal")
        pay(owing, key="k", channel="phone_ivr")

        assert balance(owing) == 100_00

    def test_refuses_a_key_reused_for_a_different_amount(self, owing):
        pay(owing, 50_00)

        with pytest.raises(operations.IdempotencyKeyReused):
            pay(owing, 60_00)

    def test_without_an_account_goes_to_suspense_with_a_work_item(self, db):
        payment = pay(None, 75_00, channel="lockbox", tender="check", payer_name="J. Doe")

        assert payment.status == Payment.Status.UNAPPLIED
        assert payment.account is None
        assert gl("unapplied_cash") == -75_00
        assert payment.work_item.category.code == "unapplied_payment"
        assert "J. Doe" in payment.work_item.title
        assert books_clean()

    def test_a_closed_account_goes_to_suspense(self, owing):
        Account.objects.filter(pk=owing.pk).update(status=Account.Status.CLOSED)

        payment = pay(owing, channel="lockbox", tender="check")

        assert payment.status == Payment.Status.UNAPPLIED
        assert "closed" in payment.unapplied_reason
        assert payment.stated_account == owing.number
        assert balance(owing) == 200_00

    def test_an_unknown_account_id_goes_to_suspense(self, db):
        payment = operations.post_payment(
            account_id=999_999,
            amount_cents=100,
            tender="check",
            channel="lockbox",
            idempotency_key="x",
            received_at=TAKEN_AT,
            effective_date=TODAY,
            actor=SYSTEM,
        )

        assert payment.status == Payment.Status.UNAPPLIED
        assert "999999" in payment.unapplied_reason

    def test_a_cash_only_account_may_not_pay_by_check_at_the_counter(self, owing, drawer):
        Account.objects.filter(pk=owing.pk).update(cash_only=True)

        with pytest.raises(operations.CashOnlyAccount, match="cash only"):
            pay(owing, channel="cashier", tender="check", drawer=drawer)

    def test_a_cash_only_accounts_check_by_lockbox_goes_to_suspense(self, owing):
        Account.objects.filter(pk=owing.pk).update(cash_only=True)

        payment = pay(owing, channel="lockbox", tender="check")

        assert payment.status == Payment.Status.UNAPPLIED
        assert "cash only" in payment.unapplied_reason

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"cents": 0}, "amount_cents"),
            ({"cents": 12.5}, "amount_cents"),
            ({"tender": "cash", "channel": "portal"}, "tender"),
            ({"channel": "pigeon"}, "channel"),
            ({"key": " "}, "idempotency_key"),
            ({"reference": "4111 1111 1111 1111"}, "reference"),
        ],
    )
    def test_refuses_bad_requests_and_writes_nothing(self, owing, changes, field):
        before = writes()

        with pytest.raises(ValidationError) as caught:
            pay(owing, **changes)

        assert field in caught.value.message_dict
        assert writes() == before

    def test_cash_at_the_counter_needs_an_open_drawer(self, owing):
        with pytest.raises(ValidationError, match="drawer"):
            pay(owing, channel="cashier", tender="cash")


@pytest.mark.django_db
class TestApplyUnapplied:
    def test_moves_the_payment_from_suspense_to_the_account(self, owing, csr):
        payment = pay(None, 80_00, channel="lockbox", tender="check")

        applied = operations.apply_unapplied(
            payment=payment,
            account=owing,
            effective_date=TODAY,
            actor=csr,
            at=TAKEN_AT,
            note="stub",
        )

        assert applied.status == Payment.Status.POSTED
        assert applied.account == owing
        assert balance(owing) == 120_00
        assert gl("unapplied_cash") == 0
        assert WorkItem.objects.get(pk=payment.work_item_id).status == WorkItem.Status.DONE
        assert PaymentMove.objects.get(payment=payment).kind == "applied"
        assert books_clean()

    def test_applying_twice_changes_nothing(self, owing, csr):
        payment = pay(None, 80_00, channel="lockbox", tender="check")
        operations.apply_unapplied(
            payment=payment, account=owing, effective_date=TODAY, actor=csr, at=TAKEN_AT
        )
        before = writes()

        again = operations.apply_unapplied(
            payment=payment, account=owing, effective_date=TODAY, actor=csr, at=TAKEN_AT
        )

        assert again.replayed
        assert writes() == before

    def test_refuses_a_posted_payment(self, owing, csr):
        payment = pay(owing)

        with pytest.raises(operations.PaymentNotInBooks):
            operations.apply_unapplied(
                payment=payment, account=owing, effective_date=TODAY, actor=csr, at=TAKEN_AT
            )


@pytest.mark.django_db
class TestTransferPayment:
    def test_moves_a_misapplied_payment_in_one_balanced_entry(self, owing, csr):
        right = make_account()
        bill(right, 90_00, key="bill:right")
        payment = pay(owing, 90_00)

        moved = operations.transfer_payment(
            payment=payment,
            to_account=right,
            reason="keyed the wrong account",
            effective_date=TODAY,
            actor=csr,
            at=TAKEN_AT,
            idempotency_key="t1",
        )

        assert moved.account == right
        assert (balance(owing), balance(right)) == (200_00, 0)
        move = PaymentMove.objects.get(payment=payment)
        assert move.entry.kind == "payment_transfer"
        assert {
            e.account_id
            for e in AuditEvent.objects.filter(event__startswith="payments.payment.transferred")
        } == {owing.pk, right.pk}
        assert books_clean()

    def test_a_transferred_payment_reverses_off_the_account_it_is_on(self, owing, csr):
        right = make_account()
        payment = pay(owing, 90_00)
        operations.transfer_payment(
            payment=payment,
            to_account=right,
            reason="wrong",
            effective_date=TODAY,
            actor=csr,
            at=TAKEN_AT,
            idempotency_key="t1",
        )

        operations.reverse_payment(
            payment=payment,
            reason_code="nsf",
            effective_date=TODAY,
            actor=csr,
            at=TAKEN_AT,
            fee=False,
        )

        assert (balance(owing), balance(right)) == (200_00, 0)
        assert books_clean()

    def test_refuses_the_same_account_and_a_missing_reason(self, owing, csr):
        payment = pay(owing)
        with pytest.raises(ValidationError, match="already on account"):
            operations.transfer_payment(
                payment=payment,
                to_account=owing,
                reason="x",
                effective_date=TODAY,
                actor=csr,
                at=TAKEN_AT,
                idempotency_key="t",
            )
        with pytest.raises(ValidationError, match="Say why"):
            operations.transfer_payment(
                payment=payment,
                to_account=make_account(),
                reason=" ",
                effective_date=TODAY,
                actor=csr,
                at=TAKEN_AT,
                idempotency_key="t",
            )


@pytest.mark.django_db
class TestReversePayment:
    def test_an_nsf_check_is_owed_again_with_the_returned_payment_fee(self, owing, csr):
        payment = pay(owing, 200_00, channel="lockbox", tender="check")

        reversed_ = operations.reverse_payment(
            payment=payment,
            reason_code="nsf",
            effective_date=date(2026, 3, 9),
            actor=csr,
            at=TAKEN_AT + timedelta(days=7),
        )

        assert reversed_.status == Payment.Status.REVERSED
        assert balance(owing) == 200_00 + 25_00
        assert reversed_.reversal_entry.reverses_id == payment.entry.pk
        assert reversed_.fee_entry.kind == "fee"
        assert gl("cash_lockbox") == 0
        assert books_clean()

    def test_refuses_a_second_reversal_but_replays_the_same_key(self, owing, csr):
        payment = pay(owing)
        operations.reverse_payment(
            payment=payment,
            reason_code="nsf",
            effective_date=TODAY,
            actor=csr,
            at=TAKEN_AT,
            idempotency_key="r1",
        )
        before = writes()

        again = operations.reverse_payment(
            payment=payment,
            reason_code="nsf",
            effective_date=TODAY,
            actor=csr,
            at=TAKEN_AT,
            idempotency_key="r1",
        )
        assert again.replayed
        assert writes() == before
        with pytest.raises(operations.PaymentAlreadyReversed):
            operations.reverse_payment(
                payment=payment,
                reason_code="nsf",
                effective_date=TODAY,
                actor=csr,
                at=TAKEN_AT,
                idempotency_key="r2",
            )

    def test_a_bank_error_is_reversed_without_a_fee_and_is_not_counted(self, owing, csr, settings):
        settings.OHM_PAYMENTS_CASH_ONLY_AFTER_RETURNS = 1
        payment = pay(owing)

        operations.reverse_payment(
            payment=payment, reason_code="bank_error", effective_date=TODAY, actor=csr, at=TAKEN_AT
        )

        assert balance(owing) == 200_00
        owing.refresh_from_db()
        assert not owing.cash_only

    def test_reversing_an_unapplied_payment_empties_suspense(self, db, csr):
        payment = pay(None, 30_00, channel="lockbox", tender="check")

        operations.reverse_payment(
            payment=payment, reason_code="nsf", effective_date=TODAY, actor=csr, at=TAKEN_AT
        )

        assert gl("unapplied_cash") == 0
        assert gl("cash_lockbox") == 0
        assert WorkItem.objects.get(pk=payment.work_item_id).is_closed

    def test_refuses_an_unknown_reason(self, owing, csr):
        with pytest.raises(ValidationError, match="not a return reason"):
            operations.reverse_payment(
                payment=pay(owing), reason_code="whim", effective_date=TODAY, actor=csr, at=TAKEN_AT
            )

    def test_ach_return_codes_are_returns(self):
        assert policies.counts_as_return("R01")
        assert policies.is_known_return_reason("R09")
        assert not policies.is_known_return_reason("R1")


@pytest.mark.django_db
class TestCashOnlyRule:
    def test_the_configured_number_of_returns_in_twelve_months_makes_the_account_cash_only(
        self, owing, csr, settings
    ):
        settings.OHM_PAYMENTS_CASH_ONLY_AFTER_RETURNS = 2
        first = pay(owing, 10_00, key="p1", channel="lockbox", tender="check")
        second = pay(owing, 10_00, key="p2", channel="lockbox", tender="check")

        operations.reverse_payment(
            payment=first, reason_code="nsf", effective_date=TODAY, actor=csr, at=TAKEN_AT
        )
        owing.refresh_from_db()
        assert not owing.cash_only
        operations.reverse_payment(
            payment=second,
            reason_code="R01",
            effective_date=TODAY,
            actor=csr,
            at=TAKEN_AT + timedelta(days=30),
        )

        owing.refresh_from_db()
        assert owing.cash_only
        assert AuditEvent.objects.filter(
            event="customers.account.updated", account_id=owing.pk
        ).exists()

    def test_returns_older_than_the_window_do_not_count(self, owing, csr, settings):
        settings.OHM_PAYMENTS_CASH_ONLY_AFTER_RETURNS = 2
        first = pay(owing, 10_00, key="p1", channel="lockbox", tender="check")
        second = pay(owing, 10_00, key="p2", channel="lockbox", tender="check")
        operations.reverse_payment(
            payment=first, reason_code="nsf", effective_date=TODAY, actor=csr, at=TAKEN_AT
        )

        operations.reverse_payment(
            payment=second,
            reason_code="nsf",
            effective_date=TODAY,
            actor=csr,
            at=TAKEN_AT + timedelta(days=400),
        )

        owing.refresh_from_db()
        assert not owing.cash_only


@pytest.mark.django_db
class TestCancelSameDay:
    def test_a_cashiers_error_is_undone_without_a_fee(self, owing, drawer, cashier):
        payment = pay(owing, 20_00, channel="cashier", tender="cash", drawer=drawer, actor=cashier)

        cancelled = operations.cancel_payment_same_day(
            payment=payment, reason="wrong amount", actor=cashier, at=TAKEN_AT + timedelta(hours=1)
        )

        assert cancelled.status == Payment.Status.CANCELLED
        assert balance(owing) == 200_00
        assert gl("cash_cashier") == 0
        assert cancelled.fee_entry is None
        assert books_clean()

    def test_refuses_a_payment_of_an_earlier_day(self, owing, csr):
        payment = pay(owing)

        with pytest.raises(operations.CancelTooLate):
            operations.cancel_payment_same_day(
                payment=payment, reason="x", actor=csr, at=TAKEN_AT + timedelta(days=1)
            )

    def test_refuses_once_the_drawer_is_closed(self, owing, drawer, cashier):
        from ohm.payments import drawers

        payment = pay(owing, 20_00, channel="cashier", tender="cash", drawer=drawer, actor=cashier)
        drawers.close_drawer(
            drawer=drawer,
            counted_cash_cents=120_00,
            counted_checks_cents=0,
            counted_check_count=0,
            counted_money_orders_cents=0,
            actor=cashier,
            at=TAKEN_AT,
        )

        with pytest.raises(ValidationError, match="closed"):
            operations.cancel_payment_same_day(
                payment=payment, reason="x", actor=cashier, at=TAKEN_AT
            )
