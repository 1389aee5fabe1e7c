import csv
import io
from datetime import UTC, date, datetime

import pytest

from ohm.ledger import operations, statements
from ohm.ledger.operations import EntrySpec, LineSpec
from tests.factories import SYSTEM, make_account

AT = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)


def post(account, key, cents, on, kind="bill", description="Electric bill"):
    line_kwargs = {"due_date": on} if cents > 0 else {"category": "credit"}
    return operations.post_entry(
        EntrySpec(
            kind,
            on,
            key,
            description,
            [
                LineSpec("receivables", cents, account_id=account.pk, **line_kwargs),
                LineSpec("revenue_energy" if kind == "bill" else "cash_cashier", -cents),
            ],
        ),
        actor=SYSTEM,
        at=AT,
    )


def header(**overrides):
    values = {
        "utility_name": "Port Marisol Municipal Power",
        "account_number": "1000-00001-7",
        "customer_name": "Rosa Díaz",
        "mailing_lines": ["12 Lagoon Way", "Port Marisol, CA 94000"],
        "as_of": date(2026, 3, 31),
    }
    return statements.StatementHeader(**(values | overrides))


@pytest.fixture
def history():
    account = make_account()
    post(account, "jan", 10_000, date(2026, 1, 1))
    post(account, "pay-jan", -10_000, date(2026, 1, 20), kind="payment", description="Payment")
    post(account, "feb", 8_000, date(2026, 2, 1))
    post(account, "mar", 9_050, date(2026, 3, 1))
    post(account, "pay-mar", -3_000, date(2026, 3, 10), kind="payment", description="Payment")
    return account


@pytest.mark.django_db
class TestBuildStatement:
    def test_opens_with_the_balance_before_the_start_and_closes_with_the_last_running_balance(
        self, history
    ):
        statement = statements.build_statement(
            account_id=history.pk, header=header(), start_date=date(2026, 2, 1)
        )

        assert statement.opening_balance_cents == 0
        assert [r.running_balance_cents for r in statement.rows] == [8_000, 17_050, 14_050]
        assert statement.closing_balance_cents == 14_050

    def test_a_period_without_transactions_closes_at_its_opening_balance(self, history):
        statement = statements.build_statement(
            account_id=history.pk,
            header=header(),
            start_date=date(2026, 2, 2),
            end_date=date(2026, 2, 28),
        )

        assert statement.rows == []
        assert statement.closing_balance_cents == statement.opening_balance_cents == 8_000


@pytest.mark.django_db
class TestStatementCSV:
    def test_lists_every_transaction_between_opening_and_closing_rows(self, history):
        statement = statements.build_statement(account_id=history.pk, header=header())

        rows = list(csv.reader(io.StringIO(statements.statement_csv(statement))))

        table = rows[
            rows.index(["date", "entry", "kind", "description", "amount", "balance"]) + 1 :
        ]
        assert [(r[2], r[4], r[5]) for r in table] == [
            ("opening", "", "0.00"),
            ("bill", "100.00", "100.00"),
            ("payment", "-100.00", "0.00"),
            ("bill", "80.00", "80.00"),
            ("bill", "90.50", "170.50"),
            ("payment", "-30.00", "140.50"),
            ("closing", "", "140.50"),
        ]
        assert ["Mailing address", "12 Lagoon Way / Port Marisol, CA 94000"] in rows
        assert ["As of", "2026-03-31"] in rows

    def test_text_a_spreadsheet_would_run_as_a_formula_is_quoted(self):
        account = make_account()
        post(account, "evil", 100, date(2026, 3, 1), description='=HYPERLINK("x")')
        statement = statements.build_statement(
            account_id=account.pk, header=header(customer_name="@SUM(A1)")
        )

        text = statements.statement_csv(statement)

        assert "'=HYPERLINK" in text
        assert "'@SUM(A1)" in text


@pytest.mark.django_db
class TestStatementPDF:
    def test_renders_a_pdf_from_data_with_the_running_balance(self, history):
        statement = statements.build_statement(account_id=history.pk, header=header())

        pdf = statements.statement_pdf(statement)
        data = statements.statement_data(statement)

        assert pdf.startswith(b"%PDF")
        assert [row["balance"] for row in data["rows"]] == [
            "$100.00",
            "$0.00",
            "$80.00",
            "$170.50",
            "$140.50",
        ]
        assert data["closing_balance"] == "$140.50"

    def test_customer_text_is_never_read_as_typst_markup(self, history):
        hostile = '#panic("boom") *bold* $x$ ] ) } // @label'
        statement = statements.build_statement(
            account_id=history.pk,
            header=header(customer_name=hostile, mailing_lines=[hostile, '"quoted" \\ back']),
        )

        pdf = statements.statement_pdf(statement)

        assert pdf.startswith(b"%PDF")


@pytest.mark.django_db
class TestGLSummaryCSV:
    def test_debits_credits_and_net_in_dollars(self, history):
        from ohm.ledger.queries import get_gl_summary

        rows = get_gl_summary(start_date=date(2026, 1, 1), end_date=date(2026, 3, 31))

        parsed = list(csv.DictReader(io.StringIO(statements.gl_summary_csv(rows))))
        receivable = [r for r in parsed if r["gl_code"] == "1100"]
        assert sum(float(r["debits"]) for r in receivable) == pytest.approx(270.50)
        assert sum(float(r["credits"]) for r in receivable) == pytest.approx(130.00)
        assert all(
            round(float(r["debits"]) - float(r["credits"]), 2) == float(r["net"]) for r in parsed
        )
