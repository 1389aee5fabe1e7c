"""The demo utility's payment office on the as-of day, on top of the year of books that
``demo_ledger`` posts (whose payments are journal entries only): a cashier's drawer closed,
signed off and deposited yesterday, one open today, this morning's lockbox file (a few items
in suspense for the unapplied queue), card payments through the simulated processor (one
left unknown for the janitor) and a returned check. Everything goes through the payment
operations, so the demo shows what a real day leaves behind. Running it again adds nothing.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model

from ohm.core.audit import SystemActor
from ohm.core.localtime import start_of_day
from ohm.customers.models import Account
from ohm.ledger.queries import get_balance_cents
from ohm.payments import cards, drawers, imports, operations
from ohm.payments.adapters.simulator import SimulatedProcessor
from ohm.payments.cards import webhook_secret
from ohm.payments.lockbox_format import write_lockbox
from ohm.payments.models import CashDrawer, ImportRun, Payment
from ohm.payments.scanline import build_scan_line

ACTOR = SystemActor("demo")


@dataclass
class DemoPaymentsSummary:
    payments: int = 0
    unapplied: int = 0
    drawers: int = 0
    seconds: float = 0.0
    skipped: bool = False


def _owing(rng: random.Random, count: int) -> list[Account]:
    ids = list(
        Account.objects.filter(status=Account.Status.ACTIVE, cash_only=False)
        .order_by("pk")
        .values_list("pk", flat=True)[:2000]
    )
    picked = rng.sample(ids, min(count, len(ids)))
    return list(Account.objects.filter(pk__in=picked).order_by("pk"))


def _due(account: Account, as_of: date) -> int:
    return max(get_balance_cents(account_id=account.pk, as_of=as_of), 0)


def _take_day(
    drawer: CashDrawer, accounts: list[Account], *, at: datetime, day: date, rng, prefix: str
) -> datetime:
    tenders = ["cash", "cash", "cash", "check", "check", "money_order"]
    for i, account in enumerate(accounts):
        at += timedelta(minutes=rng.randint(4, 25))
        due = _due(account, day) or rng.randint(30_00, 150_00)
        tender = rng.choice(tenders)
        operations.post_payment(
            account_id=account.pk,
            amount_cents=due,
            tender=tender,
            channel="cashier",
            idempotency_key=f"{prefix}:{i}",
            received_at=at,
            effective_date=day,
            actor=drawer.cashier,
            drawer=drawer,
            reference=f"{rng.randint(1000, 9999)}" if tender != "cash" else "",
        )
    return at


def build_demo_payments(*, as_of: date, seed: int) -> DemoPaymentsSummary:
    """See the module docstring. Needs the demo staff (``cashier``, ``supervisor``)."""
    started = time.monotonic()
    summary = DemoPaymentsSummary()
    if CashDrawer.objects.exists() or ImportRun.objects.exists():
        summary.skipped = True
        return summary
    users = get_user_model()
    cashier = users.objects.filter(username="cashier").first()
    supervisor = users.objects.filter(username="supervisor").first()
    if cashier is None or supervisor is None:
        summary.skipped = True
        return summary
    rng = random.Random(seed * 7919 + 5)
    yesterday = as_of - timedelta(days=1)
    people = _owing(rng, 70)
    if len(people) < 30:
        summary.skipped = True
        return summary

    # Yesterday: a drawer taken through its whole day, a dollar short, signed off, deposited.
    at = start_of_day(yesterday) + timedelta(hours=8)
    old = drawers.open_drawer(
        cashier=cashier,
        name="Window 1",
        float_cents=200_00,
        actor=cashier,
        at=at,
        business_date=yesterday,
    )
    at = _take_day(old, people[:12], at=at, day=yesterday, rng=rng, prefix="demo:counter:yesterday")
    totals = {t: 0 for t in ("cash", "check", "money_order")}
    for payment in Payment.objects.filter(drawer=old):
        totals[payment.tender] += payment.amount_cents
    drawers.close_drawer(
        drawer=old,
        counted_cash_cents=200_00 + totals["cash"] - 1_00,
        counted_checks_cents=totals["check"],
        counted_check_count=Payment.objects.filter(drawer=old, tender="check").count(),
        counted_money_orders_cents=totals["money_order"],
        actor=cashier,
        at=at + timedelta(hours=1),
        note="a dollar short: a customer was given change twice",
    )
    drawers.sign_off_drawer(drawer=old, actor=supervisor, at=at + timedelta(hours=2))
    drawers.make_deposit(
        drawer_ids=[old.pk],
        actor=supervisor,
        at=at + timedelta(hours=2),
        bank_account="City main 4410",
    )

    # This morning's lockbox file: stubs with scan lines, some typed numbers, three strays.
    morning = start_of_day(as_of) + timedelta(hours=7)
    items = []
    for account in people[12:52]:
        due = _due(account, as_of) or rng.randint(40_00, 200_00)
        stub = rng.random() < 0.85
        items.append(
            {
                "amount_cents": due,
                "check_number": str(rng.randint(100, 9999)),
                "scan_line": build_scan_line(account_number=account.number, amount_due_cents=due)
                if stub
                else "",
                "account_number": "" if stub else account.number,
                "payer_name": "",
            }
        )
    items += [
        {
            "amount_cents": 64_18,
            "check_number": "2231",
            "account_number": "9999999999",
            "payer_name": "R OKAFOR",
        },
        {"amount_cents": 120_00, "check_number": "511", "payer_name": "TRUST OF H. MARSH"},
        {
            "amount_cents": 38_75,
            "check_number": "87",
            "scan_line": "000000000000000000000",
            "payer_name": "L PHAM",
        },
    ]
    content = write_lockbox(lockbox="0040117", deposit_date=as_of, batches=[items[:25], items[25:]])
    imports.import_payment_file(
        content=content.encode(),
        file_name=f"lockbox-{as_of:%Y%m%d}.txt",
        file_format="lockbox",
        actor=ACTOR,
        at=morning,
    )

    # Today: an open drawer with a few payments; card payments by phone and portal.
    today = drawers.open_drawer(
        cashier=cashier,
        name="Window 1",
        float_cents=200_00,
        actor=cashier,
        at=morning + timedelta(hours=1),
    )
    _take_day(
        today,
        people[52:58],
        at=morning + timedelta(hours=1),
        day=as_of,
        rng=rng,
        prefix="demo:counter:today",
    )
    processor = SimulatedProcessor(secret=webhook_secret(), at=lambda: morning)
    for i, (account, token) in enumerate(
        zip(
            people[58:64],
            ["tok_visa", "tok_mastercard", "tok_visa", "tok_decline", "tok_visa", "tok_timeout"],
            strict=False,
        )
    ):
        cards.take_card_payment(
            account_id=account.pk,
            amount_cents=_due(account, as_of) or 55_00,
            token=token,
            channel="portal" if i % 2 else "phone_ivr",
            idempotency_key=f"demo:card:{i}",
            received_at=morning + timedelta(minutes=20 * i),
            effective_date=as_of,
            actor=ACTOR,
            processor=processor,
        )

    # A check from last week's lockbox came back NSF this morning.
    bounced = Payment.objects.filter(drawer=old, tender="check").first()
    if bounced is not None:
        operations.reverse_payment(
            payment=bounced,
            reason_code="nsf",
            effective_date=as_of,
            actor=supervisor,
            at=morning + timedelta(hours=2),
            idempotency_key="demo:nsf:1",
        )
    summary.payments = Payment.objects.count()
    summary.unapplied = Payment.objects.filter(status=Payment.Status.UNAPPLIED).count()
    summary.drawers = CashDrawer.objects.count()
    summary.seconds = time.monotonic() - started
    return summary
