"""Ledger batch posting (entries/s) and balance + aging latency, checked against a reference.

    ohm bench ledger [--entries 1000000] [--accounts 50000] [--chunk 10000] [--seed 1]
                     [--check 200] [--queries 500]

Runs on the database that DATABASE_URL names and WRITES INTO IT. When it has no accounts,
``--accounts`` minimal accounts are created first (numbers from the account sequence,
nothing else attached); otherwise the existing accounts are used.

Posting: ``--entries`` bill-like four-line entries (receivable debit with the customer
account, energy revenue, customer-charge revenue and utility users tax credits) spread
over the accounts and the twelve months of one year, posted in blocks of 100,000 with
``post_columns`` (``--path columns``, the default: the uniform numpy-built batches a bill
run posts) or ``post_entries_batch`` (``--path specs``: one ``EntrySpec`` object per
entry, the general path). Only the posting calls are timed; building the input is reported
apart. Balance query: one account gets ten years of monthly history (120 bills
and 120 payments) and ``get_balance_cents`` + ``get_aging`` are timed together, averaged.

Reference: for a sample of accounts the balance change must equal what the generated
specs say (summed in Python), and ``get_balance_cents`` must equal the sum of the account's
receivable lines fetched and added in Python; row counts must match; ``check_books`` must
say the books balance. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict
from datetime import date, datetime

import numpy as np
from django.db import connection
from django.db.models import Q, Sum
from django.test.utils import override_settings

from ohm.core import clock
from ohm.core.audit import SystemActor
from ohm.customers.models import Account
from ohm.ledger.batch import EntryColumns, Slot, post_columns, post_entries_batch
from ohm.ledger.models import GLTotal, JournalEntry
from ohm.ledger.operations import EntrySpec, LineSpec, closed_periods
from ohm.ledger.queries import check_books, get_aging, get_balance_cents

BLOCK = 100_000
ACTOR = SystemActor("bench-ledger")
CUSTOMER_CHARGE_CENTS = 1_500
UUT_RATE = (3, 40)  # 7.5%


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ohm bench ledger", description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="Entries to post.")
    parser.add_argument(
        "--accounts", type=int, default=50_000, help="Accounts to create in an empty database."
    )
    parser.add_argument("--chunk", type=int, default=10_000, help="Entries per transaction.")
    parser.add_argument(
        "--path",
        choices=["columns", "specs"],
        default="columns",
        help="post_columns (uniform numpy batches) or post_entries_batch (EntrySpec objects).",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check", type=int, default=200, help="Accounts checked.")
    parser.add_argument("--queries", type=int, default=500, help="Timed balance+aging calls.")
    return parser


def server_cpu_seconds() -> float | None:
    """CPU time of this connection's PostgreSQL backend so far, when the server runs on this
    machine and /proc shows it (None otherwise, and on SQLite, whose work is in-process)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime: fields 14 and 15 of stat(5), counted after the ")" that ends comm.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _database() -> str:
    return "postgresql" if connection.vendor == "postgresql" else connection.vendor


def ensure_accounts(requested: int, at: datetime, err) -> list[int]:
    ids = list(Account.objects.order_by("pk").values_list("pk", flat=True)[:requested])
    if ids:
        return ids
    from ohm.core.identifiers import next_account_numbers

    err.write(f"The database has no accounts: creating {requested:,} minimal ones.\n")
    numbers = next_account_numbers(requested)
    Account.objects.bulk_create(
        [
            Account(
                number=number,
                status=Account.Status.ACTIVE,
                bill_cycle=1 + i % 20,
                opened_date=date(2015, 1, 1),
                created_at=at,
                address_line1=f"{100 + i % 9000} Bench St",
                city="Port Marisol",
                state="CA",
                postal_code="94000",
            )
            for i, number in enumerate(numbers)
        ],
        batch_size=5_000,
    )
    return list(Account.objects.order_by("pk").values_list("pk", flat=True)[:requested])


def open_months(year: int) -> list[date]:
    closed = closed_periods()
    return [date(year, m, 1) for m in range(1, 13) if (year, m) not in closed]


def bill_spec(key: str, account_id: int, on: date, energy: int) -> EntrySpec:
    tax = (energy + CUSTOMER_CHARGE_CENTS) * UUT_RATE[0] // UUT_RATE[1]
    total = energy + CUSTOMER_CHARGE_CENTS + tax
    due = date.fromordinal(on.toordinal() + 21)
    return EntrySpec(
        "bill",
        on,
        key,
        "Electric bill",
        (
            LineSpec("receivables", total, account_id, None, due),
            LineSpec("revenue_energy", -energy),
            LineSpec("revenue_customer_charge", -CUSTOMER_CHARGE_CENTS),
            LineSpec("tax_uut", -tax),
        ),
        "",
        "bench",
    )


