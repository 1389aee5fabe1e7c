"""The console's write-off reversal and recovery forms, and the financial actions the account
page offers to each role."""

from __future__ import annotations

import re
from datetime import date

import pytest

from ohm.core import clock
from ohm.financials import operations
from ohm.ledger import operations as ledger
from ohm.ledger.models import JournalEntry
from tests.factories import AT, make_account
from tests.financials.conftest import bill, writes
from tests.journal import lines_of


@pytest.fixture(autouse=True)
def frozen(at):
    with clock.frozen_at(at):
        yield


@pytest.fixture
def owing(db):
    account = make_account()
    bill(account, 200_00, key=f"bill:{account.pk}")
    return account


@pytest.fixture
def write_off(owing, make_staff):
    """$150.00 of the account's $200.00 written off by another supervisor."""
    outcome = operations.write_off_balance(
        account=owing,
        amount_cents=150_00,
        reason="Bankruptcy",
        effective_date=date(2026, 3, 2),
        actor=make_staff("supervisor", "sue"),
        at=AT,
        idempotency_key="test:write-off",
    )
    return outcome.entry


@pytest.fixture
def signed_in(client, supervisor):
    client.force_login(supervisor)
    return client


def reversal_url(account) -> str:
    return f"/console/accounts/{account.number}/write-off/reverse/"


def recovery_url(account) -> str:
    return f"/console/accounts/{account.number}/recovery/"


@pytest.mark.django_db
class TestWriteOffReversalForm:
    def test_offers_the_accounts_write_offs(self, signed_in, owing, write_off):
        response = signed_in.get(reversal_url(owing))

        assert response.status_code == 200
        assert f'<option value="{write_off.pk}">JE {write_off.pk} · Mar 2, 2026 · $150.00' in (
            response.text
        )

    def test_reverses_the_chosen_write_off_and_returns_to_the_account(
        self, signed_in, owing, write_off
    ):
        response = signed_in.post(
            reversal_url(owing),
            {
                "entry": write_off.pk,
                "reason": "Written off in error",
                "effective_date": "2026-03-03",
                "idempotency_key": "console:rev-1",
            },
        )

        assert response.status_code == 302
        assert response.url == f"/console/accounts/{owing.number}/"
        reversal = JournalEntry.objects.get(kind="reversal")
        assert reversal.reverses_id == write_off.pk

    def test_a_double_submit_reverses_once(self, signed_in, owing, write_off):
        data = {
            "entry": write_off.pk,
            "reason": "Written off in error",
            "effective_date": "2026-03-03",
            "idempotency_key": "console:rev-1",
        }
        signed_in.post(reversal_url(owing), data)
        signed_in.post(reversal_url(owing), data)

        assert JournalEntry.objects.filter(kind="reversal").count() == 1

    def test_a_reversed_write_off_is_no_longer_offered(self, signed_in, owing, write_off):
        signed_in.post(
            reversal_url(owing),
            {
                "entry": write_off.pk,
                "reason": "Written off in error",
                "effective_date": "2026-03-03",
                "idempotency_key": "console:rev-1",
            },
        )

        response = signed_in.get(reversal_url(owing))

        assert f'<option value="{write_off.pk}"' not in response.text
        assert "no write-off to reverse" in response.text

    def test_a_closed_period_shows_the_error_on_the_date_and_writes_nothing(
        self, signed_in, owing, write_off
    ):
        ledger.close_period(year=2026, month=2, actor=write_off.actor, at=AT)
        before = writes()

        response = signed_in.post(
            reversal_url(owing),
            {
                "entry": write_off.pk,
                "reason": "Written off in error",
                "effective_date": "2026-02-20",
                "idempotency_key": "console:rev-1",
            },
        )

        assert response.status_code == 200
        assert "closed" in str(response.context["form"].errors["effective_date"])
        assert writes() == before

    def test_a_csr_may_not_reverse_write_offs(self, client, csr, owing):
        client.force_login(csr)

        assert client.get(reversal_url(owing)).status_code == 403


