"""Reads of the books: balances, aging, statements, trial balance, GL summary."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from django.db import connection
from django.db.models import Sum

from ohm.ledger.aging import Aging, ReceivableLine, age
from ohm.ledger.models import (
    RECEIVABLES,
    Category,
    GLAccount,
    GLTotal,
    JournalEntry,
    Receivable,
    ReceivableExtra,
)


def receivables_account() -> GLAccount:
    return GLAccount.objects.get(role=RECEIVABLES)


# The customer subledger view (ADR 0005): one row per receivable line.
_RECEIVABLE = Receivable._meta.db_table


def get_balance_cents(*, account_id: int, as_of: date | None = None) -> int:
    """What the customer owes (negative: a credit), from receivable lines up to ``as_of``."""
    sql = f"SELECT COALESCE(SUM(amount_cents), 0) FROM {_RECEIVABLE} WHERE account_id = %s"
    params: list = [account_id]
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
            f"SELECT entry_id * 1000 + position, amount_cents, effective_date, due_date, category "
            f"FROM {_RECEIVABLE} WHERE account_id = %s AND effective_date <= %s AND amount_cents > 0",
            [account_id, connection.ops.adapt_datefield_value(as_of)],
        )
        charges = cursor.fetchall()
        cursor.execute(
            f"SELECT COALESCE(SUM(amount_cents), 0) FROM {_RECEIVABLE} "
            "WHERE account_id = %s AND effective_date <= %s AND amount_cents < 0",
            [account_id, connection.ops.adapt_datefield_value(as_of)],
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
        Receivable.objects.filter(account_id=account_id)
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
            reverses__in=Receivable.objects.filter(account_id=account_id).values("entry_id")
        ).values_list("reverses_id", flat=True)
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
    totals = GLTotal.objects.all()
    if as_of is not None:
        totals = totals.filter(effective_date__lte=as_of)
    net = dict(
        totals.values("gl_account_id")
        .annotate(net=Sum("debit_cents") - Sum("credit_cents"))
        .values_list("gl_account_id", "net")
    )
    return {gl.code: int(net.get(gl.pk, 0) or 0) for gl in GLAccount.objects.order_by("code")}


def get_gl_summary(*, start_date: date, end_date: date) -> list[dict]:
    """Debits and credits per GL account per day in ``[start_date, end_date]``, for the city GL."""
    rows = (
        GLTotal.objects.filter(effective_date__gte=start_date, effective_date__lte=end_date)
        .values("effective_date", "gl_account__code", "gl_account__name")
        .annotate(debit=Sum("debit_cents"), credit=Sum("credit_cents"))
        .order_by("effective_date", "gl_account__code")
    )
    return [
        {
            "date": row["effective_date"],
            "code": row["gl_account__code"],
            "name": row["gl_account__name"],
            "debit_cents": int(row["debit"]),
            "credit_cents": int(row["credit"]),
            "net_cents": int(row["debit"]) - int(row["credit"]),
        }
        for row in rows
    ]


@dataclass(frozen=True)
class LedgerCheck:
    balanced: bool
    trial_balance: dict[str, int]
    trial_balance_total_cents: int
    ar_control_cents: int
    ar_subledger_total_cents: int
    unbalanced_entries: list[int]
    receivable_lines_without_account: int = 0
    gl_total_mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)


def all_lines_sql(receivables_id: int) -> str:
    """Every journal line as (entry_id, effective_date, gl_account_id, amount_cents)."""
    if connection.vendor == "postgresql":
        others = (
            "SELECT e.id, e.effective_date, (j.value->>0)::bigint, (j.value->>1)::bigint "
            "FROM ledger_journalentry e CROSS JOIN LATERAL jsonb_array_elements(e.other_lines) j"
        )
    else:
        others = (
            "SELECT e.id, e.effective_date, json_extract(j.value, '$[0]'), "
            "json_extract(j.value, '$[1]') FROM ledger_journalentry e, json_each(e.other_lines) j"
        )
    return (
        f"SELECT entry_id, effective_date, {int(receivables_id)} AS gl_account_id, amount_cents "
        f"FROM {_RECEIVABLE} UNION ALL {others}"
    )


def check_books(*, as_of: date | None = None) -> LedgerCheck:
    """The invariants, recomputed from the journal's lines: every entry balances, the GL
    totals equal the sums of the lines, the trial balance is zero, and the receivables
    control account equals the sum of customer balances."""
    receivables = receivables_account()
    where, params = "", []
    if as_of is not None:
        where, params = "WHERE effective_date <= %s", [connection.ops.adapt_datefield_value(as_of)]
    lines = all_lines_sql(receivables.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT entry_id FROM ({lines}) l {where} GROUP BY entry_id "
            "HAVING SUM(amount_cents) <> 0 ORDER BY entry_id LIMIT 100",
            params,
        )
        unbalanced = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"SELECT gl_account_id, SUM(amount_cents) FROM ({lines}) l {where} "
            "GROUP BY gl_account_id",
            params,
        )
        from_lines = {int(gl_id): int(total) for gl_id, total in cursor.fetchall()}
        cursor.execute(
            "SELECT COUNT(*) FROM ledger_journalentry e, "
            + (
                "jsonb_array_elements(e.other_lines) j WHERE (j.value->>0)::bigint = %s"
                if connection.vendor == "postgresql"
                else "json_each(e.other_lines) j WHERE json_extract(j.value, '$[0]') = %s"
            )
            + (" AND e.effective_date <= %s" if as_of is not None else ""),
            [receivables.pk, *params],
        )
        outside_subledger = int(cursor.fetchone()[0])
    trial = get_trial_balance(as_of=as_of)
    codes = dict(GLAccount.objects.values_list("pk", "code"))
    mismatches = {
        codes[gl_id]: (from_lines.get(gl_id, 0), trial.get(codes[gl_id], 0))
        for gl_id in codes
        if from_lines.get(gl_id, 0) != trial.get(codes[gl_id], 0)
    }
    ar_control = trial.get(receivables.code, 0)
    receivable_rows = Receivable.objects.all()
    if as_of is not None:
        receivable_rows = receivable_rows.filter(effective_date__lte=as_of)
    subledger = int(receivable_rows.aggregate(total=Sum("amount_cents"))["total"] or 0)
    total = sum(trial.values())
    return LedgerCheck(
        balanced=not unbalanced
        and total == 0
        and ar_control == subledger
        and not outside_subledger
        and not mismatches,
        trial_balance=trial,
        trial_balance_total_cents=total,
        ar_control_cents=ar_control,
        ar_subledger_total_cents=subledger,
        unbalanced_entries=unbalanced,
        receivable_lines_without_account=outside_subledger,
        gl_total_mismatches=mismatches,
    )


@dataclass
class EntryLine:
    gl_account: GLAccount
    amount_cents: int
    account_id: int | None
    agreement_id: int | None
    due_date: date | None
    category: str
    memo: str

    @property
    def credit_cents(self) -> int:
        return -self.amount_cents

    @property
    def category_label(self) -> str:
        return str(Category(self.category).label) if self.category else ""


def list_entry_lines(entry: JournalEntry) -> list[EntryLine]:
    """An entry's lines with their GL accounts, debits first."""
    accounts = GLAccount.objects.in_bulk()
    lines = [
        EntryLine(
            accounts[line.gl_account_id],
            line.amount_cents,
            line.account_id,
            line.agreement_id,
            line.due_date,
            line.category,
            line.memo,
        )
        for line in entry.line_list()
    ]
    return sorted(lines, key=lambda line: -line.amount_cents)


