"""In a real browser: a CSR sets up autopay (the number is never shown again), an analyst
builds the ACH file, and a supervisor — not the analyst — releases it."""

from __future__ import annotations

import pytest

from ohm.banking.models import AchFile
from ohm.payments.models import Payment
from tests.banking.conftest import BANK_ACCOUNT, DUE, bill
from tests.factories import make_account


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/console/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_enrol_build_and_release_by_two_people(live_server, page, make_staff):
    from playwright.sync_api import expect

    make_staff("csr", "casey")
    make_staff("billing_analyst", "bella")
    make_staff("supervisor", "sam")
    account = make_account()
    bill(account, 88_00, key="b")

    sign_in(page, live_server, "casey")
    page.goto(f"{live_server.url}/console/accounts/{account.number}/autopay/")
    page.fill("#id_holder_name", "Pat Customer")
    page.fill("#id_routing_number", "231380104")
    page.fill("#id_account_number", BANK_ACCOUNT)
    page.check("input[name=account_type][value=checking]")
    page.uncheck("#id_prenote")
    page.fill("#id_start_date", "2026-03-01")
    page.click("text=Enrol")
    expect(page.locator("[data-testid=masked-account]")).to_contain_text("••••9012")
    assert BANK_ACCOUNT not in page.content()

    page.context.clear_cookies()
    sign_in(page, live_server, "bella")
    page.goto(f"{live_server.url}/console/banking/ach/")
    page.fill("#id_due_date", DUE.isoformat())
    page.click("text=Build file")
    expect(page.locator("main")).to_contain_text("a different person must release it")

    page.context.clear_cookies()
    sign_in(page, live_server, "sam")
    ach_file = AchFile.objects.get()
    page.goto(f"{live_server.url}/console/banking/ach/{ach_file.pk}/")
    page.click("text=Release to the bank")
    expect(page.locator(".messages")).to_contain_text("Released")
    assert Payment.objects.get().amount_cents == 88_00
