"""Demo bills: thirteen months of bills, cycle by cycle, for every demo account whose meter has
interval data, computed by the real bill path (determinants from the intervals, the demo
tariffs, exception checks, journal entries), so bill pages, PDFs and explanations have
history. A few issued bills are cancelled and rebilled, and bills the checks hold stay held
as work items for the billing analyst.

Idempotent: a period already billed is skipped, so running it again writes nothing new.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from ohm.agreements.models import ServiceAgreement
from ohm.billing import calendar, operations
from ohm.billing.models import Bill, BillCycle
from ohm.core.audit import SystemActor
from ohm.core.localtime import start_of_day
from ohm.metering.models import IntervalDay, MeterChannel

ACTOR = SystemActor("demo")
MONTHS = 13


@dataclass
class DemoBillingSummary:
    accounts: int = 0
    issued: int = 0
    held: int = 0
    rebilled: int = 0
    seconds: float = 0.0
    by_month: dict[str, int] = field(default_factory=dict)


def _months_back(day: date, count: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 - count
    return index // 12, index % 12 + 1


def _interval_agreements() -> dict[int, list[tuple[int, int, date]]]:
    """cycle -> [(account id, agreement id, start date)] for agreements whose service point has
    a meter with stored interval days."""
    metered = set(
        IntervalDay.objects.filter(
            channel__measure=MeterChannel.Measure.KWH_DELIVERED, is_current=True
        )
        .values_list("channel__meter__installations__service_point_id", flat=True)
        .distinct()
    )
    out: dict[int, list[tuple[int, int, date]]] = defaultdict(list)
    for account_id, agreement_id, start, cycle in (
        ServiceAgreement.objects.filter(service_point_id__in=metered)
        .exclude(status=ServiceAgreement.Status.CANCELLED)
        .values_list("account_id", "id", "start_date", "account__bill_cycle")
    ):
        out[cycle].append((account_id, agreement_id, start))
    return out


def build_demo_bills(*, as_of: date, seed: int, progress=None) -> DemoBillingSummary:
    started = time.monotonic()
    summary = DemoBillingSummary()
    by_cycle = _interval_agreements()
    summary.accounts = len({a for rows in by_cycle.values() for a, _, _ in rows})
    rules = {c.number: c.rule for c in BillCycle.objects.filter(number__in=list(by_cycle))}
    first_day = IntervalDay.objects.order_by("day").values_list("day", flat=True).first()
    steps = (MONTHS + 1) * max(len(by_cycle), 1)
    done = 0
    started_cycles: set[int] = set()
    rates_cache: dict = {}  # versions and parsed tariffs, shared by the ~260 small runs
    for back in range(MONTHS, -1, -1):
        year, month = _months_back(as_of, back)
        for cycle, rows in sorted(by_cycle.items()):
            done += 1
            rule = rules.get(cycle)
            if rule is None:
                continue
            dates = calendar.dates_for_month(rule, year, month)
            if dates.bill_date > as_of:
                continue
            previous = calendar.previous_dates(dates, rule)
            if first_day is None or previous.read_date <= first_day:
                continue  # the intervals begin after this period's first day
            periods = None
            if cycle not in started_cycles:
                started_cycles.add(cycle)
                # The first demo month starts at the previous read (intervals begin about
                # 13 months back), not at service starts years ago.
                periods = {
                    agreement_id: (
                        max(start, previous.read_date),
                        dates.read_date,
                        max(start, previous.read_date),
                        dates.read_date,
                    )
                    for _, agreement_id, start in rows
                    if start < dates.read_date
                }
            result = operations.bill_accounts(
                account_ids=sorted({a for a, _, _ in rows}),
                dates=operations.BillDates.of(dates, previous),
                at=start_of_day(dates.bill_date) + timedelta(hours=14),
                actor=ACTOR,
                periods=periods,
                cache=rates_cache,
            )
            summary.issued += result.issued
            summary.held += result.held
            key = f"{year}-{month:02d}"
            summary.by_month[key] = summary.by_month.get(key, 0) + result.issued + result.held
            if progress:
                progress("demo bills", done, steps)
    summary.rebilled = _rebill_a_few(as_of=as_of, seed=seed)
    summary.seconds = time.monotonic() - started
    return summary


def _rebill_a_few(*, as_of: date, seed: int, count: int = 3) -> int:
    """Cancel and rebill a few of the latest issued bills, as an analyst correcting a read would."""
    rng = random.Random(seed)
    candidates = list(
        Bill.objects.filter(status=Bill.Status.ISSUED, replaces__isnull=True, end_date__lte=as_of)
        .order_by("-end_date", "id")
        .values_list("pk", flat=True)[:200]
    )
    picked = rng.sample(candidates, min(count, len(candidates)))
    at = start_of_day(as_of) + timedelta(hours=9)
    for pk in picked:
        bill = Bill.objects.get(pk=pk)
        operations.rebill(
            bill=bill, actor=ACTOR, at=at, reason="Demo: meter reread after a customer call"
        )
    return len(picked)
