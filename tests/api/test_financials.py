"""The API's writes to the books: adjustments, fees, transfers, write-offs, reversals,
recoveries and the approvals queue."""

from __future__ import annotations

import pytest

from ohm.api import tokens
from ohm.core import clock
from ohm.core.models import AuditEvent
from ohm.financials.models import FinancialRequest
from ohm.ledger import operations as ledger
from ohm.ledger.models import JournalEntry
from tests.api.conftest import client_with_token, grant_api_use
from tests.factories import AT, SYSTEM, make_account
from tests.financials.conftest import bill, writes

JSON = "application/json"


@pytest.fixture(autouse=True)
def frozen(at):
    with clock.frozen_at(at):
        yield


class Caller:
    """A staff member and an API client sending their token."""

    def __init__(self, user, client):
        self.user, self.client = user, client
        self._keys = 0

    def post(self, url: str, body: dict | None = None, *, key: str | None = "auto"):
        if key == "auto":
            self._keys += 1
            key = f"test-{self._keys}"
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
        if body is None:
            return self.client.post(url, content_type=JSON, **headers)
        return self.client.post(url, body, content_type=JSON, **headers)

    def get(self, url: str):
        return self.client.get(url)


@pytest.fixture
def caller(make_staff):
    def make(role: str, username: str | None = None) -> Caller:
        user = make_staff(role, username)
        grant_api_use(user)
        _, token = tokens.create_token(user=user, name="test", actor=SYSTEM, at=AT)
        return Caller(user, client_with_token(token))

    return make


@pytest.fixture
def csr_api(caller):
    return caller("csr", "casey")


@pytest.fixture
def lead_api(caller):
    return caller("lead_csr", "lee")


@pytest.fixture
def supervisor_api(caller):
    return caller("supervisor", "sam")


@pytest.fixture
def owing(db):
    """An account owing $200.00, billed Feb 1, 2026."""
    account = make_account()
    bill(account, 200_00, key=f"bill:{account.pk}")
    return account


def url(account, tail: str) -> str:
    return f"/api/accounts/{account.number}/{tail}"


def lines(body: dict) -> list[tuple[str, int, str | None]]:
    return [
        (line["gl_code"], line["amount_cents"], line["account_number"])
        for line in body["entry"]["lines"]
    ]


def error_locs(response) -> list[list]:
    return [error["loc"] for error in response.json()["detail"]]


def credit(cents: int = 12_50, **overrides) -> dict:
    return {
        "amount_cents": cents,
        "direction": "credit",
        "reason_code": "billing_error",
        "memo": "Wrong rate",
        **overrides,
    }


