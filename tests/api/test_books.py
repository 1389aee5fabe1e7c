"""The books through the API: balance and aging, transactions, trial balance."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ohm.core import clock
from ohm.core.checkdigit import with_luhn_digit
from ohm.ledger import operations as ledger
from ohm.ledger.operations import EntrySpec, LineSpec
from tests.factories import SYSTEM, make_account

NOW = datetime(2026, 3, 3, 18, 0, tzinfo=UTC)


def post(
    account, kind: str, cents: int, *, on: date, due: date | None = None, other="revenue_energy"
):
    return ledger.post_entry(
        EntrySpec(
            kind,
            on,
            f"{kind}:{account.pk}:{on}:{cents}",
            kind.title(),
            [
                LineSpec("receivables", cents, account_id=account.pk, due_date=due),
                LineSpec(other, -cents),
            ],
        ),
        actor=SYSTEM,
        at=NOW,
    )


@pytest.fixture(autouse=True)
def _frozen():
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
def owing(db):
    """$100.00 billed Jan 5 (past due) and $50.00 billed Feb 20 (current); $30.00 paid."""
    account = make_account(opened=date(2025, 12, 1))
    post(account, "bill", 100_00, on=date(2026, 1, 5), due=date(2026, 1, 26))
    post(account, "bill", 50_00, on=date(2026, 2, 20), due=date(2026, 3, 13))
    post(account, "payment", -30_00, on=date(2026, 2, 25), other="cash_card")
    return account


class TestGetBalance:
    def test_returns_balance_past_due_and_buckets(self, csr_api, owing):
        response = csr_api.get(f"/api/accounts/{owing.number}/balance")

        assert response.status_code == 200
        assert response.json() == {
            "number": owing.number,
            "as_of": "2026-03-03",
            "balance_cents": 120_00,
            "current_cents": 50_00,
            "past_due_cents": 70_00,
            "credit_cents": 0,
            "is_credit": False,
            "buckets": {
                "current": 50_00,
                "days_31_60": 70_00,
                "days_61_90": 0,
                "days_91_120": 0,
                "over_120": 0,
            },
        }

    def test_reports_a_credit(self, csr_api, db):
        account = make_account()
        post(account, "payment", -12_00, on=date(2026, 3, 1), other="cash_card")

        body = csr_api.get(f"/api/accounts/{account.number}/balance").json()

        assert body["balance_cents"] == -12_00
        assert body["credit_cents"] == 12_00
        assert body["is_credit"] is True

    def test_answers_as_of_an_earlier_date(self, csr_api, owing):
        body = csr_api.get(f"/api/accounts/{owing.number}/balance?as_of=2026-02-01").json()

        assert body["balance_cents"] == 100_00
        assert body["past_due_cents"] == 100_00

    def test_is_401_without_a_token(self, client, owing):
        assert client.get(f"/api/accounts/{owing.number}/balance").status_code == 401

    def test_is_403_for_a_user_who_may_not_use_the_api(self, api_client, owing):
        response = api_client("csr", use_api=False).get(f"/api/accounts/{owing.number}/balance")

        assert response.status_code == 403

    def test_is_404_for_an_unknown_account(self, csr_api, db):
        response = csr_api.get(f"/api/accounts/{with_luhn_digit('999999999')}/balance")

        assert response.status_code == 404

    def test_is_422_for_a_bad_check_digit(self, csr_api, owing):
        bad = owing.number[:-1] + str((int(owing.number[-1]) + 1) % 10)

        response = csr_api.get(f"/api/accounts/{bad}/balance")

        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["path", "number"]


class TestListTransactions:
    def test_lists_transactions_with_a_running_balance(self, csr_api, owing):
        response = csr_api.get(f"/api/accounts/{owing.number}/transactions")

        body = response.json()
        assert response.status_code == 200
        assert [t["running_balance_cents"] for t in body["transactions"]] == [
            100_00,
            150_00,
            120_00,
        ]
        assert [t["kind"] for t in body["transactions"]] == ["bill", "bill", "payment"]
        assert body["opening_balance_cents"] == 0
        assert body["closing_balance_cents"] == 120_00

    def test_filters_by_dates_and_kind(self, csr_api, owing):
        body = csr_api.get(
            f"/api/accounts/{owing.number}/transactions?start=2026-02-01&end=2026-02-28&kind=bill"
        ).json()

        assert body["opening_balance_cents"] == 100_00
        assert [(t["kind"], t["running_balance_cents"]) for t in body["transactions"]] == [
            ("bill", 150_00)
        ]
        assert body["closing_balance_cents"] == 120_00

    def test_is_422_for_an_end_before_the_start(self, csr_api, owing):
        response = csr_api.get(
            f"/api/accounts/{owing.number}/transactions?start=2026-02-01&end=2026-01-01"
        )

        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "end"]

    def test_is_422_for_a_bad_date(self, csr_api, owing):
        response = csr_api.get(f"/api/accounts/{owing.number}/transactions?start=soon")

        assert response.status_code == 422


class TestGetTrialBalance:
    def test_returns_balanced_books(self, api_client, owing):
        response = api_client("billing_analyst").get("/api/ledger/trial-balance")

        body = response.json()
        assert response.status_code == 200
        assert body["balanced"] is True
        assert body["total_cents"] == 0
        assert body["ar_control_cents"] == body["ar_subledger_total_cents"] == 120_00
        balances = {row["code"]: row["balance_cents"] for row in body["accounts"]}
        assert balances["1100"] == 120_00
        assert balances["4100"] == -150_00
        assert balances["1011"] == 30_00

    def test_is_403_without_the_books_permission(self, csr_api, db):
        response = csr_api.get("/api/ledger/trial-balance")

        assert response.status_code == 403
        assert "ledger.view_books" in response.json()["detail"]
