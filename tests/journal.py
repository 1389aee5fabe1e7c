"""Reading the journal's lines in tests (the one-row layout keeps them in three places)."""

from __future__ import annotations

from django.db.models import Sum

from ohm.ledger.models import GLAccount, GLTotal, JournalEntry


def lines_of(entry: JournalEntry) -> list[tuple[str, int, int | None]]:
    """(GL code, cents, customer account id) of each line, debits first."""
    codes = dict(GLAccount.objects.values_list("pk", "code"))
    return sorted(
        (
            (codes[line.gl_account_id], line.amount_cents, line.account_id)
            for line in entry.line_list()
        ),
        key=lambda row: (-row[1], row[0]),
    )


def roles_of(entry: JournalEntry) -> list[str]:
    roles = dict(GLAccount.objects.values_list("pk", "role"))
    return sorted(roles[line.gl_account_id] for line in entry.line_list())


def receivable_line(entry: JournalEntry):
    """The entry's (first) receivable line."""
    return next(line for line in entry.line_list() if line.receivable)


def line_count() -> int:
    """Journal lines posted so far (every posting's GL totals count their lines)."""
    return int(GLTotal.objects.aggregate(lines=Sum("lines"))["lines"] or 0)