def entry_touches_account(entry: JournalEntry, *, account_id: int) -> bool:
    """Whether one of the entry's receivable lines is the customer's."""
    return Receivable.objects.filter(entry=entry, account_id=account_id).exists()


# Up to this many distinct windows, the SQLite query lists each window's accounts apart
# (a plain JSON list of ids each), rather than every account with its window.
WINDOW_GROUPS = 8


class Activity(NamedTuple):
    """A customer's balance before a window and what each kind of entry did within it (a
    tuple: a bill run makes one per bill)."""

    opening_cents: int
    by_kind: dict[str, int]


def list_account_activity(
    windows: dict[int, tuple[date | None, date]],
) -> dict[int, Activity]:
    """For many accounts at once (a bill run's chunk): account id → (balance before its
    window's start, receivable cents per entry kind in ``[start, end]``). A ``None`` start
    means from the beginning. The same figures as ``list_statement``, in one query.

    The query reads the two tables under the ``ledger_receivable`` view (inline lines, then
    ``ReceivableExtra``) rather than the view itself: SQLite cannot push a join's condition
    into a UNION ALL view, so joined to the windows the view is materialized whole — every
    receivable line of the ledger, for every chunk. Each branch here is one index search per
    account: its lines up to the window's end (as ``list_statement`` reads them), those before
    the start summed as the opening balance (kind NULL), the rest by kind."""
    if not windows:
        return {}
    ids = list(windows)
    # Each distinct date in database form once (a chunk's windows share a few).
    day = {
        on: connection.ops.adapt_datefield_value(on)
        for pair in set(windows.values())
        for on in pair
    }
    if connection.vendor == "postgresql":
        first_days, last_days = zip(*windows.values(), strict=True)
        table = "SELECT * FROM unnest(%s::bigint[], %s::date[], %s::date[]) AS w(account_id, start, stop)"
        params: list = [
            ids,
            list(map(day.__getitem__, first_days)),
            list(map(day.__getitem__, last_days)),
        ]
    else:
        by_window: dict[tuple, list[int]] = {}
        for account_id, window in windows.items():
            by_window.setdefault(window, []).append(account_id)
        if len(by_window) <= WINDOW_GROUPS:
            # The usual chunk: a few distinct windows, each with a plain list of accounts.
            table = " UNION ALL ".join(
                ["SELECT value AS account_id, %s AS start, %s AS stop FROM json_each(%s)"]
                * len(by_window)
            )
            params = []
            for (start, end), accounts in by_window.items():
                params += [day[start], day[end], json.dumps(accounts)]
        else:
            table = (
                "SELECT json_extract(value, '$[0]') AS account_id, json_extract(value, '$[1]') AS start,"
                " json_extract(value, '$[2]') AS stop FROM json_each(%s)"
            )
            params = [json.dumps([[a, day[s], day[e]] for a, (s, e) in windows.items()])]
    journal, extras = JournalEntry._meta.db_table, ReceivableExtra._meta.db_table
    opening: dict[int, int] = {}
    kinds: dict[int, dict[str, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH w AS ({table}) "
            "SELECT w.account_id, CASE WHEN e.effective_date < w.start THEN NULL ELSE e.kind END,"
            " SUM(e.receivable_cents) "
            f"FROM w JOIN {journal} e ON e.account_id = w.account_id AND e.effective_date <= w.stop "
            "GROUP BY 1, 2 "
            "UNION ALL "
            "SELECT w.account_id, CASE WHEN x.effective_date < w.start THEN NULL ELSE e.kind END,"
            " SUM(x.amount_cents) "
            f"FROM w JOIN {extras} x ON x.account_id = w.account_id AND x.effective_date <= w.stop "
            f"JOIN {journal} e ON e.id = x.entry_id "
            "GROUP BY 1, 2",
            params,
        )
        for account_id, kind, total in cursor.fetchall():
            account_id, total = int(account_id), int(total)
            if kind is None:
                opening[account_id] = opening.get(account_id, 0) + total
            else:
                mine = kinds.setdefault(account_id, {})
                mine[kind] = mine.get(kind, 0) + total
    return {
        account_id: Activity(opening.get(account_id, 0), kinds.get(account_id, {}))
        for account_id in ids
    }
