"""The banking API: autopay read/write (the number never comes back) and refund requests."""

from __future__ import annotations

import json
from datetime import date

import pytest

from ohm.banking.models import AutopayEnrolment, Refund
from ohm.core import clock
from ohm.financials import operations as financials
from tests.api.conftest import api_client, csr_api  # noqa: F401 - fixtures
from tests.banking.conftest import BANK_ACCOUNT, BUILD_AT, bill
from tests.factories import SYSTEM, make_account


@pytest.fixture(autouse=True)
def frozen():
    with clock.frozen_at(BUILD_AT):
        yield


def put(client, number, body):
    return client.put(
        f"/api/accounts/{number}/autopay", json.dumps(body), content_type="application/json"
    )


BODY = {
    "holder_name": "Pat Customer",
    "routing_number": "231380104",
    "account_number": BANK_ACCOUNT,
    "account_type": "checking",
}


class TestAutopayApi:
    def test_enrol_read_change_and_the_number_never_comes_back(self, csr_api):  # noqa: F811
        account = make_account()

        created = put(csr_api, account.number, BODY)
        read = csr_api.get(f"/api/accounts/{account.number}/autopay")
        changed = put(
            csr_api,
            account.number,
            {**BODY, "account_number": "99998888", "account_type": "savings"},
        )

        assert created.status_code == 201
        assert read.json()["bank_account"] == "••••9012"
        assert changed.status_code == 200
        assert changed.json()["bank_account"] == "••••8888"
        for response in (created, read, changed):
            assert BANK_ACCOUNT not in response.content.decode()
            assert "99998888" not in response.content.decode()
        assert AutopayEnrolment.objects.get().account_number == "99998888"

    def test_a_bad_routing_number_is_a_422_on_its_field(self, csr_api):  # noqa: F811
        account = make_account()

        response = put(csr_api, account.number, {**BODY, "routing_number": "231380105"})

        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "payload", "routing_number"]

    def test_cancel(self, csr_api):  # noqa: F811
        account = make_account()
        put(csr_api, account.number, BODY)

        response = csr_api.delete(f"/api/accounts/{account.number}/autopay?reason=moving")

        assert response.json()["status"] == "cancelled"
        assert csr_api.get(f"/api/accounts/{account.number}/autopay").status_code == 404


class TestRefundApi:
    @pytest.fixture
    def in_credit(self, db):
        account = make_account()
        bill(account, 10_00, key="b")
        financials.post_adjustment(
            account=account, amount_cents=40_00, direction="credit", reason_code="billing_error",
            effective_date=date(2026, 3, 5), actor=SYSTEM, at=BUILD_AT, idempotency_key="c",
        )  # fmt: skip
        return account

    def post(self, client, account, body, key="k1"):
        return client.post(
            f"/api/accounts/{account.number}/refunds", json.dumps(body),
            content_type="application/json", HTTP_IDEMPOTENCY_KEY=key,
        )  # fmt: skip

    def test_above_the_limit_waits_and_the_same_key_returns_it(self, csr_api, in_credit):  # noqa: F811
        body = {"amount_cents": 30_00, "reason": "overpayment", "method": "check"}

        first = self.post(csr_api, in_credit, body)
        again = self.post(csr_api, in_credit, body)

        assert first.status_code == 202
        assert first.json()["status"] == "pending"
        assert again.status_code == 200
        assert again.json()["replayed"] is True
        assert Refund.objects.count() == 1

    def test_within_the_limit_is_approved(self, api_client, in_credit):  # noqa: F811
        response = self.post(
            api_client("supervisor"),
            in_credit,
            {"amount_cents": 30_00, "reason": "overpayment", "method": "check"},
        )

        assert response.status_code == 201
        assert response.json()["approval_entry_id"] is not None

    def test_more_than_the_credit_is_a_422(self, csr_api, in_credit):  # noqa: F811
        response = self.post(
            csr_api, in_credit, {"amount_cents": 30_01, "reason": "overpayment", "method": "check"}
        )

        assert response.status_code == 422
        assert "At most $30.00" in response.json()["detail"][0]["msg"]
        assert response.json()["detail"][0]["loc"] == ["body", "payload", "amount_cents"]

    def test_needs_the_idempotency_key(self, csr_api, in_credit):  # noqa: F811
        response = csr_api.post(
            f"/api/accounts/{in_credit.number}/refunds",
            json.dumps({"amount_cents": 1_00, "reason": "overpayment", "method": "check"}),
            content_type="application/json",
        )

        assert response.status_code == 422


class TestCardRefundApi:
    @pytest.fixture
    def paid_by_card(self, db):
        from ohm.payments import cards

        account = make_account()
        bill(account, 10_00, key="b")
        payment = cards.take_card_payment(
            account_id=account.pk, amount_cents=40_00, token="tok_visa", channel="portal",
            idempotency_key="portal-1", received_at=BUILD_AT, effective_date=BUILD_AT.date(),
            actor=SYSTEM,
        )  # fmt: skip
        return account, payment

    def post(self, client, account, body, key="k1"):
        return client.post(
            f"/api/accounts/{account.number}/refunds", json.dumps(body),
            content_type="application/json", HTTP_IDEMPOTENCY_KEY=key,
        )  # fmt: skip

    def test_an_approved_card_refund_goes_back_to_the_card(self, api_client, paid_by_card):  # noqa: F811
        account, payment = paid_by_card
        body = {
            "amount_cents": 30_00,
            "reason": "overpayment",
            "method": "card",
            "payment_id": payment.pk,
        }
        client = api_client("supervisor")

        first = self.post(client, account, body)
        again = self.post(client, account, body)

        assert first.status_code == 201, first.json()
        assert first.json()["status"] == "issued"
        assert first.json()["payment_id"] == payment.pk
        assert first.json()["processor_ref"].startswith("re_sim_")
        assert again.status_code == 200
        assert again.json()["processor_ref"] == first.json()["processor_ref"]
        assert Refund.objects.get().issue_entry_id is not None

    def test_a_card_refund_names_its_payment(self, api_client, paid_by_card):  # noqa: F811
        account, _ = paid_by_card
        client = api_client("supervisor")

        missing = self.post(
            client, account, {"amount_cents": 1_00, "reason": "overpayment", "method": "card"}
        )
        unknown = self.post(
            client, account,
            {"amount_cents": 1_00, "reason": "overpayment", "method": "card", "payment_id": 999_999},
            key="k2",
        )  # fmt: skip

        assert missing.status_code == unknown.status_code == 422
        assert missing.json()["detail"][0]["loc"] == ["body", "payload", "payment_id"]
        assert "choose the payment" in missing.json()["detail"][0]["msg"]
        assert unknown.json()["detail"][0]["loc"] == ["body", "payload", "payment_id"]
        assert not Refund.objects.exists()
