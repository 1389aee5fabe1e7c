"""Console pages for banking: autopay masked on every page, ACH two-person release, returns
import, refund request / approval / check, positive pay."""

from __future__ import annotations

from datetime import date

import pytest

from ohm.banking import ach
from ohm.banking.models import AchFile, AutopayEnrolment, Refund
from ohm.core import clock
from ohm.payments.models import Payment
from tests.banking.conftest import BANK_ACCOUNT, BUILD_AT, DUE, bill, returns_file
from tests.factories import make_account


@pytest.fixture(autouse=True)
def frozen():
    with clock.frozen_at(BUILD_AT):
        yield


@pytest.fixture
def analyst(make_staff):
    return make_staff("billing_analyst", "bella")


@pytest.fixture
def boss(make_staff):
    return make_staff("supervisor", "sam")


@pytest.fixture
def csr_user(make_staff):
    return make_staff("csr", "casey")


class TestAutopayPages:
    def test_enrol_then_every_page_shows_the_number_masked(self, client, db, csr_user):
        account = make_account()
        bill(account, 75_00, key="b")
        client.force_login(csr_user)

        response = client.post(
            f"/console/accounts/{account.number}/autopay/enrol/",
            {"holder_name": "Pat Customer", "routing_number": "231380104", "account_number": BANK_ACCOUNT,
             "account_type": "checking", "start_date": "2026-03-01", "prenote": ""},
        )  # fmt: skip

        assert response.status_code == 302
        page = client.get(f"/console/accounts/{account.number}/autopay/").content.decode()
        assert "••••9012" in page
        assert BANK_ACCOUNT not in page
        assert AutopayEnrolment.objects.get().account_number == BANK_ACCOUNT

    def test_a_bad_routing_number_is_shown_next_to_its_field(self, client, db, csr_user):
        account = make_account()
        client.force_login(csr_user)

        response = client.post(
            f"/console/accounts/{account.number}/autopay/enrol/",
            {"holder_name": "Pat", "routing_number": "231380105", "account_number": BANK_ACCOUNT,
             "account_type": "checking", "start_date": "2026-03-01"},
        )  # fmt: skip

        assert response.status_code == 200
        assert "check digit should be 4" in response.content.decode()
        assert not AutopayEnrolment.objects.exists()

    def test_the_account_page_links_to_autopay_and_refund(self, client, db, csr_user):
        account = make_account()
        client.force_login(csr_user)

        page = client.get(f"/console/accounts/{account.number}/").content.decode()

        assert (
            f'href="/console/accounts/{account.number}/autopay/" data-testid="autopay-link"' in page
        )
        assert (
            f'href="/console/accounts/{account.number}/refund/" data-testid="refund-link"' in page
        )


class TestAchPages:
    def test_the_builder_cannot_release_and_a_second_person_can(
        self, client, billed, analyst, boss
    ):
        client.force_login(analyst)
        response = client.post(
            "/console/banking/ach/build/", {"due_date": DUE.isoformat(), "prenotes": "on"}
        )
        ach_file = AchFile.objects.get()
        assert response.status_code == 302
        page = client.get(f"/console/banking/ach/{ach_file.pk}/").content.decode()
        assert "a different person must release it" in page
        assert BANK_ACCOUNT not in page

        client.force_login(boss)
        client.post(f"/console/banking/ach/{ach_file.pk}/release/", {"note": "checked totals"})

        ach_file.refresh_from_db()
        assert ach_file.status == AchFile.Status.RELEASED
        assert Payment.objects.filter(channel="autopay").count() == 1
        download = client.get(f"/console/banking/ach/{ach_file.pk}/download/")
        assert download.content.decode() == ach_file.content

    def test_the_maker_posting_release_is_refused(self, client, billed, make_staff):
        lead = make_staff("lead_csr", "lee")
        ach_file = ach.build_export(due_date=DUE, actor=lead, at=BUILD_AT)
        client.force_login(lead)

        client.post(f"/console/banking/ach/{ach_file.pk}/release/")

        ach_file.refresh_from_db()
        assert ach_file.status == AchFile.Status.BUILT

    def test_returns_upload_shows_what_was_done_and_refuses_bad_files(
        self, client, billed, analyst, boss
    ):
        ach_file = ach.build_export(due_date=DUE, actor=analyst, at=BUILD_AT)
        ach.release_file(ach_file=ach_file, actor=boss, at=BUILD_AT)
        client.force_login(analyst)
        from django.core.files.uploadedfile import SimpleUploadedFile

        bad = client.post(
            "/console/banking/returns/import/", {"file": SimpleUploadedFile("bad.ach", b"5" * 94)}
        )
        good = client.post(
            "/console/banking/returns/import/",
            {"file": SimpleUploadedFile("r.ach", returns_file([(ach_file.entries.get(), "R01")]))},
            follow=True,
        )

        assert "refused, nothing posted" in bad.content.decode()
        assert "R01 Insufficient funds: payment" in good.content.decode()


class TestRefundPages:
    def test_request_above_the_limit_then_approve_then_issue_and_download_positive_pay(
        self, client, db, csr_user, boss
    ):
        account = make_account()
        bill(account, 10_00, key="b")
        from ohm.financials import operations as financials
        from tests.factories import SYSTEM

        financials.post_adjustment(
            account=account, amount_cents=40_00, direction="credit", reason_code="billing_error",
            effective_date=date(2026, 3, 5), actor=SYSTEM, at=BUILD_AT, idempotency_key="c",
        )  # fmt: skip
        client.force_login(csr_user)
        page = client.get(f"/console/accounts/{account.number}/refund/").content.decode()
        assert "$30.00" in page
        client.post(
            f"/console/accounts/{account.number}/refund/",
            {
                "idempotency_key": "k1",
                "amount": "30.00",
                "reason": "overpayment",
                "method": "check",
            },
        )
        refund = Refund.objects.get()
        assert refund.status == Refund.Status.PENDING

        client.force_login(boss)
        client.post(f"/console/banking/refunds/{refund.pk}/decide/", {"decision": "approve"})
        client.post(f"/console/banking/refunds/{refund.pk}/check/")
        csv_text = client.get("/console/banking/positive-pay/?date=2026-03-19").content.decode()

        refund.refresh_from_db()
        assert refund.status == Refund.Status.ISSUED
        assert "100001,2026-03-19,30.00" in csv_text
        assert client.get("/console/banking/checks/").status_code == 200
        assert client.get("/console/banking/").status_code == 200

    def test_a_csr_cannot_see_the_check_register(self, client, db, csr_user):
        client.force_login(csr_user)

        assert client.get("/console/banking/checks/").status_code == 403


class TestResumePage:
    def test_a_stopped_release_offers_resume_and_finishes(
        self, client, billed, analyst, boss, monkeypatch
    ):
        ach_file = ach.build_export(due_date=DUE, actor=analyst, at=BUILD_AT)
        real = ach.payment_batch.post_payments_batch
        monkeypatch.setattr(
            ach.payment_batch,
            "post_payments_batch",
            lambda **kw: (_ for _ in ()).throw(RuntimeError("db gone")),
        )
        client.force_login(boss)

        client.post(f"/console/banking/ach/{ach_file.pk}/release/")
        page = client.get(f"/console/banking/ach/{ach_file.pk}/").content.decode()
        monkeypatch.setattr(ach.payment_batch, "post_payments_batch", real)
        client.post(f"/console/banking/ach/{ach_file.pk}/resume/")

        assert "Resume posting" in page
        assert "db gone" in page
        assert Payment.objects.filter(channel="autopay").count() == 1
