"""Bill run throughput (a cycle of hourly-metered accounts, bills + lines + journal entries
persisted), checked to the cent against a slow reference; bill PDFs per second.

    ohm bench billing [--accounts 100000] [--chunk 2000] [--seed 1] [--check 200] [--pdfs 300]

Runs on the database DATABASE_URL names and WRITES INTO IT; use an empty, migrated one:

    OHM_VAR_DIR=/tmp/ohm-bench ohm migrate && OHM_VAR_DIR=/tmp/ohm-bench ohm bench billing

Setup (not timed): ``--accounts`` accounts in bill cycle 1, each with a premise, service
point, AMI meter with an hourly delivered-energy channel, and a service agreement from
2026-03-02 on one of three tariffs (a three-tier residential rate, a two-period TOU rate, an
energy + flat-demand commercial rate; every one with a fixed charge and a 7.5% utility users
tax), and a month of hourly reads (local days 2026-03-02 … 2026-03-31, random load shapes).

Timed: the bill run of cycle 1 as of 2026-04-02 (read date 2026-04-01): planning and every
chunk — determinants from the interval store, rating, exception checks, bills, segments,
lines, one journal entry per bill through the ledger batch path, the chunks' done marks.

Reference: for ``--check`` sampled bills, the charges are computed again hour by hour in
plain Python (each hour placed by ``zoneinfo``, tiers and demand by hand, each line rounded
once with ``ohm.core.money.to_cents``, the tax on the rounded lines) from the interval rows
read one channel at a time, and must equal the bill's lines by component to the cent. The
books must balance. PDFs: ``--pdfs`` bills rendered through Typst, one process, one core.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import override_settings

from ohm.agreements.models import ServiceAgreement
from ohm.billing import presentment, runs
from ohm.billing.models import Bill
from ohm.core import batchrun
from ohm.core.audit import SystemActor
from ohm.core.identifiers import next_account_numbers
from ohm.core.money import to_cents
from ohm.customers.models import Account
from ohm.ledger.queries import check_books
from ohm.metering.models import Meter, MeterChannel, MeterInstallation, Quality
from ohm.metering.store import DayVector, load_intervals, save_interval_days
from ohm.payments.scanline import build_scan_line
from ohm.premises.models import Premise, ServicePoint
from ohm.rates.models import RateSchedule, RateVersion

ACTOR = SystemActor("bench-billing")
ZONE = ZoneInfo("America/Los_Angeles")
START, END = date(2026, 3, 2), date(2026, 4, 1)  # local days billed
AS_OF = date(2026, 4, 2)
SETUP_AT = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
TAX = Decimal("7.5")
FLAT = [[0] * 24 for _ in range(12)]
PEAK = [[1 if 16 <= h < 21 else 0 for h in range(24)] for _ in range(12)]


def _taxes(base: list[str]) -> dict:
    return {
        "taxes": [
            {"code": "UUT", "description": "Utility users tax", "percent": str(TAX), "base": base}
        ]
    }


TARIFFS = {
    "B-TIER": {
        "name": "Bench tiered",
        "fixedchargefirstmeter": "19.99",
        "fixedchargeunits": "$/month",
        "energyratestructure": [
            [
                {"rate": "0.12430", "max": "300"},
                {"rate": "0.19794", "max": "390"},
                {"rate": "0.29453"},
            ]
        ],
        "energyweekdayschedule": FLAT,
        "energyweekendschedule": FLAT,
        "ohm": _taxes(["fixed", "energy"]),
    },
    "B-TOU": {
        "name": "Bench TOU",
        "fixedchargefirstmeter": "19.99",
        "fixedchargeunits": "$/month",
        "energyratestructure": [[{"rate": "0.15210"}], [{"rate": "0.31870"}]],
        "energyweekdayschedule": PEAK,
        "energyweekendschedule": PEAK,
        "ohm": _taxes(["fixed", "energy"]),
    },
    "B-DEM": {
        "name": "Bench demand",
        "fixedchargefirstmeter": "165.00",
        "fixedchargeunits": "$/month",
        "energyratestructure": [[{"rate": "0.12180"}]],
        "energyweekdayschedule": FLAT,
        "energyweekendschedule": FLAT,
        "flatdemandstructure": [[{"rate": "14.75"}]],
        "flatdemandmonths": [0] * 12,
        "ohm": _taxes(["fixed", "energy", "demand"]),
    },
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ohm bench billing", description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=runs.CHUNK_SIZE, help="Accounts per chunk.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check", type=int, default=200, help="Bills checked by the reference.")
    parser.add_argument("--pdfs", type=int, default=300, help="Bill PDFs rendered and timed.")
    return parser


def _database() -> str:
    return connection.vendor


# -- setup ---------------------------------------------------------------------------------


def _schedules() -> dict[str, RateSchedule]:
    out = {}
    for code, document in TARIFFS.items():
        schedule, _ = RateSchedule.objects.get_or_create(
            code=code,
            defaults={"name": document["name"], "customer_class": "residential"},
        )
        if not schedule.versions.exists():
            RateVersion.objects.create(
                schedule=schedule,
                number=1,
                effective_date=date(2025, 1, 1),
                document=document,
                status=RateVersion.Status.APPROVED,
                created_at=SETUP_AT,
                created_by_label=ACTOR.username,
                updated_at=SETUP_AT,
                approved_at=SETUP_AT,
                approved_by_label=ACTOR.username,
            )
        out[code] = schedule
    return out


def _shape(rng: np.random.Generator, hours: np.ndarray, scale: float) -> np.ndarray:
    base = 0.25 + 0.35 * np.exp(-((hours - 19) ** 2) / 6) + 0.2 * np.exp(-((hours - 8) ** 2) / 4)
    noisy = base * scale * rng.uniform(0.6, 1.4, size=hours.shape)
    return np.round(noisy, 3).astype(np.float32)


def setup(count: int, seed: int, err) -> list[int]:
    """Bench accounts in cycle 1 with a month of hourly reads; returns the account ids."""
    if Account.objects.filter(bill_cycle=1).exists():
        raise SystemExit(
            "Cycle 1 already has accounts: run the bench on an empty, migrated database "
            "(OHM_VAR_DIR=/tmp/ohm-bench ohm migrate)."
        )
    schedules = _schedules()
    codes = list(schedules)
    rng = np.random.default_rng(seed)
    block = 5_000
    started = time.perf_counter()
    account_ids: list[int] = []
    utc_first = datetime.combine(START, datetime.min.time(), tzinfo=ZONE).astimezone(UTC).date()
    utc_last = datetime.combine(END, datetime.min.time(), tzinfo=ZONE).astimezone(UTC).date()
    days = [utc_first + timedelta(days=k) for k in range((utc_last - utc_first).days + 1)]
    hours = np.array([[((d * 24 + h) - 8) % 24 for h in range(24)] for d in range(len(days))])
    for lo in range(0, count, block):
        n = min(block, count - lo)
        with transaction.atomic():
            numbers = next_account_numbers(n)
            premises = Premise.objects.bulk_create(
                [
                    Premise(
                        number=f"BP{lo + i:08d}",
                        address_line1=f"{100 + (lo + i) % 9000} Bench St #{lo + i}",
                        city="Port Marisol",
                        state="CA",
                        postal_code="94501",
                        address_key=f"bench {lo + i}",
                        premise_type=Premise.Type.SINGLE_FAMILY,
                        baseline_territory="T",
                        created_at=SETUP_AT,
                    )
                    for i in range(n)
                ]
            )
            points = ServicePoint.objects.bulk_create(
                [
                    ServicePoint(
                        premise=p, number=f"BS{lo + i:08d}", route="B01", read_sequence=lo + i
                    )
                    for i, p in enumerate(premises)
                ]
            )
            meters = Meter.objects.bulk_create(
                [
                    Meter(
                        serial=f"BM{lo + i:08d}",
                        make="Itron",
                        model="Riva",
                        kind=Meter.Kind.AMI,
                        status=Meter.Status.INSTALLED,
                    )
                    for i in range(n)
                ]
            )
            channels = MeterChannel.objects.bulk_create(
                [
                    MeterChannel(
                        meter=m,
                        number=1,
                        measure=MeterChannel.Measure.KWH_DELIVERED,
                        interval_minutes=60,
                    )
                    for m in meters
                ]
            )
            MeterInstallation.objects.bulk_create(
                [
                    MeterInstallation(meter=m, service_point=p, installed_at=SETUP_AT)
                    for m, p in zip(meters, points, strict=True)
                ]
            )
            accounts = Account.objects.bulk_create(
                [
                    Account(
                        number=number,
                        status=Account.Status.ACTIVE,
                        bill_cycle=1,
                        opened_date=START,
                        created_at=SETUP_AT,
                        address_line1=f"{100 + (lo + i) % 9000} Bench St",
                        city="Port Marisol",
                        state="CA",
                        postal_code="94501",
                    )
                    for i, number in enumerate(numbers)
                ]
            )
            ServiceAgreement.objects.bulk_create(
                [
                    ServiceAgreement(
                        number=f"BA{lo + i:08d}",
                        account=a,
                        service_point=p,
                        rate_schedule=schedules[codes[(lo + i) % len(codes)]],
                        start_date=START,
                        status=ServiceAgreement.Status.ACTIVE,
                    )
                    for i, (a, p) in enumerate(zip(accounts, points, strict=True))
                ]
            )
            vectors = []
            flags = np.full(24, Quality.ACTUAL, dtype=np.uint8)
            for channel in channels:
                values = _shape(rng, hours, float(rng.uniform(0.4, 2.5)))
                for d, day in enumerate(days):
                    vectors.append(DayVector(channel.pk, day, 60, values[d], flags))
            save_interval_days(days=vectors, recorded_at=SETUP_AT, source="bench")
        account_ids.extend(a.pk for a in accounts)
        err.write(f"\r  setup: {lo + n:,} accounts in {time.perf_counter() - started:.0f} s")
    err.write("\n")
    return account_ids


# -- the slow reference -----------------------------------------------------------------------


def reference_charges(agreement: ServiceAgreement) -> dict[str, int]:
    """Cents by component, hour by hour, from the channel's rows read on their own."""
    document = TARIFFS[agreement.rate_schedule.code]
    channel = MeterChannel.objects.get(
        meter__installations__service_point=agreement.service_point,
        measure=MeterChannel.Measure.KWH_DELIVERED,
    )
    start_at = datetime.combine(START, datetime.min.time(), tzinfo=ZONE)
    end_at = datetime.combine(END, datetime.min.time(), tzinfo=ZONE)
    series = load_intervals(channel=channel, start_at=start_at, end_at=end_at)
    wh_by_period: dict[int, int] = defaultdict(int)
    peak_wh = 0
    for start, value, flag in zip(
        series.starts.tolist(), series.values.tolist(), series.flags.tolist(), strict=True
    ):
        moment = start.replace(tzinfo=UTC).astimezone(ZONE)
        wh = round(value * 1000) if flag != Quality.MISSING else 0
        period = document["energyweekdayschedule"][moment.month - 1][moment.hour]
        wh_by_period[period] += wh
        peak_wh = max(peak_wh, wh)
    cents: dict[str, int] = defaultdict(int)
    cents["fixed"] = to_cents(Decimal(document["fixedchargefirstmeter"]))
    structure = document["energyratestructure"]
    if len(structure[0]) > 1:  # tiers on the period total, kWh per month
        remaining = Decimal(wh_by_period[0]) / 1000
        floor = Decimal(0)
        for tier in structure[0]:
            top = Decimal(tier["max"]) if "max" in tier else None
            kwh = remaining if top is None else min(remaining, top - floor)
            if kwh > 0:
                cents["energy"] += to_cents(kwh * Decimal(tier["rate"]))
                remaining -= kwh
            floor = top if top is not None else floor
    else:
        for period, wh in wh_by_period.items():
            cents["energy"] += to_cents(Decimal(wh) / 1000 * Decimal(structure[period][0]["rate"]))
    if "flatdemandstructure" in document:
        kw = Decimal(peak_wh) / 1000  # hourly intervals: kWh in the hour = average kW
        cents["demand_flat"] = to_cents(kw * Decimal(document["flatdemandstructure"][0][0]["rate"]))
    base = sum(cents.values())
    cents["tax"] = to_cents(Decimal(base) / 100 * TAX / 100)
    return dict(cents)


