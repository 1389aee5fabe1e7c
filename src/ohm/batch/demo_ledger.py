"""The demo utility's financial history: a year of bills, payments, late fees and adjustments
for every active and final account, so the aging report and the console look like a real
utility's books.

Everything follows from ``seed`` and ``as_of``: each account draws from its own
``random.Random`` keyed by the seed and its number, so one account's history does not move
when another account is added. Entries are planned as ``EntrySpec``s and posted with
``post_entries_batch``; their idempotency keys (``demo:bill:<account>:<yyyymm>`` …) make a
second run post nothing.

Behaviour per account, drawn once: most pay in full by the due date (some on autopay, the
rest by card, cashier, lockbox or pay agent); some pay late and are charged a late fee; some
pay part of each bill; a few stop paying months ago; a few pay ahead into a credit. Final
accounts get a final bill that about half of them leave unpaid.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection

from ohm.agreements.models import ServiceAgreement
from ohm.core.audit import SystemActor
from ohm.core.localtime import start_of_day
from ohm.core.money import to_cents, to_dollars
from ohm.customers.models import Account
from ohm.ledger.batch import post_entries_batch
from ohm.ledger.models import JournalEntry, Receivable
from ohm.ledger.operations import RECEIVABLES, EntrySpec, LineSpec

Progress = Callable[[str, int, int], None]

ACTOR = SystemActor("demo")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS = 12
DUE_DAYS = 21
UUT_RATE = Decimal("0.075")  # Port Marisol's utility users tax on electric charges

#: Monthly bill before tax (cents) for an average month: (low, high) by customer class.
BILL_RANGE = {
    "residential": (60_00, 250_00),
    "small_commercial": (200_00, 1_500_00),
    "large_commercial": (3_000_00, 40_000_00),
}
CUSTOMER_CHARGE = {"residential": 12_00, "small_commercial": 28_50, "large_commercial": 185_00}
#: How bills swing through the year: summer air conditioning peaks in August.
SEASONAL_SWING = {"residential": 0.30, "small_commercial": 0.18, "large_commercial": 0.12}

#: Payer habits and their shares.
HABITS = (
    ("autopay", 0.22),
    ("prompt", 0.55),
    ("late", 0.10),
    ("partial", 0.06),
    ("stopped", 0.035),
    ("ahead", 0.025),
    ("never", 0.01),
)
#: (GL role, how the statement names it) and shares, for those not on autopay.
CHANNELS = (
    (("cash_card", "card"), 0.40),
    (("cash_cashier", "cashier"), 0.15),
    (("cash_lockbox", "mailed check"), 0.25),
    (("cash_pay_agent", "pay agent"), 0.08),
    (("cash_ach", "bank transfer"), 0.12),
)
ADJUSTMENT_REASONS = (
    ("courtesy_credit", "Courtesy credit"),
    ("billing_error", "Billing error correction"),
    ("meter_error", "Meter error correction"),
    ("estimated_bill", "Estimated-bill correction"),
)


@dataclass
class DemoLedgerSummary:
    accounts: int = 0
    entries: int = 0
    replayed: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_habit: dict[str, int] = field(default_factory=dict)
    owing: int = 0
    credit: int = 0
    settled: int = 0
    receivable_cents: int = 0
    seconds: float = 0.0


def _pick(rng: random.Random, weighted):
    """One value of ``[(value, share), …]``, shares summing to 1."""
    roll = rng.random()
    for value, share in weighted:
        roll -= share
        if roll < 0:
            return value
    return weighted[-1][0]


def _month_start(day: date, months_back: int) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def _bill_day(cycle: int) -> int:
    """Cycle 1 bills on the 1st, cycle 20 on the 28th."""
    return 1 + (max(1, min(cycle, 20)) - 1) * 27 // 19


def _classes() -> dict[int, str]:
    """Each account's customer class, from its latest service agreement's rate."""
    classes: dict[int, str] = {}
    for account_id, customer_class in ServiceAgreement.objects.order_by(
        "start_date", "id"
    ).values_list("account_id", "rate_schedule__customer_class"):
        classes[account_id] = customer_class
    return classes


@dataclass(frozen=True)
class _Account:
    pk: int
    number: str
    status: str
    cycle: int
    opened: date
    final: date | None
    customer_class: str


class _History:
    """One account's year, as entry specs in date order."""

    def __init__(self, account: _Account, *, seed: int, as_of: date):
        self.a = account
        self.as_of = as_of
        self.rng = random.Random(f"{seed}:ledger:{account.number}")
        self.habit = _pick(self.rng, HABITS)
        channel = _pick(self.rng, CHANNELS)
        self.channel = ("cash_ach", "autopay") if self.habit == "autopay" else channel
        low, high = BILL_RANGE.get(account.customer_class, BILL_RANGE["residential"])
        # Log-uniform sizes: many small customers, a few big ones.
        self.size = math.exp(self.rng.uniform(math.log(low), math.log(high)))
        self.stop_after = as_of - timedelta(days=self.rng.randint(45, 200))
        self.specs: list[EntrySpec] = []
        # Cents charged besides bills (opening arrears, late fees) that the next full payment
        # also covers; negative for an opening credit that reduces it.
        self.extra = 0

    # -- entries --------------------------------------------------------------------------

    def _entry(self, kind: str, key: str, on: date, text: str, lines, reason: str = ""):
        self.specs.append(EntrySpec(kind, on, key, text, lines, reason_code=reason, source="demo"))

    def opening(self, on: date) -> int:
        roll = self.rng.random()
        if roll < 0.80:
            return 0
        if roll < 0.97:
            cents = int(self.size * self.rng.uniform(0.2, 1.5))
            text = "Opening balance (converted arrears)"
        else:
            cents = -int(self.size * self.rng.uniform(0.1, 0.8))
            text = "Opening balance (converted credit)"
        if cents == 0:
            return 0
        self.extra += cents
        self._entry(
            "opening_balance",
            f"demo:open:{self.a.number}",
            on,
            text,
            [
                LineSpec(RECEIVABLES, cents, account_id=self.a.pk, due_date=on),
                LineSpec("opening_balances", -cents),
            ],
            "conversion",
        )
        return cents

    def bill(self, on: date, *, final: bool = False) -> int:
        swing = SEASONAL_SWING.get(self.a.customer_class, 0.2)
        season = 1 + swing * math.cos(2 * math.pi * (on.month - 8) / 12)
        pre_tax = max(int(self.size * season * self.rng.uniform(0.88, 1.12)), 20_00)
        if final:
            pre_tax = int(pre_tax * self.rng.uniform(0.3, 0.9))
        customer = CUSTOMER_CHARGE.get(self.a.customer_class, 12_00)
        energy = max(pre_tax - customer, 1_00)
        tax = to_cents(to_dollars(energy + customer) * UUT_RATE)
        total = energy + customer + tax
        due = on + timedelta(days=DUE_DAYS)
        self._entry(
            "bill",
            f"demo:bill:{self.a.number}:{self._key(on, final)}",
            on,
            f"{'Final bill' if final else 'Bill'} {MONTH_NAMES[on.month - 1]} {on.year}",
            [
                LineSpec(RECEIVABLES, total, account_id=self.a.pk, due_date=due),
                LineSpec("revenue_energy", -energy, memo="Energy"),
                LineSpec("revenue_customer_charge", -customer, memo="Customer charge"),
                LineSpec("tax_uut", -tax, memo="Utility users tax 7.5%"),
            ],
        )
        return total

    def pay(self, on: date, cents: int, key: str) -> None:
        gl, label = self.channel
        self._entry(
            "payment",
            f"demo:pay:{self.a.number}:{key}",
            on,
            f"Payment — {label}",
            [LineSpec(gl, cents), LineSpec(RECEIVABLES, -cents, account_id=self.a.pk)],
        )

    def late_fee(self, on: date, unpaid: int, key: str) -> int:
        fee = max(5_00, to_cents(to_dollars(unpaid) * Decimal("0.015")))
        self.extra += fee
        self._entry(
            "fee",
            f"demo:fee:{self.a.number}:{key}",
            on,
            "Late payment fee",
            [
                LineSpec(RECEIVABLES, fee, account_id=self.a.pk, due_date=on + timedelta(DUE_DAYS)),
                LineSpec("fee_late", -fee),
            ],
            "late_fee",
        )
        return fee

    def adjust(self, on: date, bill_cents: int, key: str) -> None:
        reason, text = self.rng.choice(ADJUSTMENT_REASONS)
        cents = max(1_00, int(bill_cents * self.rng.uniform(0.05, 0.3)))
        self._entry(
            "adjustment",
            f"demo:adj:{self.a.number}:{key}",
            on,
            f"{text} (credit)",
            [
                LineSpec("billing_adjustments", cents),
                LineSpec(RECEIVABLES, -cents, account_id=self.a.pk),
            ],
            reason,
        )

    # -- the year -------------------------------------------------------------------------

    def build(self) -> list[EntrySpec]:
        a, rng, as_of = self.a, self.rng, self.as_of
        day = _bill_day(a.cycle)
        bills = [
            date(m.year, m.month, day)
            for m in (_month_start(as_of, back) for back in range(MONTHS, -1, -1))
        ]
        bills = [b for b in bills if a.opened <= b <= as_of and b > as_of - timedelta(days=366)]
        last_day = as_of
        if a.final is not None:
            last_day = min(as_of, a.final + timedelta(days=7))
            bills = [b for b in bills if b < a.final]
            if a.final + timedelta(days=3) <= as_of:
                bills.append(a.final + timedelta(days=3))
        if not bills:
            return []
        self.opening(bills[0] - timedelta(days=1))
        for index, on in enumerate(bills):
            is_final = a.final is not None and index == len(bills) - 1
            total = self.bill(on, final=is_final)
            adjusted = on + timedelta(days=rng.randint(3, 15))
            if rng.random() < 0.025 and adjusted <= last_day:
                self.adjust(adjusted, total, self._key(on, is_final))
            self._respond(on, total, is_final=is_final, last_day=last_day)
        return self.specs

    @staticmethod
    def _key(billed: date, final: bool) -> str:
        # Not strftime: it costs ~20 µs a call, a third of planning a million entries.
        return "final" if final else f"{billed.year}{billed.month:02d}"

    def _respond(self, billed: date, total: int, *, is_final: bool, last_day: date) -> None:
        rng, habit = self.rng, self.habit
        due = billed + timedelta(days=DUE_DAYS)
        key = self._key(billed, is_final)
        if is_final and rng.random() < 0.5:
            return  # moved away without paying the final bill
        if habit == "never" or (habit == "stopped" and billed > self.stop_after):
            self._fee_if_due(due, total, key)
            return
        if habit == "autopay":
            on, cents = due - timedelta(days=1), total
        elif habit == "prompt":
            on, cents = billed + timedelta(days=rng.randint(3, DUE_DAYS - 1)), total
            if rng.random() < 0.03:  # an occasional slip
                on = due + timedelta(days=rng.randint(3, 20))
        elif habit == "late":
            on, cents = due + timedelta(days=rng.randint(4, 40)), total
        elif habit == "partial":
            on = billed + timedelta(days=rng.randint(5, 30))
            cents = int(total * rng.uniform(0.4, 0.85)) // 100 * 100
        elif habit == "ahead":
            on = billed + timedelta(days=rng.randint(2, 12))
            cents = (total // 10_00 + rng.randint(1, 4)) * 10_00
        else:  # stopped, before they stopped
            on, cents = billed + timedelta(days=rng.randint(5, 25)), total
        if on > due + timedelta(days=3):
            self._fee_if_due(due, total, key)
        if habit != "partial":  # pays what the bill says is due, fees and arrears included
            cents, self.extra = cents + self.extra, 0
        if cents > 0 and on <= last_day and on <= self.as_of:
            self.pay(on, cents, key)

    def _fee_if_due(self, due: date, unpaid: int, key: str) -> None:
        on = due + timedelta(days=3)
        if on <= self.as_of and self.a.final is None and self.rng.random() < 0.9:
            self.late_fee(on, unpaid, key)


def _accounts() -> list[_Account]:
    classes = _classes()
    rows = Account.objects.filter(
        status__in=[Account.Status.ACTIVE, Account.Status.FINAL]
    ).order_by("number")
    return [
        _Account(
            pk,
            number,
            status,
            cycle,
            opened,
            final if status == Account.Status.FINAL else None,
            classes.get(pk, "residential"),
        )
        for pk, number, status, cycle, opened, final in rows.values_list(
            "pk", "number", "status", "bill_cycle", "opened_date", "final_date"
        )
    ]


def plan_financial_history(*, as_of: date, seed: int) -> Iterator[tuple[_History, list]]:
    for account in _accounts():
        history = _History(account, seed=seed, as_of=as_of)
        yield history, history.build()


def build_demo_financial_history(
    *, as_of: date, seed: int, progress: Progress | None = None
) -> DemoLedgerSummary:
    """Post a year of financial history before ``as_of`` for every active and final account.

    Runs again post nothing (every entry's key is already in the journal).
    """
    started = time.monotonic()
    summary = DemoLedgerSummary()
    kinds: Counter[str] = Counter()
    habits: Counter[str] = Counter()
    total_accounts = Account.objects.filter(
        status__in=[Account.Status.ACTIVE, Account.Status.FINAL]
    ).count()

    def specs() -> Iterator[EntrySpec]:
        for done, (history, entries) in enumerate(
            plan_financial_history(as_of=as_of, seed=seed), 1
        ):
            summary.accounts += 1
            habits[history.habit] += 1
            for spec in entries:
                kinds[spec.kind] += 1
                yield spec
            if progress and (done % 1000 == 0 or done == total_accounts):
                progress("financial history", done, total_accounts)

    at = start_of_day(as_of) + timedelta(hours=6)
    result = post_entries_batch(specs(), actor=ACTOR, at=at, source="demo")
    summary.entries = result.posted
    summary.replayed = result.replayed
    summary.by_kind = dict(sorted(kinds.items()))
    summary.by_habit = dict(sorted(habits.items()))
    _count_balances(summary, as_of=as_of)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {JournalEntry._meta.db_table}")
    summary.seconds = time.monotonic() - started
    return summary


def _count_balances(summary: DemoLedgerSummary, *, as_of: date) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT SUM(CASE WHEN b > 0 THEN 1 ELSE 0 END), SUM(CASE WHEN b < 0 THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN b = 0 THEN 1 ELSE 0 END), COALESCE(SUM(b), 0) FROM ("
            f"  SELECT account_id, SUM(amount_cents) AS b FROM {Receivable._meta.db_table}"
            "   WHERE effective_date <= %s GROUP BY account_id) AS t",
            [connection.ops.adapt_datefield_value(as_of)],
        )
        owing, credit, settled, total = cursor.fetchone()
    summary.owing, summary.credit, summary.settled = (
        int(owing or 0),
        int(credit or 0),
        int(settled or 0),
    )
    summary.receivable_cents = int(total)
