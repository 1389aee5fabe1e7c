"""``ohm ledger check|close-period|reopen-period|gl-summary|statement``: the books from the CLI.

    ohm ledger check [--as-of DATE] [--json]
    ohm ledger close-period --year 2026 --month 2
    ohm ledger reopen-period --year 2026 --month 2 --reason "late lockbox file"
    ohm ledger gl-summary --start 2026-03-01 --end 2026-03-31 [--out gl.csv]
    ohm ledger statement --account 1000000017 [--start D] [--end D] --format csv|pdf --out FILE

``check`` exits with status 1 when the books do not balance: an entry whose lines do not
sum to zero, a nonzero trial balance, a receivables control account that differs from the
sum of customer balances, or a receivable line without a customer account.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ohm.core import clock
from ohm.core.audit import SystemActor
from ohm.core.localtime import localdate
from ohm.core.money import to_dollars
from ohm.customers import queries as customer_queries
from ohm.ledger import operations, queries, statements
from ohm.ledger.models import GLAccount


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"“{value}” is not a date (YYYY-MM-DD).") from exc


def _refused(error: ValidationError) -> CommandError:
    if hasattr(error, "message_dict"):
        text = "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items()
        )
    else:
        text = " ".join(error.messages)
    return CommandError(text)


def _actor() -> SystemActor:
    try:
        user = getpass.getuser()
    except OSError:
        user = "unknown"
    return SystemActor(f"cli:{user}")


def _write(data: bytes | str, out: str | None, stdout) -> None:
    if out is None or out == "-":
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            stdout.write(data, ending="")
        return
    path = Path(out)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")


class Command(BaseCommand):
    help = "The books: check, close or reopen a period, GL summary CSV, statement of account."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)

        check = sub.add_parser("check", help="Trial balance and receivables reconciliation.")
        check.add_argument("--as-of", type=_date, help="Only entries effective on or before.")
        check.add_argument("--json", action="store_true", help="Print one JSON object.")

        close = sub.add_parser("close-period", help="Close a month to posting.")
        close.add_argument("--year", type=int, required=True)
        close.add_argument("--month", type=int, required=True)

        reopen = sub.add_parser("reopen-period", help="Reopen a closed month.")
        reopen.add_argument("--year", type=int, required=True)
        reopen.add_argument("--month", type=int, required=True)
        reopen.add_argument("--reason", required=True)

        gl = sub.add_parser("gl-summary", help="Daily debits and credits per GL account (CSV).")
        gl.add_argument("--start", type=_date, required=True)
        gl.add_argument("--end", type=_date, required=True)
        gl.add_argument("--out", help="File to write (default: standard output).")

        statement = sub.add_parser("statement", help="Statement of account as CSV or PDF.")
        statement.add_argument("--account", required=True, help="Account number.")
        statement.add_argument("--start", type=_date)
        statement.add_argument("--end", type=_date)
        statement.add_argument("--format", choices=["csv", "pdf"], default="csv")
        statement.add_argument("--out", help="File to write (required for PDF).")

    def handle(self, *args, **options):
        action = options["action"].replace("-", "_")
        try:
            return getattr(self, f"do_{action}")(options)
        except ValidationError as error:
            raise _refused(error) from error

    def do_check(self, options) -> None:
        as_of = options["as_of"]
        books = queries.check_books(as_of=as_of)
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "balanced": books.balanced,
                        "trial_balance": {
                            code: str(to_dollars(cents))
                            for code, cents in books.trial_balance.items()
                        },
                        "ar_control": str(to_dollars(books.ar_control_cents)),
                        "ar_subledger_total": str(to_dollars(books.ar_subledger_total_cents)),
                    }
                )
            )
        else:
            self._print_check(books, as_of)
        if not books.balanced:
            raise CommandError("The books do not balance.", returncode=1)

    def _print_check(self, books, as_of: date | None) -> None:
        names = dict(GLAccount.objects.values_list("code", "name"))
        self.stdout.write(
            f"Trial balance {'as of ' + as_of.isoformat() if as_of else 'of every entry'} "
            "(debits positive, credits negative):"
        )
        for code, cents in books.trial_balance.items():
            self.stdout.write(f"  {code:<8} {names.get(code, ''):<44} {to_dollars(cents):>16}")
        self.stdout.write(
            f"  {'':<8} {'Total':<44} {to_dollars(books.trial_balance_total_cents):>16}"
        )
        self.stdout.write("Receivables:")
        self.stdout.write(f"  control account             {to_dollars(books.ar_control_cents):>16}")
        self.stdout.write(
            f"  sum of customer balances    {to_dollars(books.ar_subledger_total_cents):>16}"
        )
        problems = []
        if books.unbalanced_entries:
            shown = ", ".join(str(pk) for pk in books.unbalanced_entries[:10])
            problems.append(f"entries whose lines do not sum to zero: {shown}")
        if books.trial_balance_total_cents:
            problems.append("the trial balance is not zero")
        if books.ar_control_cents != books.ar_subledger_total_cents:
            problems.append("the receivables control account differs from the customer balances")
        if books.receivable_lines_without_account:
            problems.append(
                f"{books.receivable_lines_without_account} receivable lines without a customer account"
            )
        if problems:
            for problem in problems:
                self.stdout.write(self.style.ERROR(f"IMBALANCE: {problem}"))
        else:
            self.stdout.write(self.style.SUCCESS("The books balance."))

    def do_close_period(self, options) -> None:
        period = operations.close_period(
            year=options["year"], month=options["month"], actor=_actor(), at=clock.now()
        )
        self.stdout.write(f"Closed {period.year}-{period.month:02d}: nothing more posts into it.")

    def do_reopen_period(self, options) -> None:
        period = operations.reopen_period(
            year=options["year"],
            month=options["month"],
            reason=options["reason"],
            actor=_actor(),
            at=clock.now(),
        )
        self.stdout.write(f"Reopened {period.year}-{period.month:02d}.")

    def do_gl_summary(self, options) -> None:
        if options["end"] < options["start"]:
            raise CommandError("--end is before --start.")
        rows = queries.get_gl_summary(start_date=options["start"], end_date=options["end"])
        _write(statements.gl_summary_csv(rows), options["out"], self.stdout)
        if options["out"]:
            self.stderr.write(f"{len(rows)} rows written to {options['out']}.")

    def do_statement(self, options) -> None:
        if options["format"] == "pdf" and not options["out"]:
            raise CommandError("A PDF needs --out FILE.")
        try:
            account = customer_queries.get_account(number=options["account"])
        except customer_queries.AccountNotFound as exc:
            raise CommandError(f"No account {options['account']}.") from exc
        person = customer_queries.get_main_person(account=account)
        header = statements.StatementHeader(
            utility_name=settings.UTILITY_NAME,
            account_number=account.formatted_number,
            customer_name=person.display_name if person else "",
            mailing_lines=account.mailing_lines,
            as_of=localdate(clock.now()),
        )
        statement = statements.build_statement(
            account_id=account.pk,
            header=header,
            start_date=options["start"],
            end_date=options["end"],
        )
        if options["format"] == "pdf":
            data: bytes | str = statements.statement_pdf(statement)
        else:
            data = statements.statement_csv(statement)
        _write(data, options["out"], self.stdout)
        if options["out"]:
            self.stderr.write(
                f"Statement of {account.formatted_number}: {len(statement.rows)} transactions, "
                f"closing balance {to_dollars(statement.closing_balance_cents)}, written to {options['out']}."
            )
