"""Payment file import (50,000 items), online payment latency, and a 100,000-entry ACH file.

    ohm bench payments [--payments 50000] [--format lockbox|bai2] [--online 500]
                       [--ach 100000] [--seed 1]

Runs on the database that DATABASE_URL names and WRITES INTO IT. It needs ``--payments``
accounts: when the database has fewer, minimal accounts are created first (numbers from the
account sequence, nothing else attached).

File import: a lockbox file (or BAI2) of ``--payments`` items is generated — nine in ten
items carry the remittance stub's scan line, the rest the account number typed by the bank —
and imported with ``ohm.payments.imports.import_payment_file``: parse, check, match, post
(payments and their journal entries, set-based, in chunks). Only the import is timed; making
the file is not.

Online: ``--online`` single payments through ``post_payment`` (cashier channel, cash, with an
open drawer), each its own transaction as a request would be; p50/p95 reported, wall and
CPU (this process's time: what the request costs apart from waiting for a core or the disk).
The load average at the end is printed with the figures: on a shared machine wall time
mostly measures the queue for a core.

ACH: ``--ach`` debit entries built into a NACHA file by ``ohm.banking.nacha.build_ach_file``
(reported as null when the banking app has no builder).

Reference: for a sample of accounts the balance change must equal what the file paid them
(computed in Python from the items), the file's reconciliation must hold, the row counts
must match, and ``check_books`` must say the books balance. The last line printed is one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import connection

from ohm.core import clock
from ohm.core.audit import SystemActor
from ohm.core.identifiers import next_account_numbers
from ohm.core.localtime import localdate
from ohm.customers.models import Account
from ohm.ledger.operations import closed_periods
from ohm.ledger.queries import check_books, get_balance_cents
from ohm.payments import drawers, imports, operations
from ohm.payments.bai2_format import write_bai2
from ohm.payments.lockbox_format import write_lockbox
from ohm.payments.models import Payment
from ohm.payments.scanline import build_scan_line

ACTOR = SystemActor("bench-payments")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ohm bench payments", description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=50_000)
    parser.add_argument("--format", choices=["lockbox", "bai2"], default="lockbox")
    parser.add_argument("--online", type=int, default=500, help="Timed single payments.")
    parser.add_argument("--ach", type=int, default=100_000, help="ACH entries to build.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check", type=int, default=200, help="Accounts checked.")
    return parser


def _database() -> str:
    return "postgresql" if connection.vendor == "postgresql" else connection.vendor


def ensure_accounts(requested: int, err) -> list[tuple[int, str]]:
    rows = list(
        Account.objects.exclude(status=Account.Status.CLOSED)
        .order_by("pk")
        .values_list("pk", "number")[:requested]
    )
    if len(rows) >= requested:
        return rows
    missing = requested - len(rows)
    err.write(f"The database has {len(rows):,} accounts: creating {missing:,} minimal ones.\n")
    at = clock.now()
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
            for i, number in enumerate(next_account_numbers(missing))
        ],
        batch_size=5_000,
    )
    return ensure_accounts(requested, err)


def make_file(fmt: str, accounts: list[tuple[int, str]], *, run: str, day: date, rng):
    """(content, {account_id: cents paid})."""
    paid: dict[int, int] = {}
    items = []
    for i, (pk, number) in enumerate(accounts):
        cents = rng.randint(1_000, 60_000)
        paid[pk] = paid.get(pk, 0) + cents
        stub = i % 10 != 0
        items.append((i, pk, number, cents, stub))
    if fmt == "lockbox":
        batches = []
        for start in range(0, len(items), 500):
            batches.append(
                [
                    {
                        "amount_cents": cents,
                        "check_number": f"{run[-4:]}{i:06d}",
                        "scan_line": build_scan_line(account_number=number, amount_due_cents=cents)
                        if stub
                        else "",
                        "account_number": "" if stub else number,
                        "payer_name": f"PAYER {i}",
                    }
                    for i, _, number, cents, stub in items[start : start + 500]
                ]
            )
        text = write_lockbox(lockbox=run[-7:].rjust(7, "0"), deposit_date=day, batches=batches)
    else:
        text = write_bai2(
            sender="121000248",
            receiver="OHMUTIL",
            bank_account=f"77{run[-6:]}",
            as_of=day.strftime("%y%m%d"),
            items=[
                {
                    "amount_cents": cents,
                    "bank_reference": f"{run}-{i}",
                    "customer_reference": number,
                    "text": f"PAYER {i}",
                }
                for i, _, number, cents, _ in items
            ],
        )
    return text.encode(), paid


def online_latency(
    count: int, accounts, *, day: date, run: str, rng
) -> tuple[list[float], list[float]]:
    user_model = get_user_model()
    cashier, _ = user_model.objects.get_or_create(username="bench-cashier")
    drawer = drawers.open_drawer(
        cashier=cashier,
        name=f"Bench {run[-4:]}",
        float_cents=100_00,
        actor=ACTOR,
        at=clock.now(),
        business_date=day,
    )
    timings = []
    cpu_timings = []
    for i in range(count):
        pk, _ = accounts[rng.randrange(len(accounts))]
        started = time.perf_counter()
        cpu = time.process_time()
        operations.post_payment(
            account_id=pk,
            amount_cents=rng.randint(500, 30_000),
            tender="cash",
            channel="cashier",
            idempotency_key=f"{run}:online:{i}",
            received_at=clock.now(),
            effective_date=day,
            actor=ACTOR,
            drawer=drawer,
        )
        timings.append((time.perf_counter() - started) * 1000)
        cpu_timings.append((time.process_time() - cpu) * 1000)
    totals_cash = sum(Payment.objects.filter(drawer=drawer).values_list("amount_cents", flat=True))
    drawers.close_drawer(
        drawer=drawer,
        counted_cash_cents=100_00 + totals_cash,
        counted_checks_cents=0,
        counted_check_count=0,
        counted_money_orders_cents=0,
        actor=ACTOR,
        at=clock.now(),
    )
    return timings, cpu_timings


def ach_build(count: int, rng) -> tuple[float, float] | None:
    try:
        from ohm.banking import nacha
    except ImportError:
        return None
    if not hasattr(nacha, "build_ach_file"):
        return None
    routing = "12100035"
    entries = [
        nacha.Entry(
            transaction_code=27,
            routing_number=routing + str(nacha.routing_check_digit(routing)),
            account_number=f"{rng.randrange(10**9):09d}",
            amount_cents=rng.randint(1_000, 50_000),
            individual_id=f"{1000000000 + i}",
            individual_name=f"CUSTOMER {i}",
            trace_number=nacha.trace_number("12100035", i + 1),
        )
        for i in range(count)
    ]
    started = time.perf_counter()
    cpu = time.process_time()
    text = nacha.build_ach_file(
        header=nacha.FileHeader(
            immediate_destination=routing + str(nacha.routing_check_digit(routing)),
            immediate_origin="1946000001",
            creation_date=date(2026, 3, 2),
            destination_name="BENCH BANK",
            origin_name="PORT MARISOL POWER",
        ),
        company_name="PORT MARISOL",
        company_id="1946000001",
        odfi="12100035",
        effective_date=date(2026, 3, 3),
        debits=entries,
    )
    seconds = (time.perf_counter() - started, time.process_time() - cpu)
    lines = text.splitlines()
    if len(lines) % 10 or any(len(line) != 94 for line in lines):
        raise SystemExit("ACH file is not blocked 94-character records")
    return seconds


def main(argv: list[str], *, stdout=None, stderr=None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = _parser().parse_args(argv)
    rng = random.Random(args.seed)
    run = f"b{int(time.time())}{rng.randrange(1000):03d}"
    day = localdate(clock.now())
    while (day.year, day.month) in closed_periods():
        day += timedelta(days=31)
    accounts = ensure_accounts(args.payments, err)[: args.payments]
    sample = rng.sample(accounts, min(args.check, len(accounts)))
    before = {pk: get_balance_cents(account_id=pk) for pk, _ in sample}
    payments_before = Payment.objects.count()

    err.write(f"Making a {args.format} file of {len(accounts):,} payments…\n")
    content, paid = make_file(args.format, accounts, run=run, day=day, rng=rng)
    started = time.perf_counter()
    cpu = time.process_time()
    result = imports.import_payment_file(
        content=content,
        file_name=f"bench-{run}.{args.format}",
        file_format=args.format,
        actor=ACTOR,
        at=clock.now(),
        clock=clock.now,
        effective_date=day,
    )
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    import_run = result.run
    if not import_run.reconciled or import_run.posted_count != len(accounts):
        raise SystemExit(f"import did not reconcile: {import_run.status} {import_run.posted_count}")
    if Payment.objects.count() - payments_before != len(accounts):
        raise SystemExit("payment rows do not match the file")
    for pk, _ in sample:
        change = get_balance_cents(account_id=pk) - before[pk]
        if change != -paid.get(pk, 0):
            raise SystemExit(f"account {pk}: balance moved {change}, the file paid {paid.get(pk)}")
    replay_started = time.perf_counter()
    again = imports.import_payment_file(
        content=content, file_name="again", file_format=args.format, actor=ACTOR, at=clock.now()
    )
    replay_seconds = time.perf_counter() - replay_started
    if not again.replayed:
        raise SystemExit("re-importing the file was not a replay")

    err.write(f"Timing {args.online} online payments…\n")
    timings, cpu_timings = (
        online_latency(args.online, accounts, day=day, run=run, rng=rng)
        if args.online
        else ([], [])
    )
    err.write(f"Building an ACH file of {args.ach:,} entries…\n")
    ach = ach_build(args.ach, rng) if args.ach else None
    books = check_books()
    if not books.balanced:
        raise SystemExit("the books do not balance")
    quantiles = statistics.quantiles(timings, n=100) if len(timings) >= 2 else None
    cpu_quantiles = statistics.quantiles(cpu_timings, n=100) if len(cpu_timings) >= 2 else None
    figures = {
        "bench": "payments",
        "database": _database(),
        "format": args.format,
        "payments": len(accounts),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "payments_per_second": round(len(accounts) / seconds),
        "replay_seconds": round(replay_seconds, 3),
        "online": len(timings),
        "online_p50_ms": round(quantiles[49], 2) if quantiles else None,
        "online_p95_ms": round(quantiles[94], 2) if quantiles else None,
        "online_cpu_p50_ms": round(cpu_quantiles[49], 2) if cpu_quantiles else None,
        "online_cpu_p95_ms": round(cpu_quantiles[94], 2) if cpu_quantiles else None,
        "ach_entries": args.ach if ach is not None else None,
        "ach_seconds": round(ach[0], 3) if ach is not None else None,
        "ach_cpu_seconds": round(ach[1], 3) if ach is not None else None,
        "books_balanced": books.balanced,
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }
    out.write(json.dumps(figures) + "\n")
    return 0