@pytest.mark.django_db
class TestRecoveryForm:
    def test_says_how_much_was_written_off_and_not_recovered(self, signed_in, owing, write_off):
        response = signed_in.get(recovery_url(owing))

        assert response.status_code == 200
        assert "Written off and not yet recovered: $150.00" in response.text

    def test_records_the_recovery(self, signed_in, owing, write_off):
        response = signed_in.post(
            recovery_url(owing),
            {
                "amount": "40.00",
                "memo": "Agency remittance 88",
                "effective_date": "2026-03-03",
                "idempotency_key": "console:rec-1",
            },
        )

        assert response.status_code == 302
        entry = JournalEntry.objects.get(kind="recovery")
        assert [(code, cents) for code, cents, _ in lines_of(entry)] == [
            ("1100", 40_00),
            ("4900", -40_00),
        ]

    def test_more_than_was_written_off_shows_the_error_on_the_amount(
        self, signed_in, owing, write_off
    ):
        before = writes()

        response = signed_in.post(
            recovery_url(owing),
            {
                "amount": "150.01",
                "effective_date": "2026-03-03",
                "idempotency_key": "console:rec-1",
            },
        )

        assert response.status_code == 200
        assert "$150.00" in str(response.context["form"].errors["amount"])
        assert writes() == before

    def test_a_csr_may_not_record_recoveries(self, client, csr, owing):
        client.force_login(csr)

        assert client.post(recovery_url(owing), {"amount": "1.00"}).status_code == 403


def actions(response) -> set[str]:
    return set(re.findall(r'data-action="([a-z_]+)"', response.text))


def action_links(response, action: str) -> set[str]:
    return set(re.findall(rf'href="([^"]+)" data-action="{action}"', response.text))


@pytest.mark.django_db
class TestAccountPageActions:
    def test_a_cashier_sees_no_financial_actions(self, client, make_staff, owing):
        client.force_login(make_staff("cashier"))

        response = client.get(f"/console/accounts/{owing.number}/")

        assert response.status_code == 200
        assert actions(response) == set()

    def test_a_csr_sees_adjust_fee_and_transfer_but_not_write_off(self, client, csr, owing):
        client.force_login(csr)

        response = client.get(f"/console/accounts/{owing.number}/")

        assert actions(response) == {"adjust", "fee", "transfer"}

    def test_a_supervisor_sees_every_financial_action(self, signed_in, owing):
        response = signed_in.get(f"/console/accounts/{owing.number}/")

        assert actions(response) == {
            "adjust",
            "fee",
            "transfer",
            "write_off",
            "reverse_write_off",
            "recovery",
        }

    def test_the_actions_row_and_the_balance_card_link_to_the_same_forms(self, signed_in, owing):
        response = signed_in.get(f"/console/accounts/{owing.number}/")

        base = f"/console/accounts/{owing.number}"
        assert action_links(response, "adjust") == {f"{base}/adjust/"}
        assert action_links(response, "fee") == {f"{base}/fee/"}
        assert action_links(response, "transfer") == {f"{base}/transfer/"}
        assert action_links(response, "write_off") == {f"{base}/write-off/"}
        assert response.text.count('data-action="adjust"') == 2

    def test_every_linked_form_opens_for_the_supervisor(self, signed_in, owing):
        page = signed_in.get(f"/console/accounts/{owing.number}/")
        links = set(re.findall(r'href="([^"]+)" data-action=', page.text))

        statuses = {link: signed_in.get(link).status_code for link in links}

        assert set(statuses.values()) == {200}
        assert len(statuses) == 6

    def test_an_account_never_written_off_has_nothing_to_recover(self, signed_in, db):
        response = signed_in.get(recovery_url(make_account()))

        assert "Written off and not yet recovered: $0.00" in response.text
