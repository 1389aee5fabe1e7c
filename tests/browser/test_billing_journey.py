"""A billing analyst runs a cycle from the console and watches it finish, opens a bill, reads
why it is what it is and downloads its PDF, releases the bill that was held, and cancels and
rebills another; the books stay balanced."""

from datetime import date

import pytest
from playwright.sync_api import expect

from ohm.billing.models import Bill
from ohm.ledger.queries import check_books, get_balance_cents
from tests.billing.support import delivered_channel, served_with_rate, store_local_days

PASSWORD = "correct-horse-battery"


def _served(kwh: float):
    account = served_with_rate()
    store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1), kwh=kwh)
    return account


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_analyst_runs_a_cycle_reviews_releases_and_rebills(
    live_server, page, make_staff, settings
):
    # The console's run goes to the task worker; here the worker is the request itself.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    make_staff("billing_analyst", "newcomer")
    steady = _served(1.0)
    to_rebill = _served(1.2)
    nothing_used = _served(0.0)  # zero usage at an active premise: held for review

    page.goto(f"{live_server.url}/console/login/")
    page.fill("#id_username", "newcomer")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")

    # Run cycle 1 for the April 1 read and watch the run finish.
    page.goto(f"{live_server.url}/console/billing/")
    page.fill("#id_cycle", "1")
    page.fill("#id_as_of", "2026-04-02")
    page.click("text=Run bill cycle")
    progress = page.locator("#run-progress")
    expect(progress).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(progress).to_contain_text("2 issued")
    expect(progress).to_contain_text("1 held")

    # The held bill waits in the exceptions queue, says why, and is released as it is.
    page.click("text=held bill")
    held = Bill.objects.get(account=nothing_used)
    page.click(f"[data-bill='{held.number}'] a >> nth=0")
    expect(page.locator("body")).to_contain_text("Why it was held")
    expect(page.locator("body")).to_contain_text("zero_usage")
    release = page.locator("form[action$='/release/']")
    release.locator("input[name=reason]").fill("Vacant unit, confirmed with the owner")
    release.locator("button[type=submit]").click()
    expect(page.locator("[data-field=status]")).to_have_text("Issued")

    # An issued bill explains itself and has a PDF.
    bill = Bill.objects.get(account=steady)
    page.goto(f"{live_server.url}/console/billing/bills/{bill.number}/")
    # 734 kWh (served from 09:00 on March 1; March 8 has 23 hours) at $0.10, $10 fixed, 7.5% tax.
    expect(page.locator("[data-field=new_charges]")).to_have_text("$89.66")
    expect(page.locator("#explanation")).to_be_visible()
    expect(page.locator("[data-table=lines]")).to_contain_text("Utility users tax")
    pdf_url = page.get_attribute("a:text-is('PDF')", "href")
    pdf = page.request.get(f"{live_server.url}{pdf_url}")
    assert pdf.ok
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")

    # Another is cancelled and rebilled from the reads as they are now.
    first = Bill.objects.get(account=to_rebill)
    page.goto(f"{live_server.url}/console/billing/bills/{first.number}/")
    rebill = page.locator("form[action$='/rebill/']")
    rebill.locator("input[name=reason]").fill("Customer disputes the read; re-read confirmed")
    rebill.locator("button[type=submit]").click()
    expect(page.locator("body")).to_contain_text(f"replaces {first.number}")
    expect(page.locator("[data-field=status]")).to_have_text("Issued")

    first.refresh_from_db()
    assert first.status == Bill.Status.CANCELLED
    live = Bill.objects.filter(account=to_rebill, status=Bill.Status.ISSUED).get()
    assert live.replaces_id == first.pk
    assert get_balance_cents(account_id=to_rebill.pk) == live.total_due_cents
    assert check_books().balanced
