import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ohm.core.identifiers import account_number_for
from ohm.ledger import operations
from ohm.ledger.models import AccountingPeriod
from ohm.ledger.operations import EntrySpec, LineSpec
from tests.factories import SYSTEM, make_account

AT = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)


def post(account, key, cents, *, on=date(2026, 3, 1), kind="bill"):
    return operations.post_entry(
        EntrySpec(
            kind,
            on,
            key,
            f"{kind} {key}",
            [
                LineSpec("receivables", cents, account_id=account.pk, due_date=date(2026, 3, 22)),
                LineSpec("revenue_energy", -cents),
            ],
        ),
        actor=SYSTEM,
        at=AT,
    )


def run(*args) -> str:
    out = io.StringIO()
    call_command("ledger", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def insert_unbalanced_entry(account) -> None:
    """The triggers refuse UPDATE and DELETE, not INSERT: raw SQL can still write a bad entry."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_journalentry (id, kind, effective_date, posted_at, description, "
            "reason_code, idempotency_key, actor_label, source, account_id, receivable_cents, "
            "category, receivable_memo, other_lines) "
            "VALUES (%s, 'bill', %s, %s, 'raw', '', 'raw:1', 'raw', '', %s, 1234, 'charge', '', '[]')",
            [900_001, date(2026, 3, 1), AT, account.pk],
        )


@pytest.mark.django_db
class TestLedgerCheck:
    def test_prints_one_json_object_for_balanced_books(self):
        account = make_account()
        post(account, "bill:1", 12_345)
        post(account, "bill:2", 7)

        report = json.loads(run("check", "--json"))

        assert report["balanced"] is True
        assert report["trial_balance"]["1100"] == "123.52"
        assert report["trial_balance"]["4100"] == "-123.52"
        assert report["trial_balance"]["2200"] == "0.00"
        assert report["ar_control"] == "123.52"
        assert report["ar_subledger_total"] == "123.52"
        assert set(report) == {"balanced", "trial_balance", "ar_control", "ar_subledger_total"}

    def test_counts_only_entries_up_to_the_as_of_date(self):
        account = make_account()
        post(account, "feb", 1_000, on=date(2026, 2, 10))
        post(account, "mar", 2_000, on=date(2026, 3, 10))

        report = json.loads(run("check", "--json", "--as-of", "2026-02-28"))

        assert report["ar_control"] == "10.00"

    def test_says_the_books_balance_in_text(self):
        post(make_account(), "bill:1", 500)

        text = run("check")

        assert "The books balance." in text
        assert "Customer accounts receivable (control)" in text

    def test_exits_with_status_1_on_an_unbalanced_entry(self):
        account = make_account()
        post(account, "bill:1", 500)
        insert_unbalanced_entry(account)
        out = io.StringIO()

        with pytest.raises(CommandError) as failed:
            call_command("ledger", "check", "--json", stdout=out)

        assert failed.value.returncode == 1
        assert json.loads(out.getvalue())["balanced"] is False


@pytest.mark.django_db
class TestPeriodCommands:
    def test_close_then_reopen_a_month(self):
        run("close-period", "--year", "2026", "--month", "2")

        closed = AccountingPeriod.objects.get(year=2026, month=2).status
        run("reopen-period", "--year", "2026", "--month", "2", "--reason", "late lockbox file")

        assert closed == "closed"
        assert AccountingPeriod.objects.get(year=2026, month=2).status == "open"

    def test_refuses_to_close_a_closed_month_with_the_reason(self):
        run("close-period", "--year", "2026", "--month", "2")

        with pytest.raises(CommandError, match="already closed"):
            run("close-period", "--year", "2026", "--month", "2")

    def test_refuses_to_reopen_an_open_month(self):
        with pytest.raises(CommandError, match="is not closed"):
            run("reopen-period", "--year", "2026", "--month", "4", "--reason", "x")


@pytest.mark.django_db
class TestGLSummaryCommand:
    def test_writes_daily_debits_and_credits_per_gl_account(self, tmp_path):
        account = make_account()
        post(account, "a", 1_000, on=date(2026, 3, 1))
        post(account, "b", 250, on=date(2026, 3, 1))
        post(account, "c", 99, on=date(2026, 3, 2))
        post(account, "outside", 5, on=date(2026, 4, 1))
        out = tmp_path / "gl.csv"

        run("gl-summary", "--start", "2026-03-01", "--end", "2026-03-31", "--out", str(out))

        rows = list(csv.DictReader(out.open()))
        assert [(r["date"], r["gl_code"], r["debits"], r["credits"], r["net"]) for r in rows] == [
            ("2026-03-01", "1100", "12.50", "0.00", "12.50"),
            ("2026-03-01", "4100", "0.00", "12.50", "-12.50"),
            ("2026-03-02", "1100", "0.99", "0.00", "0.99"),
            ("2026-03-02", "4100", "0.00", "0.99", "-0.99"),
        ]
        assert rows[0]["gl_name"] == "Customer accounts receivable (control)"


@pytest.mark.django_db
class TestStatementCommand:
    def test_writes_a_csv_with_the_running_balance(self, tmp_path):
        account = make_account()
        post(account, "bill:1", 10_000, on=date(2026, 3, 1))
        post(account, "bill:2", -2_500, on=date(2026, 3, 2), kind="adjustment")
        out = tmp_path / "statement.csv"

        run("statement", "--account", account.number, "--format", "csv", "--out", str(out))

        text = out.read_text()
        assert f"Account number,{account.formatted_number}" in text
        assert "2026-03-02" in text
        assert text.splitlines()[-2].endswith(",-25.00,75.00")

    def test_writes_a_pdf(self, tmp_path):
        account = make_account()
        post(account, "bill:1", 10_000)
        out = tmp_path / "statement.pdf"

        run("statement", "--account", account.number, "--format", "pdf", "--out", str(out))

        assert out.read_bytes().startswith(b"%PDF")

    def test_refuses_an_unknown_account(self):
        with pytest.raises(CommandError, match="No account"):
            run("statement", "--account", account_number_for(999_999_999), "--format", "csv")