SLOTS = (
    Slot("receivables"),
    Slot("revenue_energy"),
    Slot("revenue_customer_charge"),
    Slot("tax_uut"),
)


def build_columns(
    start: int, count: int, *, run: str, accounts: list[int], months: list[date], rng, expected
) -> EntryColumns:
    """The same bills as ``build_block``, built column by column with numpy."""
    index = np.arange(start, start + count)
    generator = np.random.default_rng(rng.randrange(2**32))
    energy = generator.integers(1_000, 40_001, size=count, dtype=np.int64)
    tax = (energy + CUSTOMER_CHARGE_CENTS) * UUT_RATE[0] // UUT_RATE[1]
    total = energy + CUSTOMER_CHARGE_CENTS + tax
    amounts = np.column_stack([total, -energy, np.full(count, -CUSTOMER_CHARGE_CENTS), -tax])
    position = index % len(accounts)
    account_ids = [accounts[i] for i in position.tolist()]
    month_of = ((index // len(accounts)) % len(months)).tolist()
    on = [months[m] for m in month_of]
    dues = {month: date.fromordinal(month.toordinal() + 21) for month in months}
    for account_id, cents in zip(account_ids, total.tolist(), strict=True):
        expected[account_id] += cents
    return EntryColumns(
        kind="bill",
        slots=SLOTS,
        keys=[f"{run}:{i}" for i in index.tolist()],
        effective_dates=on,
        amounts=amounts,
        account_ids=account_ids,
        descriptions="Electric bill",
        due_dates=[dues[month] for month in on],
        source="bench",
    )


def build_block(
    start: int, count: int, *, run: str, accounts: list[int], months: list[date], rng, expected
) -> list[EntrySpec]:
    specs = []
    for i in range(start, start + count):
        account_id = accounts[i % len(accounts)]
        spec = bill_spec(
            f"{run}:{i}",
            account_id,
            months[(i // len(accounts)) % len(months)],
            rng.randint(1_000, 40_000),
        )
        expected[account_id] += spec.lines[0].amount_cents
        specs.append(spec)
    return specs


def history_account(accounts: list[int], *, run: str, at: datetime, rng) -> tuple[int, int, int]:
    """The last account gets ten years of monthly bills and payments (in open months)."""
    account_id = accounts[-1]
    closed = closed_periods()
    specs = []
    for n in range(120):
        year, month = 2015 + n // 12, 1 + n % 12
        if (year, month) in closed:
            continue
        bill = bill_spec(
            f"{run}:history:bill:{n}", account_id, date(year, month, 1), rng.randint(3_000, 30_000)
        )
        specs.append(bill)
        paid = bill.lines[0].amount_cents - (rng.randint(0, 500) if n % 7 == 0 else 0)
        specs.append(
            EntrySpec(
                "payment",
                date(year, month, 20),
                f"{run}:history:pay:{n}",
                "Payment",
                (
                    LineSpec("cash_ach", paid),
                    LineSpec("receivables", -paid, account_id, category="credit"),
                ),
            )
        )
    post_entries_batch(specs, actor=ACTOR, at=at)
    return account_id, len(specs), sum(len(spec.lines) for spec in specs)


def reference_balance(account_id: int) -> int:
    """Every line of every entry naming the account, decoded and added in Python."""
    entries = JournalEntry.objects.filter(
        Q(account_id=account_id) | Q(receivable_extras__account_id=account_id)
    ).distinct()
    return sum(
        line.amount_cents
        for entry in entries
        for line in entry.line_list()
        if line.receivable and line.account_id == account_id
    )


def line_count() -> int:
    return int(GLTotal.objects.aggregate(lines=Sum("lines"))["lines"] or 0)


def main(argv: list[str] | None = None, *, stdout=None, stderr=None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    options = _parser().parse_args(argv)
    if options.entries < 1 or options.accounts < 2 or options.chunk < 1:
        err.write("--entries and --chunk must be at least 1, --accounts at least 2.\n")
        return 2
    # Production runs without DEBUG; with it, Django would keep the SQL of every query.
    with override_settings(DEBUG=False):
        return _run(options, out, err)


def _run(options, out, err) -> int:
    at = clock.now()
    run = f"bench-ledger:{at:%Y%m%dT%H%M%S.%f}"
    rng = random.Random(options.seed)

    accounts = ensure_accounts(options.accounts, at, err)
    if len(accounts) < 2:
        err.write("The benchmark needs at least two accounts.\n")
        return 2
    spread = accounts[:-1]
    months = open_months(at.year - 1)
    if not months:
        err.write(f"Every month of {at.year - 1} is closed: nothing can post.\n")
        return 2
    sample = rng.sample(spread, min(options.check, len(spread)))
    before = {account_id: get_balance_cents(account_id=account_id) for account_id in sample}
    entries_before = JournalEntry.objects.count()
    lines_before = line_count()

    expected: dict[int, int] = defaultdict(int)
    post_seconds = build_seconds = post_cpu_seconds = server_seconds = 0.0
    posted = 0
    for start in range(0, options.entries, BLOCK):
        started = time.perf_counter()
        build = build_columns if options.path == "columns" else build_block
        batch = build(
            start,
            min(BLOCK, options.entries - start),
            run=run,
            accounts=spread,
            months=months,
            rng=rng,
            expected=expected,
        )
        build_seconds += time.perf_counter() - started
        started = time.perf_counter()
        cpu_started = time.process_time()
        server_started = server_cpu_seconds()
        if isinstance(batch, EntryColumns):
            result = post_columns(batch, actor=ACTOR, at=at, chunk_size=options.chunk)
        else:
            result = post_entries_batch(
                batch, actor=ACTOR, at=at, chunk_size=options.chunk, source=run
            )
        post_seconds += time.perf_counter() - started
        post_cpu_seconds += time.process_time() - cpu_started
        if server_started is not None and (server_now := server_cpu_seconds()) is not None:
            server_seconds += server_now - server_started
        posted += result.posted
        err.write(f"\r{posted:,} entries posted in {post_seconds:.1f} s")
    err.write("\n")
    rate = posted / post_seconds if post_seconds else 0.0
    load = os.getloadavg()[0]

    history, history_entries, history_lines = history_account(accounts, run=run, at=at, rng=rng)
    as_of = date(2025, 1, 15)
    for _ in range(20):
        get_balance_cents(account_id=history)
        get_aging(account_id=history, as_of=as_of)
    started = time.perf_counter()
    for _ in range(options.queries):
        get_balance_cents(account_id=history)
        get_aging(account_id=history, as_of=as_of)
    query_ms = (time.perf_counter() - started) * 1000 / options.queries

    problems = []
    if JournalEntry.objects.count() - entries_before != posted + history_entries:
        problems.append("journal entry count differs from what was posted")
    if line_count() - lines_before != posted * 4 + history_lines:
        problems.append("journal line count differs from four lines per entry")
    if posted != options.entries:
        problems.append(f"{posted} entries posted where {options.entries} were asked for")
    for account_id in sample:
        balance = get_balance_cents(account_id=account_id)
        if balance - before[account_id] != expected[account_id]:
            problems.append(
                f"account {account_id}: balance moved {balance - before[account_id]}, specs say {expected[account_id]}"
            )
        if balance != reference_balance(account_id):
            problems.append(
                f"account {account_id}: get_balance_cents {balance} != sum of its lines"
            )
    if get_balance_cents(account_id=history) != reference_balance(history):
        problems.append("history account: balance differs from the sum of its lines")
    started = time.perf_counter()
    books = check_books()
    check_seconds = time.perf_counter() - started
    if not books.balanced:
        problems.append("check_books: the books do not balance")

    for problem in problems[:20]:
        out.write(f"MISMATCH {problem}\n")
    out.write(
        f"Posted {posted:,} four-line entries over {len(spread):,} accounts in {post_seconds:.2f} s "
        f"({rate:,.0f} entries/s); building the input took {build_seconds:.2f} s "
        f"(end to end {posted / (post_seconds + build_seconds):,.0f} entries/s). This process's CPU time "
        f"while posting: {post_cpu_seconds:.2f} s ({posted / max(post_cpu_seconds, 1e-9):,.0f} entries per CPU-second; "
        "on SQLite that includes the database's own work, on PostgreSQL it does not).\n"
    )
    if server_seconds:
        out.write(
            f"PostgreSQL's backend for this connection used {server_seconds:.2f} s of CPU while posting: "
            f"{posted / (post_cpu_seconds + server_seconds):,.0f} entries per CPU-second, client and server.\n"
        )
    out.write(f"Load average (1 min) after posting: {load:.2f} on {os.cpu_count()} CPUs.\n")
    out.write(
        f"Balance + aging of an account with 120 bills and 120 payments: {query_ms:.3f} ms "
        f"(mean of {options.queries}). check_books over the whole journal: {check_seconds:.2f} s.\n"
    )
    out.write(
        f"Checked {len(sample)} accounts against the specs and the sum of their lines: {len(problems)} problems.\n"
    )
    figures = {
        "bench": "ledger",
        "database": _database(),
        "entries": posted,
        "entries_per_second": round(rate),
        "entries_per_cpu_second": round(posted / max(post_cpu_seconds + server_seconds, 1e-9)),
        "load_average": round(load, 2),
        "path": options.path,
        "balance_query_ms": round(query_ms, 3),
    }
    out.write(json.dumps(figures) + "\n")
    return 1 if problems else 0