@pytest.mark.django_db
class TestAdjustments:
    def test_a_credit_within_the_limit_posts_and_returns_the_entry(self, csr_api, owing):
        response = csr_api.post(url(owing, "adjustments"), credit())

        assert response.status_code == 201
        body = response.json()
        assert body["replayed"] is False
        assert body["pending"] is False
        assert body["request"] is None
        assert body["entry"]["kind"] == "adjustment"
        assert body["entry"]["effective_date"] == "2026-03-03"
        assert lines(body) == [("4190", 12_50, None), ("1100", -12_50, owing.number)]

    def test_the_posting_is_audited_in_the_token_users_name(self, csr_api, owing):
        response = csr_api.post(url(owing, "adjustments"), credit())

        event = AuditEvent.objects.get(event="financials.adjustment.posted")
        assert event.actor == csr_api.user
        assert event.account_id == owing.pk
        assert event.after["entry"] == response.json()["entry"]["id"]
        assert JournalEntry.objects.get(pk=event.after["entry"]).actor == csr_api.user

    def test_a_charge_falls_due_after_the_grace_and_takes_the_effective_date(self, csr_api, owing):
        response = csr_api.post(
            url(owing, "adjustments"),
            credit(5_00, direction="debit", effective_date="2026-03-02"),
        )

        entry = response.json()["entry"]
        assert entry["effective_date"] == "2026-03-02"
        assert entry["lines"][0]["due_date"] == "2026-03-23"
        assert lines(response.json()) == [("1100", 5_00, owing.number), ("4190", -5_00, None)]

    def test_the_same_key_again_returns_the_first_entry_with_200_and_writes_nothing(
        self, csr_api, owing
    ):
        first = csr_api.post(url(owing, "adjustments"), credit(), key="retry-me")
        before = writes()

        again = csr_api.post(url(owing, "adjustments"), credit(), key="retry-me")

        assert again.status_code == 200
        assert again.json()["replayed"] is True
        assert again.json()["entry"]["id"] == first.json()["entry"]["id"]
        assert writes() == before
        assert JournalEntry.objects.filter(kind="adjustment").count() == 1

    def test_a_key_is_the_callers_own_so_another_user_may_use_the_same(
        self, csr_api, caller, owing
    ):
        other = caller("csr", "cory")
        csr_api.post(url(owing, "adjustments"), credit(), key="shared")

        response = other.post(url(owing, "adjustments"), credit(), key="shared")

        assert response.status_code == 201
        assert JournalEntry.objects.filter(kind="adjustment").count() == 2

    def test_a_key_reused_for_a_different_write_is_refused(self, csr_api, owing):
        csr_api.post(url(owing, "adjustments"), credit(), key="once")

        response = csr_api.post(url(owing, "fees"), {"kind": "returned_payment"}, key="once")

        assert response.status_code == 422
        assert error_locs(response) == [["header", "Idempotency-Key"]]
        assert not JournalEntry.objects.filter(kind="fee").exists()

    def test_without_an_idempotency_key_it_is_refused_naming_the_header(self, csr_api, owing):
        before = writes()

        response = csr_api.post(url(owing, "adjustments"), credit(), key=None)

        assert response.status_code == 422
        assert error_locs(response) == [["header", "Idempotency-Key"]]
        assert "Idempotency-Key" in response.json()["detail"][0]["msg"]
        assert writes() == before

    def test_a_blank_idempotency_key_is_refused(self, csr_api, owing):
        response = csr_api.post(url(owing, "adjustments"), credit(), key="   ")

        assert response.status_code == 422
        assert error_locs(response) == [["header", "Idempotency-Key"]]

    def test_a_zero_amount_is_refused_naming_the_amount_and_writes_nothing(self, csr_api, owing):
        before = writes()

        response = csr_api.post(url(owing, "adjustments"), credit(0))

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "amount_cents"]]
        assert "more than zero" in response.json()["detail"][0]["msg"]
        assert writes() == before

    @pytest.mark.parametrize("amount", [12.5, "1250", -100])
    def test_amounts_must_be_positive_whole_cents(self, csr_api, owing, amount):
        before = writes()

        response = csr_api.post(url(owing, "adjustments"), credit(amount))

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "amount_cents"]]
        assert writes() == before

    def test_an_unknown_reason_is_refused_naming_the_reason(self, csr_api, owing):
        before = writes()

        response = csr_api.post(url(owing, "adjustments"), credit(reason_code="because"))

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "reason_code"]]
        assert "because" in response.json()["detail"][0]["msg"]
        assert writes() == before

    def test_a_credit_only_reason_cannot_charge(self, csr_api, owing):
        response = csr_api.post(
            url(owing, "adjustments"), credit(direction="debit", reason_code="courtesy_credit")
        )

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "direction"]]

    def test_a_direction_other_than_credit_or_debit_is_refused(self, csr_api, owing):
        response = csr_api.post(url(owing, "adjustments"), credit(direction="refund"))

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "direction"]]

    def test_a_closed_period_is_refused_naming_the_effective_date(self, csr_api, owing):
        ledger.close_period(year=2026, month=2, actor=SYSTEM, at=AT)
        before = writes()

        response = csr_api.post(url(owing, "adjustments"), credit(effective_date="2026-02-27"))

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "effective_date"]]
        assert "closed" in response.json()["detail"][0]["msg"]
        assert writes() == before

    def test_above_the_limit_it_waits_with_202_and_says_who_must_approve(self, csr_api, owing):
        response = csr_api.post(url(owing, "adjustments"), credit(60_00))

        assert response.status_code == 202
        body = response.json()
        assert body["pending"] is True
        assert body["entry"] is None
        request = FinancialRequest.objects.get()
        assert body["request"]["id"] == request.pk
        assert body["request"]["status"] == "pending"
        assert body["request"]["amount_cents"] == 60_00
        assert body["request"]["maker"] == "casey"
        assert body["request"]["needs"]["maker_limit_cents"] == 50_00
        assert "Lead CSR" in body["request"]["needs"]["approver_roles"]
        assert "Lead CSR" in body["request"]["needs"]["message"]
        assert not JournalEntry.objects.filter(kind="adjustment").exists()

    def test_a_pending_request_replayed_by_key_returns_the_request_with_200(self, csr_api, owing):
        first = csr_api.post(url(owing, "adjustments"), credit(60_00), key="big")

        again = csr_api.post(url(owing, "adjustments"), credit(60_00), key="big")

        assert again.status_code == 200
        assert again.json()["replayed"] is True
        assert again.json()["request"]["id"] == first.json()["request"]["id"]
        assert FinancialRequest.objects.count() == 1

    def test_without_a_token_it_is_401(self, client, owing):
        response = client.post(
            url(owing, "adjustments"), credit(), content_type=JSON, HTTP_IDEMPOTENCY_KEY="k"
        )

        assert response.status_code == 401

    def test_a_cashier_may_not_adjust(self, caller, owing):
        cashier = caller("cashier")
        before = writes()

        response = cashier.post(url(owing, "adjustments"), credit())

        assert response.status_code == 403
        assert "financials.post_adjustment" in response.json()["detail"]
        assert writes() == before

    def test_an_unknown_account_is_404(self, csr_api, db):
        response = csr_api.post("/api/accounts/1000000008/adjustments", credit())

        assert response.status_code == 404