def check_sample(bills: list[Bill], problems: list[str]) -> int:
    mismatches = 0
    for bill in bills:
        segment = bill.segments.select_related(
            "agreement__rate_schedule", "agreement__service_point"
        ).get()
        expected = reference_charges(segment.agreement)
        got: dict[str, int] = defaultdict(int)
        for line in bill.line_list():
            got[line.component] += line.amount_cents
        if dict(got) != expected:
            mismatches += 1
            if len(problems) < 5:
                problems.append(f"bill {bill.number}: lines {dict(got)} != reference {expected}")
    return mismatches


# -- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None, *, stdout=None, stderr=None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    options = _parser().parse_args(argv)
    if options.accounts < 1:
        err.write("--accounts must be at least 1.\n")
        return 2
    with override_settings(DEBUG=False):
        return _run(options, out, err)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(options, out, err) -> int:
    started = time.perf_counter()
    setup(options.accounts, options.seed, err)
    err.write(f"  setup took {time.perf_counter() - started:.0f} s\n")

    at = datetime(2026, 4, 2, 16, 0, tzinfo=UTC)
    started = time.perf_counter()
    cpu, worker_cpu = time.process_time(), _children_cpu()
    run = runs.plan_bill_run(cycle=1, as_of=AS_OF, actor=ACTOR, at=at, chunk_size=options.chunk)
    run = batchrun.execute_run(run, at=lambda: at)
    seconds = time.perf_counter() - started
    writer_cpu_seconds = time.process_time() - cpu
    # The run's worker processes (chunks prepared ahead) are counted once they have exited.
    cpu_seconds = writer_cpu_seconds + _children_cpu() - worker_cpu
    problems: list[str] = []
    if run.status != "succeeded":
        problems.append(f"run {run.status}: {run.message}")
    bills = Bill.objects.filter(run=run).count()
    issued = Bill.objects.filter(run=run, status=Bill.Status.ISSUED).count()
    if bills != options.accounts:
        problems.append(f"{bills} bills for {options.accounts} accounts")
    err.write(f"  bill run: {bills:,} bills ({issued:,} issued) in {seconds:.2f} s\n")

    rng = random.Random(options.seed)
    ids = list(Bill.objects.filter(run=run).values_list("pk", flat=True))
    sample = [Bill.objects.get(pk=pk) for pk in rng.sample(ids, min(options.check, len(ids)))]
    mismatches = check_sample(sample, problems)
    books = check_books()
    if not books.balanced:
        problems.append("the books do not balance")

    pdf_bills = list(
        Bill.objects.filter(pk__in=ids[: options.pdfs]).select_related("account").order_by("pk")
    )
    documents = [data for _, data in presentment.documents(pdf_bills, scan_line=build_scan_line)]
    presentment.render_pdfs(documents[:1])  # warm the compiler
    pdf_started, pdf_cpu = time.perf_counter(), time.process_time()
    presentment.render_pdfs(documents)  # one PDF per bill, rendered in batches
    pdf_seconds = time.perf_counter() - pdf_started
    pdf_cpu_seconds = time.process_time() - pdf_cpu
    pdfs_per_second = len(documents) / pdf_seconds if pdf_seconds else 0.0

    for problem in problems:
        err.write(f"  PROBLEM: {problem}\n")
    result = {
        "bench": "billing",
        "database": _database(),
        "accounts": options.accounts,
        "bills": bills,
        "held": bills - issued,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "writer_cpu_seconds": round(writer_cpu_seconds, 2),
        "workers": settings.OHM_BATCH_WORKERS,
        "bills_per_second": round(bills / seconds, 1) if seconds else 0.0,
        "chunk": options.chunk,
        "checked": len(sample),
        "reference_mismatches": mismatches,
        "books_balanced": books.balanced,
        "pdfs": len(documents),
        "pdfs_per_second": round(pdfs_per_second, 1),
        "pdfs_per_cpu_second": round(len(documents) / pdf_cpu_seconds, 1)
        if pdf_cpu_seconds
        else 0.0,
        "load_average": round(os.getloadavg()[0], 2),
    }
    out.write(json.dumps(result) + "\n")
    return 1 if problems else 0
