"""The payments API: Idempotency-Key, cards by token only, reads, the signed webhook."""

from __future__ import annotations

import json

import pytest

from ohm.core import clock
from ohm.payments import cards
from ohm.payments.adapters.simulator import SimulatedProcessor
from ohm.payments.models import Payment, SimulatedCardCharge
from tests.api.conftest import api_client  # noqa: F401 - fixture
from tests.factories import SYSTEM
from tests.payments.conftest import TAKEN_AT, balance


@pytest.fixture(autouse=True)
def _frozen():
    with clock.frozen_at(TAKEN_AT):
        yield


def post(client, body, key="ivr-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        "/api/payments", json.dumps(body), content_type="application/json", **headers
    )


@pytest.mark.django_db
class TestPostPaymentApi:
    def test_posts_once_per_key(self, api_client, owing):  # noqa: F811
        client = api_client("csr")
        body = {
            "account_number": owing.number,
            "amount_cents": 25_00,
            "channel": "phone_ivr",
            "tender": "card",
            "card_token": "tok_visa",
        }

        first = post(client, body)
        again = post(client, body)

        assert first.status_code == 201
        assert again.status_code == 200
        assert again.json()["replayed"] is True
        assert first.json()["id"] == again.json()["id"]
        assert first.json()["tender_detail"] == "Visa •••• 4242"
        assert balance(owing) == 175_00

    def test_refuses_a_card_number_and_a_missing_key(self, api_client, owing):  # noqa: F811
        client = api_client("csr")
        body = {
            "account_number": owing.number,
            "amount_cents": 25_00,
            "channel": "portal",
            "tender": "card",
            "card_token": "4111111111111111",
        }

        refused = post(client, body)
        no_key = post(client, {**body, "card_token": "tok_visa"}, key="")

        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"][-1] == "card_token"
        assert no_key.status_code == 422
        assert not Payment.objects.exists()

    def test_an_unknown_account_goes_to_suspense(self, api_client, db):  # noqa: F811
        client = api_client("csr")

        response = post(
            client,
            {
                "account_number": "9999999999",
                "amount_cents": 5_00,
                "channel": "pay_agent",
                "tender": "cash",
                "reference": "R-1",
            },
        )

        assert response.status_code == 201
        assert response.json()["status"] == "unapplied"

    def test_reads_a_payment_and_an_accounts_payments(self, api_client, owing):  # noqa: F811
        client = api_client("csr")
        created = post(
            client,
            {
                "account_number": owing.number,
                "amount_cents": 5_00,
                "channel": "pay_agent",
                "tender": "cash",
            },
        ).json()

        one = client.get(f"/api/payments/{created['id']}")
        listed = client.get(f"/api/accounts/{owing.number}/payments")

        assert one.json()["amount_cents"] == 5_00
        assert listed.json()["count"] == 1

    def test_a_cashier_without_api_use_is_refused(self, api_client, owing):  # noqa: F811
        client = api_client("cashier", use_api=False)

        response = post(
            client,
            {
                "account_number": owing.number,
                "amount_cents": 5_00,
                "channel": "portal",
                "tender": "card",
                "card_token": "tok_visa",
            },
        )

        assert response.status_code == 403


@pytest.mark.django_db
class TestWebhookApi:
    def test_a_signed_webhook_settles_an_unknown_payment(self, client, owing, settings):
        settings.OHM_CARD_WEBHOOK_SECRET = "hook-secret"
        processor = SimulatedProcessor(secret="hook-secret", at=lambda: TAKEN_AT)
        payment = cards.take_card_payment(
            account_id=owing.pk,
            amount_cents=30_00,
            token="tok_timeout",
            channel="portal",
            idempotency_key="w1",
            received_at=TAKEN_AT,
            effective_date=TAKEN_AT.date(),
            actor=SYSTEM,
            processor=processor,
        )
        SimulatedCardCharge.objects.update(status="captured")
        body, signature = processor.webhook(
            kind="charge.captured", idempotency_key=cards.processor_key(payment), at=TAKEN_AT
        )

        response = client.post(
            "/api/payments/card-webhook",
            body,
            content_type="application/json",
            HTTP_OHM_SIGNATURE=signature,
        )
        forged = client.post(
            "/api/payments/card-webhook",
            body,
            content_type="application/json",
            HTTP_OHM_SIGNATURE="t=1,v1=00",
        )

        assert response.status_code == 200
        assert forged.status_code == 400
        payment.refresh_from_db()
        assert payment.status == Payment.Status.POSTED
        assert balance(owing) == 170_00