@pytest.mark.django_db
class TestFees:
    def test_a_returned_payment_fee_posts_at_the_schedules_amount(self, csr_api, owing):
        response = csr_api.post(url(owing, "fees"), {"kind": "returned_payment"})

        assert response.status_code == 201
        assert response.json()["entry"]["kind"] == "fee"
        assert lines(response.json()) == [("1100", 25_00, owing.number), ("4210", -25_00, None)]
        assert AuditEvent.objects.filter(event="financials.fee.posted").count() == 1

    def test_an_unknown_fee_is_refused_naming_the_kind(self, csr_api, owing):
        before = writes()

        response = csr_api.post(url(owing, "fees"), {"kind": "convenience"})

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "kind"]]
        assert writes() == before

    def test_a_cashier_may_not_charge_fees(self, caller, owing):
        response = caller("cashier").post(url(owing, "fees"), {"kind": "reconnect"})

        assert response.status_code == 403


@pytest.mark.django_db
class TestTransfers:
    def test_moves_the_balance_in_one_balanced_entry(self, csr_api, owing):
        new_account = make_account()

        response = csr_api.post(
            url(owing, "transfers"),
            {"to_account": new_account.number, "amount_cents": 40_00, "reason": "Moved"},
        )

        assert response.status_code == 201
        assert response.json()["entry"]["kind"] == "transfer"
        assert sorted(lines(response.json())) == [
            ("1100", -40_00, owing.number),
            ("1100", 40_00, new_account.number),
        ]
        assert AuditEvent.objects.filter(event="financials.transfer.received").count() == 1

    def test_to_the_same_account_is_refused_naming_the_target(self, csr_api, owing):
        before = writes()

        response = csr_api.post(
            url(owing, "transfers"),
            {"to_account": owing.number, "amount_cents": 40_00, "reason": "Moved"},
        )

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "to_account"]]
        assert writes() == before

    def test_to_an_account_not_on_file_is_refused_naming_the_target(self, csr_api, owing):
        response = csr_api.post(
            url(owing, "transfers"),
            {"to_account": "1000009999", "amount_cents": 40_00, "reason": "Moved"},
        )

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "to_account"]]

    def test_more_than_is_owed_is_refused_naming_the_amount(self, csr_api, owing):
        before = writes()

        response = csr_api.post(
            url(owing, "transfers"),
            {"to_account": make_account().number, "amount_cents": 200_01, "reason": "Moved"},
        )

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "amount_cents"]]
        assert writes()[:3] == before[:3]


@pytest.mark.django_db
class TestWriteOffs:
    def test_a_supervisor_writes_off_within_the_limit(self, supervisor_api, owing):
        response = supervisor_api.post(
            url(owing, "write-offs"), {"amount_cents": 150_00, "reason": "Bankruptcy"}
        )

        assert response.status_code == 201
        assert lines(response.json()) == [("5200", 150_00, None), ("1100", -150_00, owing.number)]
        event = AuditEvent.objects.get(event="financials.write_off.posted")
        assert event.actor == supervisor_api.user

    def test_more_than_the_balance_is_refused_naming_the_amount(self, supervisor_api, owing):
        before = writes()

        response = supervisor_api.post(
            url(owing, "write-offs"), {"amount_cents": 250_00, "reason": "Bankruptcy"}
        )

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "amount_cents"]]
        assert writes() == before

    def test_a_blank_reason_is_refused_naming_the_reason(self, supervisor_api, owing):
        response = supervisor_api.post(
            url(owing, "write-offs"), {"amount_cents": 10_00, "reason": "  "}
        )

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "reason"]]

    def test_a_csr_may_not_write_off(self, csr_api, owing):
        response = csr_api.post(
            url(owing, "write-offs"), {"amount_cents": 10_00, "reason": "Bankruptcy"}
        )

        assert response.status_code == 403
        assert "financials.write_off" in response.json()["detail"]


