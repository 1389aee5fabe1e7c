"""Billing in the console: launch a run and watch it, a held bill released, cancel and rebill,
the bill page with its explanation and PDF, the account's bills card."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ohm.billing.models import Bill
from ohm.core import clock
from ohm.core.models import BatchRun
from ohm.ledger.queries import check_books, get_balance_cents
from tests.billing.support import delivered_channel, served_with_rate, store_local_days

NOW = datetime(2026, 4, 2, 16, 0, tzinfo=UTC)


@pytest.fixture
def analyst(make_staff, client):
    user = make_staff("billing_analyst", "bea")
    client.force_login(user)
    return user


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def moment():
    with clock.frozen_at(NOW):
        yield NOW


def _account(kwh=1.0):
    account = served_with_rate()
    store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1), kwh=kwh)
    return account


@pytest.mark.django_db
class TestBillRunPages:
    def test_launching_a_cycle_runs_it_and_shows_its_progress(
        self, client, analyst, immediate_tasks, moment
    ):
        account = _account()

        response = client.post(
            "/console/billing/runs/start/", {"cycle": 1, "as_of": "2026-04-02"}, follow=True
        )

        run = BatchRun.objects.get(kind="billing.bill_run")
        assert run.status == BatchRun.Status.SUCCEEDED
        assert response.redirect_chain[-1][0] == f"/console/batch-runs/{run.pk}/"
        assert b'data-status="succeeded"' in response.content
        assert Bill.objects.filter(account=account, status="issued").count() == 1
        partial = client.get(f"/console/batch-runs/{run.pk}/progress/")
        assert b"1 issued" in partial.content
        assert b"hx-trigger" not in partial.content  # finished: no more polling

    def test_the_home_page_shows_the_calendar(self, client, analyst, moment):
        response = client.get("/console/billing/")

        assert response.status_code == 200
        assert b'data-cycle="20"' in response.content
        assert client.get("/console/billing/cycles/3/?year=2026").status_code == 200

    def test_a_csr_sees_bills_but_cannot_run_cycles(self, client, csr, moment):
        client.force_login(csr)

        assert client.get("/console/billing/").status_code == 200
        response = client.post("/console/billing/runs/start/", {"cycle": 1, "as_of": "2026-04-02"})
        assert response.status_code == 403


@pytest.mark.django_db
class TestBillPages:
    def _bill(self, client, kwh=1.0) -> Bill:
        account = _account(kwh)
        client.post("/console/billing/runs/start/", {"cycle": 1, "as_of": "2026-04-02"})
        return Bill.objects.get(account=account)

    def test_bill_detail_pdf_and_account_card(self, client, analyst, immediate_tasks, moment):
        bill = self._bill(client)

        page = client.get(f"/console/billing/bills/{bill.number}/")
        pdf = client.get(f"/console/billing/bills/{bill.number}/pdf/")
        card = client.get(f"/console/accounts/{bill.account.number}/bills/")

        assert page.status_code == 200
        assert b"Utility users tax" in page.content
        assert b'id="explanation"' in page.content
        assert pdf["Content-Type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")
        assert bill.number.encode() in card.content

    def test_a_held_bill_is_in_the_queue_and_released(
        self, client, analyst, immediate_tasks, moment
    ):
        bill = self._bill(client, kwh=0)
        assert bill.status == Bill.Status.HELD

        queue = client.get("/console/billing/exceptions/")
        released = client.post(
            f"/console/billing/bills/{bill.number}/release/", {"reason": "Vacant"}, follow=True
        )

        assert bill.number.encode() in queue.content
        bill.refresh_from_db()
        assert bill.status == Bill.Status.ISSUED
        assert b'data-field="status">Issued' in released.content

    def test_cancel_and_rebill_keep_the_books_balanced(
        self, client, analyst, immediate_tasks, moment
    ):
        bill = self._bill(client)

        response = client.post(
            f"/console/billing/bills/{bill.number}/rebill/", {"reason": "Check"}, follow=True
        )

        new = Bill.objects.get(replaces=bill)
        assert response.redirect_chain[-1][0] == f"/console/billing/bills/{new.number}/"
        assert get_balance_cents(account_id=bill.account_id) == new.new_charges_cents
        assert check_books().balanced
        refused = client.post(
            f"/console/billing/bills/{bill.number}/cancel/", {"reason": "again"}, follow=True
        )
        assert b"not issued" in refused.content
