"""Card payments: approval, decline, timeout → unknown → resolved, webhooks, settlement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from ohm.payments import cards
from ohm.payments.adapters.processor import sign
from ohm.payments.adapters.simulator import SimulatedProcessor
from ohm.payments.models import Payment, SimulatedCardCharge
from tests.factories import SYSTEM
from tests.payments.conftest import TAKEN_AT, TODAY, balance, books_clean, gl, writes

SECRET = "test-webhook-secret"


@pytest.fixture
def processor():
    return SimulatedProcessor(secret=SECRET, at=lambda: TAKEN_AT)


def charge(account, processor, token="tok_visa", cents=50_00, key="web-1", at=TAKEN_AT):
    return cards.take_card_payment(
        account_id=account.pk,
        amount_cents=cents,
        token=token,
        channel="portal",
        idempotency_key=key,
        received_at=at,
        effective_date=TODAY,
        actor=SYSTEM,
        processor=processor,
    )


@pytest.mark.django_db
class TestTakeCardPayment:
    def test_an_approved_card_posts_to_card_clearing_and_keeps_only_brand_and_last_four(
        self, owing, processor
    ):
        payment = charge(owing, processor)

        assert payment.status == Payment.Status.POSTED
        assert payment.tender_detail == "Visa •••• 4242"
        assert payment.processor_ref.startswith("ch_sim_")
        assert balance(owing) == 150_00
        assert gl("cash_card") == 50_00
        assert books_clean()

    def test_a_declined_card_posts_nothing(self, owing, processor):
        payment = charge(owing, processor, token="tok_insufficient_funds")

        assert payment.status == Payment.Status.DECLINED
        assert payment.processor_message == "insufficient funds"
        assert payment.entry_id is None
        assert balance(owing) == 200_00

    def test_a_card_number_is_refused_before_anything_is_written(self, owing, processor):
        before = writes()

        with pytest.raises(ValidationError, match="card number"):
            charge(owing, processor, token="4242 4242 4242 4242")

        assert writes() == before
        assert not SimulatedCardCharge.objects.exists()

    def test_the_same_key_again_does_not_call_the_processor(self, owing, processor):
        first = charge(owing, processor)

        again = charge(owing, processor)

        assert again.pk == first.pk
        assert SimulatedCardCharge.objects.count() == 1
        assert balance(owing) == 150_00


@pytest.mark.django_db
class TestTimeouts:
    def test_a_timeout_leaves_the_payment_unknown_until_the_janitor_finds_it_charged(
        self, owing, processor
    ):
        payment = charge(owing, processor, token="tok_timeout")
        assert payment.status == Payment.Status.UNKNOWN
        assert balance(owing) == 200_00

        outcome = cards.resolve_unsettled(
            actor=SYSTEM, clock=lambda: TAKEN_AT + timedelta(minutes=2), processor=processor
        )

        payment.refresh_from_db()
        assert (outcome.checked, outcome.posted) == (1, 1)
        assert payment.status == Payment.Status.POSTED
        assert balance(owing) == 150_00
        assert SimulatedCardCharge.objects.get().status == "captured"
        assert books_clean()

    def test_a_timeout_the_processor_declined_ends_declined(self, owing, processor):
        payment = charge(owing, processor, token="tok_timeout_decline")

        cards.resolve_unsettled(
            actor=SYSTEM, clock=lambda: TAKEN_AT + timedelta(minutes=2), processor=processor
        )

        payment.refresh_from_db()
        assert payment.status == Payment.Status.DECLINED
        assert balance(owing) == 200_00

    def test_a_request_that_never_arrived_waits_then_is_declined_as_not_charged(
        self, owing, processor
    ):
        payment = charge(owing, processor, token="tok_timeout_lost")

        cards.resolve_unsettled(
            actor=SYSTEM, clock=lambda: TAKEN_AT + timedelta(minutes=2), processor=processor
        )
        payment.refresh_from_db()
        assert payment.status == Payment.Status.UNKNOWN
        cards.resolve_unsettled(
            actor=SYSTEM, clock=lambda: TAKEN_AT + timedelta(minutes=15), processor=processor
        )

        payment.refresh_from_db()
        assert payment.status == Payment.Status.DECLINED
        assert "not charged" in payment.processor_message

    def test_a_lost_capture_answer_is_found_captured(self, owing, processor):
        payment = charge(owing, processor, token="tok_capture_timeout")
        assert payment.status == Payment.Status.UNKNOWN

        cards.resolve_unsettled(
            actor=SYSTEM, clock=lambda: TAKEN_AT + timedelta(minutes=2), processor=processor
        )

        payment.refresh_from_db()
        assert payment.status == Payment.Status.POSTED
        assert balance(owing) == 150_00

    def test_the_janitor_running_twice_posts_once(self, owing, processor):
        charge(owing, processor, token="tok_timeout")
        later = lambda: TAKEN_AT + timedelta(minutes=2)  # noqa: E731

        cards.resolve_unsettled(actor=SYSTEM, clock=later, processor=processor)
        second = cards.resolve_unsettled(actor=SYSTEM, clock=later, processor=processor)

        assert second.checked == 0
        assert balance(owing) == 150_00


@pytest.mark.django_db
class TestWebhooks:
    def test_a_signed_capture_webhook_settles_an_unknown_payment_once(self, owing, processor):
        payment = charge(owing, processor, token="tok_timeout")
        SimulatedCardCharge.objects.update(status="captured")
        body, signature = processor.webhook(
            kind="charge.captured", idempotency_key=cards.processor_key(payment), at=TAKEN_AT
        )

        first = cards.handle_webhook(
            body=body, signature=signature, at=TAKEN_AT, actor=SYSTEM, processor=processor
        )
        again = cards.handle_webhook(
            body=body, signature=signature, at=TAKEN_AT, actor=SYSTEM, processor=processor
        )

        payment.refresh_from_db()
        assert payment.status == Payment.Status.POSTED
        assert first.pk == again.pk
        assert balance(owing) == 150_00

    def test_refuses_a_bad_or_old_signature(self, owing, processor):
        body = b'{"id": "evt_1", "type": "charge.captured", "data": {}}'
        wrong = sign(secret="not-the-secret", body=body, timestamp=int(TAKEN_AT.timestamp()))
        old = sign(secret=SECRET, body=body, timestamp=int(TAKEN_AT.timestamp()) - 3600)

        for signature in (wrong, old, ""):
            with pytest.raises(cards.WebhookRefused):
                cards.handle_webhook(
                    body=body, signature=signature, at=TAKEN_AT, actor=SYSTEM, processor=processor
                )

    def test_a_dispute_reverses_the_payment_as_a_chargeback(self, owing, processor):
        payment = charge(owing, processor)
        body, signature = processor.webhook(
            kind="charge.disputed", idempotency_key=cards.processor_key(payment), at=TAKEN_AT
        )

        cards.handle_webhook(
            body=body, signature=signature, at=TAKEN_AT, actor=SYSTEM, processor=processor
        )

        payment.refresh_from_db()
        assert payment.status == Payment.Status.REVERSED
        assert payment.reversal_reason == "chargeback"
        assert balance(owing) == 200_00 + 25_00


@pytest.mark.django_db
class TestSettlementAndVoid:
    def test_the_settlement_file_reconciles_with_the_captured_payments(self, owing, processor):
        charge(owing, processor, key="a", cents=10_00)
        charge(owing, processor, key="b", cents=20_00)
        content = processor.settlement_file(day=TODAY).encode()

        report = cards.reconcile_settlement(content=content)

        assert report.reconciled
        assert (report.matched, report.matched_cents) == (2, 30_00)
        assert report.fees_cents > 0

    def test_a_charge_missing_from_the_file_is_reported(self, owing, processor):
        payment = charge(owing, processor, key="a")
        content = b"settled_on,processor_ref,idempotency_key,kind,amount_cents,fee_cents\n"
        content += f"{TODAY},ch_elsewhere,x,capture,999,10\n".encode()

        report = cards.reconcile_settlement(content=content)

        assert not report.reconciled
        assert report.missing_in_file == [payment]
        assert "ch_elsewhere" in report.unknown_in_file[0]

    def test_a_malformed_settlement_file_names_line_and_field(self, db):
        content = b"settled_on,processor_ref,idempotency_key,kind,amount_cents,fee_cents\n"
        content += b"2026-03-02,ch_1,k,capture,12.50,0\n"

        with pytest.raises(ValueError, match="line 2, amount_cents"):
            cards.reconcile_settlement(content=content)

    def test_a_same_day_void_cancels_the_payment_and_the_charge(self, owing, processor):
        payment = charge(owing, processor)

        cards.void_card_payment(
            payment=payment, reason="wrong card", actor=SYSTEM, at=TAKEN_AT, processor=processor
        )

        payment.refresh_from_db()
        assert payment.status == Payment.Status.CANCELLED
        assert SimulatedCardCharge.objects.get().status == "voided"
        assert balance(owing) == 200_00