@pytest.fixture
def written_off(supervisor_api, owing):
    """$150.00 of the $200.00 written off; returns the write-off's entry id."""
    response = supervisor_api.post(
        url(owing, "write-offs"), {"amount_cents": 150_00, "reason": "Bankruptcy"}
    )
    return response.json()["entry"]["id"]


@pytest.mark.django_db
class TestWriteOffReversals:
    def test_reverses_the_write_off_pointing_at_it(self, supervisor_api, owing, written_off):
        response = supervisor_api.post(
            url(owing, "write-offs/reverse"), {"entry_id": written_off, "reason": "In error"}
        )

        assert response.status_code == 201
        entry = response.json()["entry"]
        assert entry["kind"] == "reversal"
        assert entry["reverses_entry_id"] == written_off
        assert lines(response.json()) == [("1100", 150_00, owing.number), ("5200", -150_00, None)]
        assert AuditEvent.objects.filter(event="financials.write_off_reversal.posted").exists()

    def test_a_write_off_reversed_already_is_refused_naming_the_entry(
        self, supervisor_api, owing, written_off
    ):
        supervisor_api.post(
            url(owing, "write-offs/reverse"), {"entry_id": written_off, "reason": "In error"}
        )
        before = writes()

        response = supervisor_api.post(
            url(owing, "write-offs/reverse"), {"entry_id": written_off, "reason": "Again"}
        )

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "entry_id"]]
        assert writes() == before

    def test_a_write_off_of_another_account_is_refused(self, supervisor_api, written_off):
        other = make_account()

        response = supervisor_api.post(
            url(other, "write-offs/reverse"), {"entry_id": written_off, "reason": "In error"}
        )

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "entry_id"]]

    def test_a_csr_may_not_reverse_write_offs(self, csr_api, owing, written_off):
        response = csr_api.post(
            url(owing, "write-offs/reverse"), {"entry_id": written_off, "reason": "In error"}
        )

        assert response.status_code == 403


@pytest.mark.django_db
class TestRecoveries:
    def test_puts_a_recovered_amount_back_on_the_account(self, supervisor_api, owing, written_off):
        response = supervisor_api.post(
            url(owing, "recoveries"), {"amount_cents": 50_00, "memo": "Agency remittance 88"}
        )

        assert response.status_code == 201
        assert response.json()["entry"]["kind"] == "recovery"
        assert lines(response.json()) == [("1100", 50_00, owing.number), ("4900", -50_00, None)]
        assert AuditEvent.objects.filter(event="financials.recovery.posted").exists()

    def test_more_than_was_written_off_is_refused_naming_the_amount(
        self, supervisor_api, owing, written_off
    ):
        before = writes()

        response = supervisor_api.post(url(owing, "recoveries"), {"amount_cents": 150_01})

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "amount_cents"]]
        assert writes() == before

    def test_a_csr_may_not_record_recoveries(self, csr_api, owing):
        response = csr_api.post(url(owing, "recoveries"), {"amount_cents": 10_00})

        assert response.status_code == 403


@pytest.fixture
def pending(csr_api, owing):
    """A $60.00 credit above the CSR's $50.00 limit; returns the request id."""
    return csr_api.post(url(owing, "adjustments"), credit(60_00)).json()["request"]["id"]


