"""In a real browser, from the keyboard: a cashier opens a drawer with a float, takes cash
for an account typed by number and a check for a stub scanned by its scan line, prints a
receipt, closes the drawer one dollar short, and a supervisor signs it off."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ohm.ledger import queries as ledger_queries
from ohm.payments.models import CashDrawer, Payment
from ohm.payments.scanline import build_scan_line
from tests.banking.conftest import bill
from tests.factories import make_account, make_person


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/console/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    expect(page.locator("#id_username")).to_have_count(0)


def find(page, text):
    """Type (or scan) into the one lookup box and press Enter, as at the counter."""
    box = page.locator("#cashier-lookup")
    box.fill(text)
    box.press("Enter")
    expect(page.locator("#counter-form")).to_be_visible()


def take(page, *, tender_key, amount=None, reference=None):
    """Amount (focused), a function key for the tender, Enter to take it; the receipt link."""
    amount_box = page.locator("#id_amount")
    expect(amount_box).to_be_focused()
    if amount is not None:
        amount_box.fill(amount)
    page.keyboard.press(tender_key)
    if reference is not None:
        page.fill("#id_reference", reference)
        page.focus("#id_amount")
    page.keyboard.press("Enter")
    receipt = page.locator("[data-action=receipt]")
    expect(receipt).to_be_visible()
    return receipt


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_cashier_balances_a_drawer_and_a_supervisor_signs_it_off(live_server, page, make_staff):
    make_staff("cashier", "cora")
    make_staff("supervisor", "sam")
    walk_in = make_account(make_person(first_name="Walter", last_name="Inman"))
    bill(walk_in, 80_00, key="bill:walk-in")
    mailed = make_account(make_person(first_name="Stella", last_name="Stubbs"))
    bill(mailed, 64_25, key="bill:stub")
    stub = build_scan_line(account_number=mailed.number, amount_due_cents=64_25)

    # The cashier opens her drawer with a $150.00 float.
    sign_in(page, live_server, "cora")
    page.goto(f"{live_server.url}/console/cashier/")
    page.fill("#id_name", "Window 2")
    page.fill("#id_float_amount", "150.00")
    page.click("text=Open drawer")
    expect(page.locator(".messages")).to_contain_text("Window 2 is open with $150.00")

    # Cash for an account found by its number: F1, Enter.
    find(page, walk_in.number)
    expect(page.locator("section[aria-labelledby=pay-h]")).to_contain_text("Inman")
    receipt = take(page, tender_key="F1", amount="80.00")
    expect(page.locator(".messages")).to_contain_text("Took $80.00")
    pdf = page.request.get(live_server.url + receipt.get_attribute("href"))
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")

    # A check for a mailed stub: the scanned scan line fills the amount due; F2, number, Enter.
    find(page, stub)
    expect(page.locator("#id_amount")).to_have_value("64.25")
    take(page, tender_key="F2", reference="4417")
    expect(page.locator(".messages")).to_contain_text("Took $64.25")
    expect(page.locator("aside")).to_contain_text("Checks (1)")

    # Close the drawer: the cash counted is a dollar short of float + cash taken.
    page.click("text=Close drawer…")
    page.fill("#id_cash", "229.00")
    page.fill("#id_checks", "64.25")
    page.fill("#id_check_count", "1")
    page.click("button:has-text('Close drawer')")
    expect(page.locator(".messages")).to_contain_text("closed short $1.00")
    over_short = page.locator("tr", has_text="Over / short")
    expect(over_short).to_contain_text("-$1.00")
    expect(page.locator("tr", has_text="Cash (float")).to_contain_text("$230.00")

    # The supervisor (not the cashier) signs it off.
    drawer = CashDrawer.objects.get()
    page.context.clear_cookies()
    sign_in(page, live_server, "sam")
    page.goto(f"{live_server.url}/console/payments/drawers/{drawer.pk}/")
    page.fill("#note", "Counted twice; a dollar short.")
    page.click("button:has-text('Sign off')")
    expect(page.locator(".messages")).to_contain_text("signed off")
    expect(page.locator("main")).to_contain_text(re.compile(r"Signed off by sam"))

    drawer.refresh_from_db()
    assert drawer.status == CashDrawer.Status.SIGNED_OFF
    assert drawer.over_short_cents == -1_00
    assert sorted(Payment.objects.values_list("tender", "amount_cents")) == [
        ("cash", 80_00),
        ("check", 64_25),
    ]
    assert ledger_queries.get_balance_cents(account_id=walk_in.pk) == 0
    assert ledger_queries.get_balance_cents(account_id=mailed.pk) == 0
    assert ledger_queries.check_books().balanced
