"""A CSR signs in, finds a customer as they type, opens the account and logs the call."""

import os
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ohm.customers import operations as customer_operations
from tests.factories import AT, SYSTEM, make_person, make_premise, make_served_account

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "account-page.png"


def _customer_with_history():
    person = make_person(
        first_name="Evangeline",
        last_name="Okafor",
        phones=[{"number": "(510) 555-0187", "kind": "mobile"}],
        emails=["e.okafor@example.org"],
        date_of_birth="1949-11-02",
        ssn_last4="7310",
    )
    account = make_served_account(
        person,
        premise=make_premise(address_line1="418 Harbor View Dr", unit="Apt 2"),
        meter_serial="AMI2048113",
    )
    daughter = make_person(
        first_name="Grace",
        last_name="Okafor",
        phones=[{"number": "(510) 555-0190", "kind": "home"}],
        emails=["grace.okafor@example.org"],
    )
    customer_operations.add_account_person(
        account=account,
        person=daughter,
        role="third_party",
        start_date=date(2026, 3, 1),
        actor=SYSTEM,
        at=AT,
    )
    customer_operations.update_account(
        account=account, changes={"life_support": True, "paperless": True}, actor=SYSTEM, at=AT
    )
    customer_operations.add_alert(
        account=account,
        kind="safety",
        note="Dog in the back yard; call before field work.",
        start_date=date(2026, 3, 1),
        actor=SYSTEM,
        at=AT,
    )
    customer_operations.add_alert(
        account=account,
        kind="dispute",
        note="Disputes the February estimated read.",
        start_date=date(2026, 3, 1),
        actor=SYSTEM,
        at=AT,
    )
    customer_operations.log_interaction(
        account=account,
        channel="phone",
        reason_code="start_service",
        note="New customer; moved from Oakland.",
        person=person,
        actor=SYSTEM,
        occurred_at=AT,
    )
    return account


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_csr_finds_a_customer_and_logs_a_call(live_server, page, make_staff):
    make_staff("csr", "casey")
    account = _customer_with_history()

    page.goto(f"{live_server.url}/console/login/")
    page.fill("#id_username", "casey")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Good")

    page.keyboard.press("/")
    page.keyboard.type("okafor evang", delay=30)
    live = page.locator("#search-dropdown a.result")
    expect(live.first).to_contain_text("Evangeline Okafor")
    expect(live.first).to_contain_text(account.formatted_number)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")

    expect(page.locator(".account-head h1")).to_contain_text(account.formatted_number)
    expect(page.locator(".banner-danger").first).to_contain_text("Life support")

    page.click("#log-interaction")
    page.select_option("#id_reason", "high_bill")
    page.fill("#id_note", "Asked why the March bill is higher; explained the rate change.")
    page.click("#save-interaction")

    latest = page.locator("#interactions .timeline li").first
    expect(latest).to_contain_text("High bill inquiry")
    expect(latest).to_contain_text("explained the rate change")
    expect(latest).to_contain_text("casey")
    expect(page.locator("#interactions form")).to_have_count(0)

    if os.environ.get("OHM_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOT))