@pytest.mark.django_db
class TestApprovals:
    def test_the_queue_lists_pending_requests_with_what_they_need(self, lead_api, pending):
        response = lead_api.get("/api/approvals")

        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 1
        item = body["items"][0]
        assert item["id"] == pending
        assert item["kind"] == "adjustment"
        assert item["maker"] == "casey"
        assert "Lead CSR" in item["needs"]["approver_roles"]

    def test_the_queue_can_be_limited_to_one_account(self, lead_api, pending):
        response = lead_api.get(f"/api/approvals?account={make_account().number}")

        assert response.json()["count"] == 0

    def test_a_csr_may_not_see_the_queue(self, csr_api, pending):
        assert csr_api.get("/api/approvals").status_code == 403

    def test_a_lead_approving_posts_the_entry_in_the_leads_name(self, lead_api, owing, pending):
        response = lead_api.post(f"/api/approvals/{pending}/approve", {"note": "Checked"})

        assert response.status_code == 200
        body = response.json()
        assert body["request"]["status"] == "approved"
        assert body["request"]["checker"] == "lee"
        assert body["request"]["entry_id"] == body["entry"]["id"]
        assert lines(body) == [("4190", 60_00, None), ("1100", -60_00, owing.number)]
        entry = JournalEntry.objects.get(kind="adjustment")
        assert entry.actor == lead_api.user
        assert AuditEvent.objects.filter(
            event="financials.request.approved", actor=lead_api.user
        ).exists()

    def test_approving_needs_no_body(self, lead_api, pending):
        response = lead_api.post(f"/api/approvals/{pending}/approve")

        assert response.status_code == 200

    def test_the_makers_retry_after_approval_returns_the_posted_entry(
        self, csr_api, lead_api, owing
    ):
        csr_api.post(url(owing, "adjustments"), credit(60_00), key="big")
        request_id = FinancialRequest.objects.get().pk
        lead_api.post(f"/api/approvals/{request_id}/approve")

        again = csr_api.post(url(owing, "adjustments"), credit(60_00), key="big")

        assert again.status_code == 200
        assert again.json()["pending"] is False
        assert again.json()["entry"]["kind"] == "adjustment"
        assert JournalEntry.objects.filter(kind="adjustment").count() == 1

    def test_approving_your_own_request_is_forbidden(self, lead_api, owing):
        own = lead_api.post(url(owing, "adjustments"), credit(600_00, direction="debit"))
        request_id = own.json()["request"]["id"]
        before = writes()

        response = lead_api.post(f"/api/approvals/{request_id}/approve")

        assert response.status_code == 403
        assert "You made request" in response.json()["detail"]
        assert writes() == before

    def test_approving_above_your_limit_is_forbidden(self, csr_api, lead_api, owing):
        big = csr_api.post(url(owing, "adjustments"), credit(600_00, direction="debit"))
        request_id = big.json()["request"]["id"]
        before = writes()

        response = lead_api.post(f"/api/approvals/{request_id}/approve")

        assert response.status_code == 403
        assert "above your $500.00 limit" in response.json()["detail"]
        assert writes() == before
        assert FinancialRequest.objects.get().is_pending

    def test_a_csr_may_not_approve(self, caller, pending):
        other_csr = caller("csr", "cory")

        response = other_csr.post(f"/api/approvals/{pending}/approve")

        assert response.status_code == 403

    def test_rejecting_with_a_reason_posts_nothing(self, lead_api, pending):
        response = lead_api.post(f"/api/approvals/{pending}/reject", {"reason": "No basis"})

        assert response.status_code == 200
        assert response.json()["request"]["status"] == "rejected"
        assert response.json()["request"]["decision_note"] == "No basis"
        assert response.json()["entry"] is None
        assert not JournalEntry.objects.filter(kind="adjustment").exists()

    def test_rejecting_without_a_reason_is_refused_naming_the_reason(self, lead_api, pending):
        response = lead_api.post(f"/api/approvals/{pending}/reject", {"reason": " "})

        assert response.status_code == 422
        assert error_locs(response) == [["body", "payload", "reason"]]
        assert FinancialRequest.objects.get().is_pending

    def test_a_decided_request_cannot_be_decided_again(self, lead_api, pending):
        lead_api.post(f"/api/approvals/{pending}/approve")

        response = lead_api.post(f"/api/approvals/{pending}/reject", {"reason": "Oops"})

        assert response.status_code == 422
        assert error_locs(response) == [["path", "request_id"]]
        assert JournalEntry.objects.filter(kind="adjustment").count() == 1

    def test_an_unknown_request_is_404(self, lead_api, db):
        assert lead_api.post("/api/approvals/999/approve").status_code == 404


@pytest.mark.django_db
class TestAdjustmentReasons:
    def test_lists_the_active_codes_with_their_direction(self, csr_api):
        response = csr_api.get("/api/adjustment-reasons")

        assert response.status_code == 200
        reasons = {row["code"]: row for row in response.json()}
        assert reasons["billing_error"]["direction"] == "both"
        assert reasons["courtesy_credit"]["direction"] == "credit"
        assert reasons["courtesy_credit"]["label"]

    def test_without_a_token_it_is_401(self, client, db):
        assert client.get("/api/adjustment-reasons").status_code == 401
