"""The console forms for financial transactions and the approvals queue."""

import pytest
from django.contrib.auth.models import Permission

from ohm.core import clock
from ohm.financials.models import FinancialRequest
from ohm.ledger.models import JournalEntry
from tests.factories import make_account
from tests.journal import lines_of

PERMS = ["post_adjustment", "assess_fee", "transfer_balance", "write_off", "approve_request"]


@pytest.fixture(autouse=True)
def frozen(at):
    with clock.frozen_at(at):
        yield


def grant(user, *codenames):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="financials", codename__in=codenames)
    )
    return user


@pytest.fixture
def signed_in(client, csr):
    grant(csr, *PERMS)
    client.force_login(csr)
    return client


def adjust_form(**overrides):
    data = {
        "amount": "20.00",
        "direction": "credit",
        "reason_code": "billing_error",
        "memo": "Wrong rate",
        "effective_date": "2026-03-03",
        "idempotency_key": "console:test-1",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
class TestAdjustmentForm:
    def test_shows_the_form_asking_live_what_approval_is_needed(self, signed_in, owing):
        response = signed_in.get(f"/console/accounts/{owing.number}/adjust/")

        assert response.status_code == 200
        assert 'hx-get="/console/approvals/needed/?kind=adjustment"' in response.text

    def test_the_fragment_says_when_a_lead_must_approve(self, signed_in):
        response = signed_in.get("/console/approvals/needed/?kind=adjustment&amount=60")

        assert "Above your $50.00 limit" in response.text

    def test_within_the_limit_posts_and_returns_to_the_account(self, signed_in, owing):
        response = signed_in.post(f"/console/accounts/{owing.number}/adjust/", adjust_form())

        assert response.status_code == 302
        assert JournalEntry.objects.filter(kind="adjustment").count() == 1

    def test_a_double_submit_posts_once(self, signed_in, owing):
        url = f"/console/accounts/{owing.number}/adjust/"
        signed_in.post(url, adjust_form())
        signed_in.post(url, adjust_form())

        assert JournalEntry.objects.filter(kind="adjustment").count() == 1

    def test_above_the_limit_leaves_a_request(self, signed_in, owing):
        response = signed_in.post(
            f"/console/accounts/{owing.number}/adjust/", adjust_form(amount="60")
        )

        request = FinancialRequest.objects.get()
        assert response.url == f"/console/approvals/{request.pk}/"
        assert not JournalEntry.objects.filter(kind="adjustment").exists()

    @pytest.mark.parametrize(
        ("overrides", "field", "message"),
        [
            ({"amount": "0"}, "amount", "more than zero"),
            ({"amount": "1.234"}, "amount", "dollars and cents"),
            ({"reason_code": "courtesy_credit", "direction": "debit"}, "direction", "cannot be"),
        ],
    )
    def test_bad_input_shows_the_error_by_the_field(
        self, signed_in, owing, overrides, field, message
    ):
        response = signed_in.post(
            f"/console/accounts/{owing.number}/adjust/", adjust_form(**overrides)
        )

        assert response.status_code == 200
        assert message in " ".join(response.context["form"].errors[field])
        assert not JournalEntry.objects.filter(kind="adjustment").exists()

    def test_without_the_permission_the_page_is_forbidden(self, client, make_staff, owing):
        client.force_login(make_staff("cashier", "nopriv"))

        assert client.get(f"/console/accounts/{owing.number}/adjust/").status_code == 403


@pytest.mark.django_db
class TestOtherForms:
    def test_a_fee_posts_from_the_schedule(self, signed_in, owing):
        response = signed_in.post(
            f"/console/accounts/{owing.number}/fee/",
            {"kind": "reconnect", "effective_date": "2026-03-03", "idempotency_key": "k:fee"},
        )

        assert response.status_code == 302
        assert ("1100", 50_00, owing.pk) in lines_of(JournalEntry.objects.get(kind="fee"))

    def test_a_transfer_names_the_account_by_number(self, signed_in, owing):
        target = make_account()

        response = signed_in.post(
            f"/console/accounts/{owing.number}/transfer/",
            {
                "to_account": target.number,
                "amount": "30",
                "reason": "Final bill to new home",
                "effective_date": "2026-03-03",
                "idempotency_key": "k:xfer",
            },
        )

        assert response.status_code == 302
        assert JournalEntry.objects.filter(kind="transfer").count() == 1

    def test_a_transfer_to_a_wrong_check_digit_is_refused(self, signed_in, owing):
        wrong = owing.number[:-1] + str((int(owing.number[-1]) + 1) % 10)

        response = signed_in.post(
            f"/console/accounts/{owing.number}/transfer/",
            {
                "to_account": wrong,
                "amount": "30",
                "reason": "x",
                "effective_date": "2026-03-03",
                "idempotency_key": "k:x2",
            },
        )

        assert response.status_code == 200
        assert "to_account" in response.context["form"].errors

    def test_a_write_off_above_the_balance_is_refused(self, signed_in, owing):
        response = signed_in.post(
            f"/console/accounts/{owing.number}/write-off/",
            {
                "amount": "200.01",
                "reason": "gone",
                "effective_date": "2026-03-03",
                "idempotency_key": "k:wo",
            },
        )

        assert "more than the open balance" in response.context["form"].errors["amount"][0]


@pytest.mark.django_db
class TestApprovalsQueue:
    def test_a_lead_approves_from_the_queue(self, client, signed_in, owing, lead):
        signed_in.post(f"/console/accounts/{owing.number}/adjust/", adjust_form(amount="60"))
        request = FinancialRequest.objects.get()
        client.force_login(grant(lead, "approve_request"))

        page = client.get("/console/approvals/")
        response = client.post(
            f"/console/approvals/{request.pk}/decide/", {"decision": "approve", "note": ""}
        )

        assert "Approve" in page.text
        assert response.status_code == 302
        request.refresh_from_db()
        assert request.status == "approved"

    def test_the_maker_cannot_approve_their_own(self, signed_in, owing, make_staff):
        signed_in.post(f"/console/accounts/{owing.number}/adjust/", adjust_form(amount="60"))
        request = FinancialRequest.objects.get()

        response = signed_in.post(
            f"/console/approvals/{request.pk}/decide/", {"decision": "approve"}
        )

        assert response.status_code == 200
        assert "a different person" in response.text
        request.refresh_from_db()
        assert request.status == "pending"

    def test_a_rejection_needs_a_note(self, client, signed_in, owing, lead):
        signed_in.post(f"/console/accounts/{owing.number}/adjust/", adjust_form(amount="60"))
        request = FinancialRequest.objects.get()
        client.force_login(grant(lead, "approve_request"))

        response = client.post(f"/console/approvals/{request.pk}/decide/", {"decision": "reject"})

        assert "Say why" in response.text
        request.refresh_from_db()
        assert request.status == "pending"
