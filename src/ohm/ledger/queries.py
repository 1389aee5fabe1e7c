"""Reads of the books: balances, aging, statements, trial balance, GL summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import Sum

from ohm.ledger.aging import Aging, ReceivableLine, age
from ohm.ledger.models import GLAccount, JournalEntry, JournalLine
from ohm.ledger.operations import RECEIVABLES


def receivables_account() -> GLAccount:
    return GLAccount.objects.get(role=RECEIVABLES)


# The receivables GL account by a subquery rather than a join on its role, so the planner
# reads only the (account, GL account, date) index range of one customer.
_RECEIVABLES_ID = f"(SELECT id FROM {GLAccount._meta.db_table} WHERE role = %s)"
_LINES = JournalLine._meta.db_table


def get_balance_cents(*, account_id: int, as_of: date | None = None) -> int:
    """What the customer owes (negative: a credit), from receivable lines up to ``as_of``."""
    sql = (
        f"SELECT COALESCE(SUM(amount_cents), 0) FROM {_LINES} "
        f"WHERE account_id = %s AND gl_account_id = {_RECEIVABLES_ID}"
    )
    params: list = [account_id, RECEIVABLES]
    if as_of is not None:
        sql += " AND effective_date <= %s"
        params.append(connection.ops.adapt_datefield_value(as_of))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def get_aging(*, account_id: int, as_of: date) -> Aging:
    # Raw rows, and the credits summed in SQL: ``age`` only ever uses their total, and the
    # ORM's per-row conversion was most of the cost for a long history.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, amount_cents, effective_date, due_date, category FROM {_LINES} "
            f"WHERE account_id = %s AND gl_account_id = {_RECEIVABLES_ID} "
            "AND effective_date <= %s AND amount_cents > 0",
            [account_id, RECEIVABLES, connection.ops.adapt_datefield_value(as_of)],
        )
        charges = cursor.fetchall()
        cursor.execute(
            f"SELECT COALESCE(SUM(amount_cents), 0) FROM {_LINES} "
            f"WHERE account_id = %s AND gl_account_id = {_RECEIVABLES_ID} "
            "AND effective_date <= %s AND amount_cents < 0",
            [account_id, RECEIVABLES, connection.ops.adapt_datefield_value(as_of)],
        )
        credit_cents = int(cursor.fetchone()[0])
    parse = date.fromisoformat if charges and isinstance(charges[0][2], str) else None
    lines = [
        ReceivableLine(
            line_id,
            cents,
            parse(on) if parse else on,
            (parse(due) if parse else due) if due else None,
            category,
        )
        for line_id, cents, on, due, category in charges
    ]
    if credit_cents:
        lines.append(ReceivableLine(0, credit_cents, as_of, None, "credit"))
    return age(lines, as_of=as_of)


@dataclass(frozen=True)
class StatementRow:
    entry_id: int
    effective_date: date
    kind: str
    description: str
    amount_cents: int
    running_balance_cents: int
    reversed: bool
    reverses_entry_id: int | None


def list_statement(
    *,
    account_id: int,
    start_date: date | None = None,
    end_date: date | None = None,
    kinds: list[str] | None = None,
) -> tuple[int, list[StatementRow]]:
    """(opening balance, rows) of the customer's receivable history with a running balance.

    The running balance counts every transaction; ``kinds`` only hides rows from the list.
    """
    lines = (
        JournalLine.objects.filter(account_id=account_id, gl_account__role=RECEIVABLES)
        .values(
            "entry_id", "effective_date", "entry__kind", "entry__description", "entry__reverses_id"
        )
        .annotate(amount=Sum("amount_cents"))
        .order_by("effective_date", "entry_id")
    )
    if end_date is not None:
        lines = lines.filter(effective_date__lte=end_date)
    reversed_ids = set(
        JournalEntry.objects.filter(
            lines__account_id=account_id, reversed_by__isnull=False
        ).values_list("id", flat=True)
    )
    opening = 0
    balance = 0
    rows: list[StatementRow] = []
    for line in lines:
        balance += line["amount"]
        if start_date is not None and line["effective_date"] < start_date:
            opening = balance
            continue
        if kinds and line["entry__kind"] not in kinds:
            continue
        rows.append(
            StatementRow(
                entry_id=line["entry_id"],
                effective_date=line["effective_date"],
                kind=line["entry__kind"],
                description=line["entry__description"],
                amount_cents=line["amount"],
                running_balance_cents=balance,
                reversed=line["entry_id"] in reversed_ids,
                reverses_entry_id=line["entry__reverses_id"],
            )
        )
    return opening, rows


def get_trial_balance(*, as_of: date | None = None) -> dict[str, int]:
    """Balance of every GL account (code → cents, debit positive); sums to zero."""
    lines = JournalLine.objects.all()
    if as_of is not None:
        lines = lines.filter(effective_date__lte=as_of)
    totals = dict(
        lines.values_list("gl_account__code")
        .annotate(total=Sum("amount_cents"))
        .values_list("gl_account__code", "total")
    )
    return {gl.code: int(totals.get(gl.code, 0) or 0) for gl in GLAccount.objects.order_by("code")}


def get_gl_summary(*, start_date: date, end_date: date) -> list[dict]:
    """Debits and credits per GL account per day in ``[start_date, end_date]``, for the city GL."""
    rows = (
        JournalLine.objects.filter(effective_date__gte=start_date, effective_date__lte=end_date)
        .values("effective_date", "gl_account__code", "gl_account__name")
        .order_by("effective_date", "gl_account__code")
    )
    summary: dict[tuple[date, str], dict] = {}
    for row in rows.annotate(total=Sum("amount_cents")):
        summary[(row["effective_date"], row["gl_account__code"])] = {
            "date": row["effective_date"],
            "code": row["gl_account__code"],
            "name": row["gl_account__name"],
            "net_cents": int(row["total"]),
        }
    debit_rows = rows.filter(amount_cents__gt=0).annotate(total=Sum("amount_cents"))
    credit_rows = rows.filter(amount_cents__lt=0).annotate(total=Sum("amount_cents"))
    for entry in summary.values():
        entry["debit_cents"] = 0
        entry["credit_cents"] = 0
    for row in debit_rows:
        summary[(row["effective_date"], row["gl_account__code"])]["debit_cents"] = int(row["total"])
    for row in credit_rows:
        summary[(row["effective_date"], row["gl_account__code"])]["credit_cents"] = int(
            -row["total"]
        )
    return list(summary.values())


@dataclass(frozen=True)
class LedgerCheck:
    balanced: bool
    trial_balance: dict[str, int]
    trial_balance_total_cents: int
    ar_control_cents: int
    ar_subledger_total_cents: int
    unbalanced_entries: list[int]
    receivable_lines_without_account: int = 0


def check_books(*, as_of: date | None = None) -> LedgerCheck:
    """The invariants: every entry balances, the trial balance is zero, and the receivables
    control account equals the sum of customer balances."""
    lines = JournalLine.objects.all()
    if as_of is not None:
        lines = lines.filter(effective_date__lte=as_of)
    unbalanced = list(
        lines.values("entry_id")
        .annotate(total=Sum("amount_cents"))
        .exclude(total=0)
        .values_list("entry_id", flat=True)[:100]
    )
    trial = get_trial_balance(as_of=as_of)
    ar = lines.filter(gl_account__role=RECEIVABLES)
    ar_control = int(ar.aggregate(total=Sum("amount_cents"))["total"] or 0)
    per_account = (
        ar.filter(account__isnull=False)
        .values("account_id")
        .annotate(total=Sum("amount_cents"))
        .values_list("total", flat=True)
    )
    subledger = int(sum(per_account))
    missing_account = ar.filter(account__isnull=True).count()
    total = sum(trial.values())
    return LedgerCheck(
        balanced=not unbalanced and total == 0 and ar_control == subledger and not missing_account,
        trial_balance=trial,
        trial_balance_total_cents=total,
        ar_control_cents=ar_control,
        ar_subledger_total_cents=subledger,
        unbalanced_entries=unbalanced,
        receivable_lines_without_account=missing_account,
    )
