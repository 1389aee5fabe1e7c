"""The views of the books in the console: balance card, financial history, aging report,
trial balance, GL summary and journal entries."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from ohm.console.views.books import build_aging_report
from ohm.core import clock
from ohm.ledger import operations as ledger
from ohm.ledger import queries as ledger_queries
from ohm.ledger.aging import BUCKETS
from ohm.ledger.operations import EntrySpec, LineSpec
from tests.factories import SYSTEM, make_account

NOW = datetime(2026, 3, 3, 18, 0, tzinfo=UTC)  # 10:00 Pacific, March 3, 2026
AS_OF = date(2026, 3, 3)


def bill(account, cents: int, *, on: date, due: date, key: str | None = None):
    return ledger.post_entry(
        EntrySpec(
            "bill",
            on,
            key or f"bill:{account.pk}:{on}",
            f"Bill {on:%b %Y}",
            [
                LineSpec("receivables", cents, account_id=account.pk, due_date=due),
                LineSpec("revenue_energy", -cents),
            ],
        ),
        actor=SYSTEM,
        at=NOW,
    )


def pay(account, cents: int, *, on: date, key: str | None = None):
    return ledger.post_entry(
        EntrySpec(
            "payment",
            on,
            key or f"pay:{account.pk}:{on}:{cents}",
            "Payment — cashier",
            [
                LineSpec("cash_cashier", cents),
                LineSpec("receivables", -cents, account_id=account.pk),
            ],
        ),
        actor=SYSTEM,
        at=NOW,
    )


@pytest.fixture(autouse=True)
def _frozen():
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
def late_payer(db):
    """Owes $150.00: a January bill of $100 unpaid (past due) and a February bill of $50."""
    account = make_account(opened=date(2025, 12, 1))
    bill(account, 100_00, on=date(2026, 1, 5), due=date(2026, 1, 26))
    bill(account, 50_00, on=date(2026, 2, 20), due=date(2026, 3, 13))
    return account


@pytest.fixture
def paid_ahead(db):
    """$80.00 billed and $92.00 paid: a credit of $12.00."""
    account = make_account(opened=date(2025, 12, 1))
    bill(account, 80_00, on=date(2026, 2, 1), due=date(2026, 2, 22))
    pay(account, 92_00, on=date(2026, 2, 10))
    return account


@pytest.fixture
def analyst(make_staff):
    return make_staff("billing_analyst", "ana")


class TestBalanceCard:
    def test_shows_balance_past_due_and_aging_buckets(self, client, csr, late_payer):
        client.force_login(csr)

        response = client.get(f"/console/accounts/{late_payer.number}/")

        html = response.content.decode()
        assert response.status_code == 200
        assert 'data-balance="15000"' in html
        assert '<strong data-field="past_due" class="bad">$100.00</strong>' in html
        assert '<strong data-field="current">$50.00</strong>' in html
        assert '<tr data-bucket="current">' in html
        assert '<tr data-bucket="31_60">' in html
        assert "The ledger arrives with the books" not in html

    def test_shows_a_credit_balance_as_credit(self, client, csr, paid_ahead):
        client.force_login(csr)

        html = client.get(f"/console/accounts/{paid_ahead.number}/").content.decode()

        assert "Credit $12.00" in html
        assert 'data-field="past_due"' not in html

    def test_loads_the_financial_history_with_htmx(self, client, csr, late_payer):
        client.force_login(csr)

        html = client.get(f"/console/accounts/{late_payer.number}/").content.decode()

        assert f'hx-get="/console/accounts/{late_payer.number}/history/"' in html


class TestFinancialHistory:
    def test_lists_every_transaction_with_a_running_balance(self, client, csr, paid_ahead):
        bill(paid_ahead, 30_00, on=date(2026, 3, 1), due=date(2026, 3, 22))
        client.force_login(csr)

        response = client.get(f"/console/accounts/{paid_ahead.number}/history/")

        html = response.content.decode()
        assert response.status_code == 200
        assert "<html" in html  # a page of its own
        running = [
            cell.split(">")[1].split("<")[0] for cell in html.split('data-field="running"')[1:]
        ]
        assert running == ["$80.00", "-$12.00", "$18.00"]

    def test_answers_htmx_with_the_section_only(self, client, csr, paid_ahead):
        client.force_login(csr)

        response = client.get(
            f"/console/accounts/{paid_ahead.number}/history/", HTTP_HX_REQUEST="true"
        )

        html = response.content.decode()
        assert response.status_code == 200
        assert "<html" not in html
        assert 'id="history"' in html

    def test_filters_by_kind_but_keeps_the_running_balance(self, client, csr, paid_ahead):
        bill(paid_ahead, 30_00, on=date(2026, 3, 1), due=date(2026, 3, 22))
        client.force_login(csr)

        html = client.get(
            f"/console/accounts/{paid_ahead.number}/history/?kind=bill"
        ).content.decode()

        assert html.count('data-kind="bill"') == 2
        assert 'data-kind="payment"' not in html
        assert '<td class="num" data-field="running">$18.00</td>' in html

    def test_filters_by_dates_with_an_opening_balance(self, client, csr, paid_ahead):
        bill(paid_ahead, 30_00, on=date(2026, 3, 1), due=date(2026, 3, 22))
        client.force_login(csr)

        html = client.get(
            f"/console/accounts/{paid_ahead.number}/history/?start=2026-02-05&end=2026-02-28"
        ).content.decode()

        assert 'data-field="opening">$80.00<' in html
        assert html.count("data-entry=") == 1
        assert 'data-field="closing">-$12.00<' in html

    def test_refuses_an_end_before_the_start(self, client, csr, paid_ahead):
        client.force_login(csr)

        response = client.get(
            f"/console/accounts/{paid_ahead.number}/history/?start=2026-02-05&end=2026-01-01"
        )

        assert response.status_code == 422
        assert "The end date is before the start date." in response.content.decode()

    def test_marks_reversed_entries(self, client, csr, paid_ahead):
        payment = paid_ahead.journal_entries.get(kind="payment")
        ledger.reverse_entry(
            entry=payment, effective_date=date(2026, 2, 12), actor=SYSTEM, at=NOW, reason="NSF"
        )
        client.force_login(csr)

        html = client.get(f"/console/accounts/{paid_ahead.number}/history/").content.decode()

        assert f'<tr data-entry="{payment.pk}" data-kind="payment" class="reversed">' in html
        assert f'reverses <a href="/console/books/entries/{payment.pk}/">' in html

    def test_is_404_for_an_unknown_account(self, client, csr):
        client.force_login(csr)

        assert client.get("/console/accounts/1234567890/history/").status_code == 404

    def test_offers_the_statement_for_the_chosen_dates(self, client, csr, paid_ahead):
        client.force_login(csr)

        html = client.get(
            f"/console/accounts/{paid_ahead.number}/history/?start=2026-02-05"
        ).content.decode()

        assert f"/console/accounts/{paid_ahead.number}/statement.csv?start=2026-02-05" in html
        assert f"/console/accounts/{paid_ahead.number}/statement.pdf?start=2026-02-05" in html


class TestStatementDownloads:
    def test_downloads_the_statement_as_csv(self, client, csr, paid_ahead):
        client.force_login(csr)

        response = client.get(f"/console/accounts/{paid_ahead.number}/statement.csv")

        body = response.content.decode()
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv"
        assert f"statement-{paid_ahead.number}-20260303.csv" in response["Content-Disposition"]
        assert "Payment" in body
        assert "-12.00" in body

    def test_downloads_the_statement_as_pdf(self, client, csr, paid_ahead):
        client.force_login(csr)

        response = client.get(f"/console/accounts/{paid_ahead.number}/statement.pdf")

        assert response.status_code == 200
        assert response.content.startswith(b"%PDF")


class TestAgingReport:
    def test_totals_equal_the_sum_of_account_agings(self, db, late_payer, paid_ahead):
        third = make_account(opened=date(2025, 1, 1))
        bill(third, 40_00, on=date(2025, 9, 1), due=date(2025, 9, 22))
        bill(third, 60_00, on=date(2025, 11, 15), due=date(2025, 12, 6))
        pay(third, 25_00, on=date(2025, 12, 1))
        accounts = [late_payer, paid_ahead, third]

        report = build_aging_report(as_of=AS_OF)

        agings = [ledger_queries.get_aging(account_id=a.pk, as_of=AS_OF) for a in accounts]
        for key in BUCKETS:
            assert report.buckets[key] == sum(a.buckets[key] for a in agings)
        assert report.past_due_cents == sum(a.past_due_cents for a in agings) == 175_00
        assert report.credit_cents == 12_00
        assert report.credit_accounts == 1
        assert report.balance_cents == sum(a.balance_cents for a in agings)
        assert [row["number"] for row in report.top_past_due] == [late_payer.number, third.number]

    def test_agrees_with_per_account_aging_at_an_earlier_date(self, db, late_payer):
        as_of = date(2026, 2, 1)

        report = build_aging_report(as_of=as_of)

        aging = ledger_queries.get_aging(account_id=late_payer.pk, as_of=as_of)
        assert report.buckets == aging.buckets
        assert report.past_due_cents == aging.past_due_cents == 100_00

    def test_page_needs_the_books_permission(self, client, csr, late_payer):
        client.force_login(csr)

        assert client.get("/console/books/aging/").status_code == 403

    def test_page_shows_totals_and_the_worst_accounts(self, client, analyst, late_payer):
        client.force_login(analyst)

        response = client.get("/console/books/aging/?as_of=2026-03-03")

        html = response.content.decode()
        assert response.status_code == 200
        assert 'data-field="past_due">$100.00<' in html
        assert late_payer.number in html.replace("-", "")

    def test_page_refuses_a_bad_date(self, client, analyst):
        client.force_login(analyst)

        assert client.get("/console/books/aging/?as_of=someday").status_code == 422


class TestTrialBalance:
    def test_shows_balanced_books_and_the_receivables_reconciliation(
        self, client, analyst, late_payer, paid_ahead
    ):
        client.force_login(analyst)

        response = client.get("/console/books/trial-balance/")

        html = response.content.decode()
        assert response.status_code == 200
        assert '<span class="ok" data-field="balanced">Balanced</span>' in html
        assert '<dd data-field="ar_control">$138.00</dd>' in html
        assert '<dd data-field="ar_subledger">$138.00</dd>' in html
        assert 'data-field="debits">$230.00<' in html
        assert 'data-field="credits">$230.00<' in html

    def test_needs_the_books_permission(self, client, csr):
        client.force_login(csr)

        assert client.get("/console/books/trial-balance/").status_code == 403


class TestGLSummary:
    def test_totals_debits_and_credits_per_gl_account(self, client, analyst, late_payer):
        client.force_login(analyst)

        html = client.get(
            "/console/books/gl-summary/?start=2026-01-01&end=2026-02-28"
        ).content.decode()

        assert 'data-field="debits">$150.00<' in html
        assert 'data-field="credits">$150.00<' in html

    def test_downloads_a_csv_for_the_city_gl(self, client, analyst, late_payer):
        client.force_login(analyst)

        response = client.get("/console/books/gl-summary.csv?start=2026-01-01&end=2026-02-28")

        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert response["Content-Type"] == "text/csv"
        assert rows[0] == ["date", "gl_code", "gl_name", "debits", "credits", "net"]
        assert [
            "2026-01-05",
            "1100",
            "Customer accounts receivable (control)",
            "100.00",
            "0.00",
            "100.00",
        ] in rows
        assert len(rows) == 5

    def test_refuses_an_end_before_the_start(self, client, analyst):
        client.force_login(analyst)

        response = client.get("/console/books/gl-summary/?start=2026-02-01&end=2026-01-01")

        assert response.status_code == 422


class TestEntryDetail:
    def test_shows_lines_who_and_the_reversal(self, client, csr, paid_ahead):
        payment = paid_ahead.journal_entries.get(kind="payment")
        reversal = ledger.reverse_entry(
            entry=payment, effective_date=date(2026, 2, 12), actor=SYSTEM, at=NOW, reason="NSF"
        )
        client.force_login(csr)

        html = client.get(f"/console/books/entries/{payment.pk}/").content.decode()

        assert "1010" in html
        assert "1100" in html
        assert f'href="/console/books/entries/{reversal.pk}/">JE {reversal.pk}</a>' in html
        assert "tests" in html  # the actor
        assert paid_ahead.formatted_number in html

    def test_is_404_for_an_unknown_entry(self, client, csr):
        client.force_login(csr)

        assert client.get("/console/books/entries/999999/").status_code == 404
