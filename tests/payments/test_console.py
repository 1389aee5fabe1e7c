"""Console pages: the cashier's day from float to deposit, search, detail actions, the
unapplied queue, imports with their reconciliation, the daily cash report."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ohm.core import clock
from ohm.payments.lockbox_format import write_lockbox
from ohm.payments.models import CashDrawer, DepositBatch, ImportRun, Payment
from ohm.payments.scanline import build_scan_line
from tests.payments.conftest import TAKEN_AT, TODAY, balance, books_clean, gl


@pytest.fixture(autouse=True)
def _frozen():
    with clock.frozen_at(TAKEN_AT):
        yield


def _counter(client, account, **data):
    values = {
        "idempotency_key": data.pop("key", "console:k1"),
        "account": account.number,
        "amount": "40.00",
        "tender": "cash",
        "reference": "",
        "payer_name": "",
        "card_token": "",
    }
    values.update(data)
    return client.post(f"/console/cashier/?account={account.number}", values)


@pytest.mark.django_db
class TestCashierDay:
    def test_open_take_cash_and_check_close_sign_off_and_deposit(
        self, client, cashier, supervisor, owing
    ):
        client.force_login(cashier)
        response = client.post("/console/cashier/", {"name": "Window 2", "float_amount": "100.00"})
        assert response.status_code == 302
        drawer = CashDrawer.objects.get(cashier=cashier)

        page = client.get(f"/console/cashier/?account={owing.number}")
        assert page.status_code == 200
        assert b"Take the payment" in page.content
        assert _counter(client, owing, key="console:a").status_code == 302
        assert _counter(client, owing, key="console:a").status_code == 302  # double submit
        _counter(client, owing, key="console:b", tender="check", amount="60.00", reference="1201")
        assert balance(owing) == 100_00
        assert drawer.payments.count() == 2

        receipt = client.get(f"/console/payments/{drawer.payments.first().pk}/receipt.pdf")
        assert receipt["Content-Type"] == "application/pdf"
        assert receipt.content.startswith(b"%PDF")

        client.post(
            "/console/cashier/close/",
            {
                "cash": "139.00",
                "checks": "60.00",
                "check_count": "1",
                "money_orders": "",
                "note": "",
            },
        )
        drawer.refresh_from_db()
        assert drawer.status == CashDrawer.Status.CLOSED
        assert drawer.over_short_cents == -1_00
        assert gl("cash_over_short") == 1_00

        again = client.post(
            "/console/cashier/close/",
            {"cash": "139.00", "checks": "60.00", "check_count": "1", "money_orders": ""},
        )
        assert again.status_code == 302  # no open drawer any more: back to the cashier screen
        assert gl("cash_over_short") == 1_00

        client.force_login(supervisor)
        client.post(f"/console/payments/drawers/{drawer.pk}/sign-off/", {"note": "short a dollar"})
        drawer.refresh_from_db()
        assert drawer.status == CashDrawer.Status.SIGNED_OFF
        response = client.post(
            "/console/payments/deposits/", {"drawer": [drawer.pk], "date": TODAY}
        )
        deposit = DepositBatch.objects.get()
        assert (deposit.cash_cents, deposit.checks_cents, deposit.total_cents) == (
            39_00,
            60_00,
            99_00,
        )
        slip = client.get(response["Location"])
        assert slip.content.startswith(b"%PDF")
        report = client.get(f"/console/payments/report/?date={TODAY}")
        assert b"Window 2" in report.content
        assert books_clean()

    def test_the_lookup_reads_a_scan_line(self, client, cashier, owing):
        client.force_login(cashier)
        line = build_scan_line(account_number=owing.number, amount_due_cents=200_00)

        response = client.get("/console/cashier/lookup/", {"q": line})

        assert owing.formatted_number.encode() in response.content
        assert b"due=20000" in response.content

    def test_enter_on_a_scanned_stub_opens_the_payment_form_with_the_amount_due(
        self, client, cashier, owing, drawer
    ):
        client.force_login(cashier)
        line = build_scan_line(account_number=owing.number, amount_due_cents=200_00)

        response = client.get("/console/cashier/", {"q": line})
        form = client.get(response["Location"])

        assert response.status_code == 302
        assert f"account={owing.number}&due=20000" in response["Location"]
        assert b'value="200.00"' in form.content

    def test_a_cash_only_account_cannot_pay_by_check(self, client, cashier, owing, drawer):
        owing.cash_only = True
        owing.save()
        client.force_login(cashier)

        response = _counter(client, owing, tender="check", reference="9")

        assert response.status_code == 200
        assert b"cash only" in response.content
        assert not Payment.objects.exists()

    def test_a_declined_card_says_so_and_charges_nothing(self, client, cashier, owing, drawer):
        client.force_login(cashier)

        response = _counter(client, owing, tender="card", card_token="tok_decline")

        assert b"Declined" in response.content
        assert balance(owing) == 200_00

    def test_a_cashier_may_not_sign_off_or_import(self, client, cashier):
        client.force_login(cashier)

        assert client.get("/console/payments/imports/").status_code == 403
        assert client.post("/console/payments/drawers/1/sign-off/").status_code == 403


@pytest.mark.django_db
class TestPaymentPages:
    def test_reverse_from_the_detail_page_charges_the_fee(
        self, client, supervisor, owing, drawer, cashier
    ):
        from ohm.payments import operations

        payment = operations.post_payment(
            account_id=owing.pk,
            amount_cents=50_00,
            tender="check",
            channel="cashier",
            idempotency_key="k",
            received_at=TAKEN_AT,
            effective_date=TODAY,
            actor=cashier,
            drawer=drawer,
        )
        client.force_login(supervisor)
        assert b"Returned payment" in client.get(f"/console/payments/{payment.pk}/").content

        client.post(
            f"/console/payments/{payment.pk}/reverse/",
            {
                "idempotency_key": "r",
                "reason_code": "nsf",
                "fee": "on",
                "effective_date": TODAY,
                "memo": "",
            },
        )

        payment.refresh_from_db()
        assert payment.status == Payment.Status.REVERSED
        assert balance(owing) == 225_00

    def test_the_unapplied_queue_applies_a_lockbox_item(self, client, csr, owing):
        content = write_lockbox(
            lockbox="0000001",
            deposit_date=TODAY,
            batches=[[{"amount_cents": 12_34, "account_number": "", "payer_name": "MYSTERY"}]],
        ).encode()
        client.force_login(csr)
        from ohm.payments import imports
        from tests.factories import SYSTEM

        imports.import_payment_file(
            content=content, file_name="lb.txt", file_format="lockbox", actor=SYSTEM, at=TAKEN_AT
        )
        page = client.get("/console/payments/unapplied/")
        assert b"MYSTERY" in page.content
        payment = Payment.objects.get(status="unapplied")

        client.post(
            f"/console/payments/{payment.pk}/apply/",
            {
                "account": owing.number,
                "effective_date": TODAY,
                "next": "/console/payments/unapplied/",
            },
        )

        payment.refresh_from_db()
        assert payment.account == owing
        assert balance(owing) == 200_00 - 12_34

    def test_import_page_shows_the_reconciliation_or_every_error(self, client, supervisor, owing):
        good = write_lockbox(
            lockbox="0000002",
            deposit_date=TODAY,
            batches=[[{"amount_cents": 10_00, "account_number": owing.number}]],
        ).encode()
        bad = good.replace(b"       10.00", b"      10.005", 1)
        client.force_login(supervisor)

        refused = client.post(
            "/console/payments/imports/",
            {
                "file": SimpleUploadedFile("bad.txt", bad),
                "file_format": "lockbox",
                "channel": "lockbox",
            },
        )
        assert refused.status_code == 200
        assert b"more than two decimals" in refused.content
        done = client.post(
            "/console/payments/imports/",
            {
                "file": SimpleUploadedFile("good.txt", good),
                "file_format": "lockbox",
                "channel": "lockbox",
            },
        )
        run = ImportRun.objects.get(file_name="good.txt")
        page = client.get(done["Location"])
        assert b"Reconciled" in page.content
        assert run.reconciled

    def test_search_and_account_card(self, client, csr, owing):
        from ohm.payments import operations

        operations.post_payment(
            account_id=owing.pk,
            amount_cents=77_00,
            tender="card",
            channel="phone_ivr",
            idempotency_key="ivr-1",
            received_at=TAKEN_AT,
            effective_date=TODAY,
            actor=csr,
        )
        client.force_login(csr)

        assert b"$77.00" in client.get("/console/payments/", {"q": "77.00"}).content
        assert b"$77.00" in client.get(f"/console/accounts/{owing.number}/payments/").content
        account_page = client.get(f"/console/accounts/{owing.number}/").content
        assert f"/console/accounts/{owing.number}/payments/".encode() in account_page
