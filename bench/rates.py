"""Rating throughput: one month of hourly intervals for 100,000 agreements, against SAM.

    ohm bench rates [--agreements 100000] [--seed 1] [--check 300] [--sam 200] [--repeat 3]

A tiered TOU tariff with demand (3 energy periods × 2 tiers, a flat monthly demand charge
with 2 tiers, 2 TOU demand periods, a fixed charge) rates July 2018 (744 local hours in
America/Los_Angeles) for ``--agreements`` random load profiles held in memory (integer Wh,
int32). Timed: ``ohm.rates.calc.rate_bills`` — every bill line of every agreement with its
quantity and exact cents, column by column (best of ``--repeat``). Turning the
columns into ``BillLine`` objects (``RatedBills.bills()``) is timed apart.

Checks: ``--check`` agreements against a slow reference written here in plain Python
(Fractions and ``ohm.core.money.to_cents``, hour by hour), to the cent on every line; and
``--sam`` agreements through NREL SAM's Utilityrate5 (the same profile placed in July of
SAM's year, zeros elsewhere), each within $0.01 of Ohm's unrounded bill. SAM's throughput is
the number of agreements it rates per second (one SAM run per agreement; each run rates a
whole year). Needs no database. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np

from ohm.core.money import to_cents
from ohm.rates.calc import IntervalUsage, VersionSpan, rate_bills
from ohm.rates.tariff import Tariff, parse_urdb, to_urdb

ZONE = ZoneInfo("America/Los_Angeles")
START, END = date(2018, 7, 1), date(2018, 8, 1)
HOURS = 744

# Weekdays: off-peak 0–8 and 21–24, part-peak 8–12 and 18–21, peak 12–18. Weekends off-peak.
_WEEKDAY = [0] * 8 + [1] * 4 + [2] * 6 + [1] * 3 + [0] * 3
_DEMAND = [0] * 12 + [1] * 6 + [0] * 6
TARIFF = {
    "label": "bench-tou",
    "name": "Bench: tiered TOU with demand",
    "energyratestructure": [
        [{"rate": 0.09123, "max": 400, "unit": "kWh"}, {"rate": 0.11456, "unit": "kWh"}],
        [{"rate": 0.13789, "max": 400, "unit": "kWh"}, {"rate": 0.16012, "unit": "kWh"}],
        [
            {"rate": 0.21345, "adj": 0.00456, "max": 400, "unit": "kWh"},
            {"rate": 0.25678, "unit": "kWh"},
        ],
    ],
    "energyweekdayschedule": [_WEEKDAY] * 12,
    "energyweekendschedule": [[0] * 24] * 12,
    "flatdemandstructure": [[{"rate": 4.5, "max": 20}, {"rate": 6.75}]],
    "flatdemandmonths": [0] * 12,
    "demandratestructure": [[{"rate": 0}], [{"rate": 12.34}]],
    "demandweekdayschedule": [_DEMAND] * 12,
    "demandweekendschedule": [[0] * 24] * 12,
    "fixedchargefirstmeter": 24.95,
    "fixedchargeunits": "$/month",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ohm bench rates", description=__doc__.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--check", type=int, default=300, help="Agreements checked by the slow reference."
    )
    parser.add_argument("--sam", type=int, default=200, help="Agreements rated by SAM (0: skip).")
    parser.add_argument("--repeat", type=int, default=3, help="Timed rating runs (best counts).")
    return parser


def interval_starts() -> np.ndarray:
    lo = datetime(2018, 7, 1, tzinfo=ZONE).astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(lo, "m") + np.arange(HOURS) * np.timedelta64(60, "m")


def profiles(count: int, rng: np.random.Generator) -> np.ndarray:
    """Wh per hour, int32 [count, 744]: homes to small businesses, a daily shape and noise."""
    hour = np.arange(HOURS) % 24
    shape = (1.0 + 0.7 * np.sin((hour - 9) / 24 * 2 * np.pi)).astype(np.float32)
    size = rng.choice(np.array([0.6, 1.2, 3.0, 12.0], dtype=np.float32), count)  # kW
    out = np.empty((count, HOURS), dtype=np.int32)
    for lo in range(0, count, 10_000):
        hi = min(count, lo + 10_000)
        noise = rng.lognormal(0, 0.4, (hi - lo, HOURS)).astype(np.float32)
        out[lo:hi] = np.rint(size[lo:hi, None] * shape[None, :] * noise * 1000)
    return out


# -- the slow reference (independent of ohm.rates.calc) -------------------------------------


def local_hours(starts: np.ndarray) -> list[tuple[int, int, bool]]:
    out = []
    for start in starts.tolist():
        local = start.replace(tzinfo=UTC).astimezone(ZONE)
        out.append((local.month - 1, local.hour, local.weekday() >= 5))
    return out


def reference_cents(
    tariff: Tariff, wh: list[int], hours: list[tuple[int, int, bool]]
) -> dict[str, int]:
    """Cents by component for one agreement, hour by hour in Python."""
    energy_periods = [0] * len(tariff.energy_rates)
    tou_peaks: dict[int, int] = {}
    flat_peak = 0
    for value, (month, hour, weekend) in zip(wh, hours, strict=True):
        schedule = tariff.energy_weekend if weekend else tariff.energy_weekday
        energy_periods[schedule[month][hour]] += value
        demand = tariff.demand_weekend if weekend else tariff.demand_weekday
        period = demand[month][hour]
        tou_peaks[period] = max(tou_peaks.get(period, 0), value)
        flat_peak = max(flat_peak, value)
    total = sum(energy_periods)
    cents = {"fixed": to_cents(tariff.fixed_charge), "energy": 0, "demand_flat": 0, "demand_tou": 0}
    for p, period in enumerate(tariff.energy_rates):
        done = 0
        for t, tier in enumerate(period):
            if t == len(period) - 1:
                upto = energy_periods[p]
            else:
                block = min(Fraction(total), Fraction(tier.max) * 1000)
                upto = round(Fraction(energy_periods[p]) * block / total) if total else 0
            cents["energy"] += to_cents(Decimal(upto - done) / 1000 * tier.price)
            done = upto

    def blocks(peak_w: int, tiers) -> int:
        out, lower = 0, 0
        for tier in tiers:
            top = None if tier.max is None else int(tier.max * 1000)
            if top is None or peak_w < top:
                out += to_cents(Decimal(max(peak_w - lower, 0)) / 1000 * tier.price)
                break
            out += to_cents(Decimal(top - lower) / 1000 * tier.price)
            lower = top
        return out

    cents["demand_flat"] = blocks(flat_peak, tariff.flat_demand_rates[tariff.flat_demand_months[6]])
    for period, peak in sorted(tou_peaks.items()):
        cents["demand_tou"] += blocks(peak, tariff.demand_rates[period])
    return cents


def main(argv: list[str] | None = None, *, stdout=None, stderr=None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    options = _parser().parse_args(argv)
    if options.agreements < 1:
        err.write("--agreements must be at least 1.\n")
        return 2
    rng = np.random.default_rng(options.seed)
    tariff = parse_urdb(TARIFF)
    starts = interval_starts()
    started = time.perf_counter()
    wh = profiles(options.agreements, rng)
    out.write(
        f"{options.agreements} profiles of {HOURS} hours ({wh.nbytes / 1e6:.0f} MB) made in "
        f"{time.perf_counter() - started:.1f} s\n"
    )
    usage = IntervalUsage(starts, 60, wh)
    spans = [VersionSpan(tariff, START, END, "bench")]

    timings = []
    bills = None
    for _ in range(max(1, options.repeat)):
        began = time.perf_counter()
        bills = rate_bills(versions=spans, start_date=START, end_date=END, usage=usage, zone=ZONE)
        timings.append(time.perf_counter() - began)
    assert bills is not None
    rating = min(timings)
    out.write(
        f"Rated {options.agreements} bills ({len(bills.columns)} line columns) in "
        f"{', '.join(f'{t:.3f}' for t in timings)} s (best {rating:.3f} s)\n"
    )
    began = time.perf_counter()
    objects = bills.bills()
    objects_seconds = time.perf_counter() - began
    out.write(
        f"BillLine objects for all {options.agreements} agreements "
        f"({sum(len(b.lines) for b in objects)} lines): {objects_seconds:.2f} s\n"
    )
    del objects

    # Slow reference, to the cent by component.
    mismatches = 0
    hours = local_hours(starts)
    picks = rng.choice(options.agreements, min(options.check, options.agreements), replace=False)
    for i in picks.tolist():
        expected = reference_cents(tariff, wh[i].tolist(), hours)
        for component, cents in expected.items():
            got = int(bills.component_cents(component)[i])
            if got != cents:
                mismatches += 1
                err.write(f"agreement {i} {component}: engine {got} ¢, reference {cents} ¢\n")
    out.write(f"Reference: {len(picks)} agreements checked, {mismatches} mismatches\n")

    sam_per_second = None
    sam_worst = None
    if options.sam:
        from ohm.rates.sam import electricity_rates, sam_monthly_bills

        rates = electricity_rates(to_urdb(tariff))
        july = slice(sum([31, 28, 31, 30, 31, 30]) * 24, sum([31, 28, 31, 30, 31, 30, 31]) * 24)
        chosen = picks[: options.sam] if len(picks) >= options.sam else np.arange(options.sam)
        year = np.zeros(8760)
        began = time.perf_counter()
        results = []
        for i in chosen.tolist():
            year[july] = wh[i] / 1000
            results.append(sam_monthly_bills(rates, year))
        sam_seconds = time.perf_counter() - began
        sam_per_second = len(chosen) / sam_seconds
        sam_worst = 0.0
        for i, result in zip(chosen.tolist(), results, strict=True):
            difference = abs(float(bills.unrounded(i)) - float(result.total[6]))
            sam_worst = max(sam_worst, difference)
            if difference >= 0.01:
                mismatches += 1
                err.write(f"agreement {i}: Ohm {bills.unrounded(i)} SAM {result.total[6]:.6f}\n")
        out.write(
            f"SAM: {len(chosen)} agreements in {sam_seconds:.2f} s ({sam_per_second:.0f}/s); "
            f"largest difference before rounding ${sam_worst:.5f}\n"
        )

    bills_per_second = options.agreements / rating
    figures = {
        "bench": "rates",
        "agreements": options.agreements,
        "hours": HOURS,
        "line_columns": len(bills.columns),
        "rating_seconds": round(rating, 3),
        "bills_per_second": round(bills_per_second),
        "billline_objects_seconds": round(objects_seconds, 2),
        "sam_bills_per_second": None if sam_per_second is None else round(sam_per_second, 1),
        "ratio_to_sam": None
        if sam_per_second is None
        else round(bills_per_second / sam_per_second),
        "sam_largest_difference_dollars": None if sam_worst is None else round(sam_worst, 5),
        "reference_checked": len(picks),
        "mismatches": mismatches,
    }
    out.write(json.dumps(figures) + "\n")
    return 1 if mismatches else 0
