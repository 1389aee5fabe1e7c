"""Ohm's engine against NREL SAM's Utilityrate5 on randomized URDB tariffs and loads.

Each case: a random tariff (energy tiers within TOU periods, kWh / kWh daily / kWh/kW
tiers, flat and TOU demand with tiers, a fixed charge, a minimum) converted for SAM with its
own ``UtilityRateTools``, and random loads of a whole year (8,760 hours or 35,040 quarter
hours of 2018, a non-leap year starting on a Monday as SAM assumes, in a zone without DST).
Every month must agree within $0.01 before rounding; Ohm's billed (rounded) month may differ
from SAM's unrounded one by at most half a cent per bill line.

``OHM_SAM_CASES`` (default 30 tariffs × 8 loads) makes a larger run.
"""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from ohm.rates.calc import IntervalUsage, VersionSpan, rate_bills
from ohm.rates.sam import electricity_rates, sam_monthly_bills
from ohm.rates.tariff import parse_urdb, to_urdb
from tests.shared_data import SHARED

pytest.importorskip("PySAM.Utilityrate5")

UTC = ZoneInfo("UTC")
TARIFFS = int(os.environ.get("OHM_SAM_CASES", "30"))
LOADS_PER_TARIFF = 8
MONTHS = [(date(2018, m, 1), date(2018 + m // 12, m % 12 + 1, 1)) for m in range(1, 13)]


def _price(rng: np.random.Generator, low: float, high: float) -> float:
    return round(float(rng.uniform(low, high)), 5)


def random_tariff(rng: np.random.Generator) -> dict:
    """A URDB record with SAM's constraints: one tier structure for all energy periods."""
    periods = int(rng.integers(1, 5))
    tiers = int(rng.integers(1, 4))
    unit = str(rng.choice(["kWh", "kWh", "kWh daily", "kWh/kW", "kWh/kW daily"]))
    scale = {"kWh": 1500.0, "kWh daily": 50.0, "kWh/kW": 300.0, "kWh/kW daily": 10.0}[unit]
    maxima = sorted(round(float(x), 1) for x in rng.uniform(0.1, 1.0, tiers - 1) * scale)
    maxima = [m + i * 0.5 for i, m in enumerate(maxima)]  # strictly increasing
    structure = []
    for _ in range(periods):
        period = []
        for t in range(tiers):
            tier: dict = {"rate": _price(rng, 0.02, 0.4), "unit": unit}
            if rng.random() < 0.3:
                tier["adj"] = _price(rng, -0.01, 0.03)
            if t < tiers - 1:
                tier["max"] = maxima[t]
            period.append(tier)
        structure.append(period)
    record: dict = {
        "label": "random",
        "name": "random tariff",
        "energyratestructure": structure,
        "energyweekdayschedule": rng.integers(0, periods, (12, 24)).tolist(),
        "energyweekendschedule": rng.integers(0, periods, (12, 24)).tolist(),
        "fixedchargefirstmeter": round(float(rng.uniform(0, 60)), 2),
        "fixedchargeunits": "$/month",
    }
    if rng.random() < 0.6:
        demand_periods = int(rng.integers(1, 4))
        # SAM wants the same kW blocks in every TOU demand period (rates may differ).
        shape = _demand_tiers(rng, int(rng.integers(1, 3)))
        record["demandratestructure"] = [
            [{**tier, "rate": round(float(rng.uniform(0, 25)), 2)} for tier in shape]
            for _ in range(demand_periods)
        ]
        record["demandweekdayschedule"] = rng.integers(0, demand_periods, (12, 24)).tolist()
        record["demandweekendschedule"] = rng.integers(0, demand_periods, (12, 24)).tolist()
    if rng.random() < 0.6:
        flat_periods = int(rng.integers(1, 3))
        record["flatdemandstructure"] = [
            _demand_tiers(rng, int(rng.integers(1, 3))) for _ in range(flat_periods)
        ]
        record["flatdemandmonths"] = rng.integers(0, flat_periods, 12).tolist()
    if rng.random() < 0.4:
        record["mincharge"] = round(float(rng.uniform(10, 900)), 2)
        record["minchargeunits"] = "$/month"
    return record


def _demand_tiers(rng: np.random.Generator, tiers: int) -> list[dict]:
    maxima = sorted(round(float(x), 1) for x in rng.uniform(2, 40, tiers - 1))
    out = []
    for t in range(tiers):
        tier: dict = {"rate": round(float(rng.uniform(0, 25)), 2)}
        if t < tiers - 1:
            tier["max"] = maxima[t] + t * 0.5
        out.append(tier)
    return out


def random_loads(
    rng: np.random.Generator, count: int, steps: int, *, vacant: bool = True
) -> np.ndarray:
    """Integer Wh per step for ``count`` agreements: a daily shape, noise, some idle months."""
    hours = np.arange(8760 * steps) / steps
    shape = 1.0 + 0.6 * np.sin((hours % 24 - 7) / 24 * 2 * np.pi)
    out = []
    for _ in range(count):
        size = float(rng.choice([0.4, 2.0, 15.0, 60.0]))  # kW: home to medium business
        kw = size * shape * rng.lognormal(0, 0.35, hours.shape)
        if vacant and rng.random() < 0.2:
            kw[: 8760 * steps // 12] = 0  # a vacant January
        out.append(np.rint(kw * 1000 / steps).astype(np.int64))
    return np.array(out)


def starts_of(steps: int) -> np.ndarray:
    return np.datetime64("2018-01-01T00:00") + np.arange(8760 * steps) * np.timedelta64(
        60 // steps, "m"
    )


def _cases():
    for case in range(TARIFFS):
        yield pytest.param(
            case, 1 if case % 3 else 4, id=f"tariff{case}-{'60' if case % 3 else '15'}min"
        )


@pytest.mark.parametrize(("case", "steps"), list(_cases()))
def test_every_month_agrees_with_sam(case, steps):
    rng = np.random.default_rng(1000 + case)
    record = random_tariff(rng)
    tariff = parse_urdb(record)
    loads = random_loads(rng, LOADS_PER_TARIFF, steps)
    starts = starts_of(steps)
    rates = electricity_rates(record)
    sam = [sam_monthly_bills(rates, loads[i] * steps / 1000) for i in range(len(loads))]

    for m, (start, end) in enumerate(MONTHS):
        lo = int(np.searchsorted(starts, np.datetime64(start)))
        hi = int(np.searchsorted(starts, np.datetime64(end)))
        usage = IntervalUsage(starts[lo:hi], 60 // steps, loads[:, lo:hi])
        bills = rate_bills(
            versions=[VersionSpan(tariff, start, end)],
            start_date=start,
            end_date=end,
            usage=usage,
            zone=UTC,
        )
        for i in range(len(loads)):
            reference = Decimal(repr(float(sam[i].total[m])))
            where = f"{json.dumps(record)[:200]}… load {i} month {m + 1}"
            bill = bills.bill(i)
            if bill.component_cents("minimum"):
                # Topped up to the minimum: Ohm's bill is the minimum to the cent.
                assert bill.total_cents == round(record["mincharge"] * 100), where
                assert abs(Decimal(bill.total_cents) / 100 - reference) < Decimal("0.01"), where
                continue
            assert abs(bills.unrounded(i) - reference) < Decimal("0.01"), where
            slack = Decimal("0.005") * len(bill.lines) + Decimal("0.005")
            assert abs(Decimal(bill.total_cents) / 100 - reference) <= slack, where


@pytest.mark.parametrize(
    "name",
    [
        "pge_E-19_5cef0a415457a33576f60fe2.json",
        "sce_GS-2-TOU-B_55fc81d7682bea28da64f9ae.json",
        "psco_RD_residential_5a679442682bea21e990a0d4.json",
    ],
)
def test_the_real_urdb_records_agree_with_sam(name):
    record = json.loads((SHARED / "data" / "urdb" / name).read_text())
    if record.get("fixedchargeunits") == "$/day":
        # SAM bills $/day as 365/12 days every month, Ohm by the days of the bill period
        # (docs/rates.md); compare the rest with a monthly charge.
        record["fixedchargeunits"] = "$/month"
    tariff = parse_urdb(record)
    rng = np.random.default_rng(7)
    loads = random_loads(rng, 3, 4)
    starts = starts_of(4)
    sam = [sam_monthly_bills(electricity_rates(to_urdb(tariff)), load * 4 / 1000) for load in loads]
    for m, (start, end) in enumerate(MONTHS):
        lo, hi = (int(np.searchsorted(starts, np.datetime64(d))) for d in (start, end))
        bills = rate_bills(
            versions=[VersionSpan(tariff, start, end)],
            start_date=start,
            end_date=end,
            usage=IntervalUsage(starts[lo:hi], 15, loads[:, lo:hi]),
            zone=UTC,
        )
        for i in range(len(loads)):
            reference = Decimal(repr(float(sam[i].total[m])))
            assert abs(bills.unrounded(i) - reference) < Decimal("0.01"), (name, i, m)
            parts = {
                "energy": sam[i].energy[m],
                "demand_flat": sam[i].demand_flat[m],
                "demand_tou": sam[i].demand_tou[m],
                "fixed": sam[i].fixed[m],
            }
            for component, value in parts.items():
                ours = Decimal(int(bills.component_cents(component)[i])) / 100
                lines = sum(1 for line in bills.bill(i).lines if line.component == component)
                assert abs(ours - Decimal(repr(float(value)))) <= Decimal("0.005") * (lines + 1)


def _net_periods(record: dict, net_wh: np.ndarray, steps: int) -> np.ndarray:
    """[12, P] net Wh (delivered − received) by month and energy period, SAM's calendar."""
    weekday = np.array(record["energyweekdayschedule"])
    weekend = np.array(record["energyweekendschedule"])
    hours = np.arange(8760 * steps) // steps
    day = hours // 24
    month = (np.datetime64("2018-01-01") + day).astype("datetime64[M]").astype(int) % 12
    is_weekend = day % 7 >= 5  # 2018-01-01 was a Monday
    period = np.where(is_weekend, weekend[month, hours % 24], weekday[month, hours % 24])
    out = np.zeros((12, len(record["energyratestructure"])))
    np.add.at(out, (month, period), net_wh)
    return out


@pytest.mark.parametrize("case", range(8))
def test_retail_net_metering_agrees_with_sam_in_months_without_surplus(case):
    # A rooftop system: exports at midday in some intervals. While every TOU period of every
    # month so far still nets to an import (so SAM has no kWh to roll over), SAM's net
    # metering and Ohm's retail netting must bill the same.
    rng = np.random.default_rng(5000 + case)
    record = random_tariff(rng)
    record["ohm"] = {"net_metering": {"credit": "retail", "surplus_rate": "0"}}
    tariff = parse_urdb(record)
    steps = 1 if case % 2 else 4
    loads = random_loads(rng, 1, steps, vacant=False)[0]
    hours = np.arange(8760 * steps) / steps % 24
    sun = np.clip(np.sin((hours - 6) / 12 * np.pi), 0, None)
    gen = np.rint(sun * loads.mean() * rng.uniform(0.8, 1.6)).astype(np.int64)
    delivered = np.maximum(loads - gen, 0)
    received = np.maximum(gen - loads, 0)
    assert received.sum() > 0

    sam = sam_monthly_bills(electricity_rates(record), loads * steps / 1000, gen * steps / 1000)
    net = _net_periods(record, delivered - received, steps)
    starts = starts_of(steps)
    compared = 0
    for m, (start, end) in enumerate(MONTHS):
        if (net[: m + 1] < 0).any():
            break
        lo, hi = (int(np.searchsorted(starts, np.datetime64(d))) for d in (start, end))
        usage = IntervalUsage(
            starts[lo:hi], 60 // steps, delivered[None, lo:hi], received[None, lo:hi]
        )
        bills = rate_bills(
            versions=[VersionSpan(tariff, start, end)],
            start_date=start,
            end_date=end,
            usage=usage,
            zone=UTC,
        )
        bill = bills.bill(0)
        reference = Decimal(repr(float(sam.total[m])))
        if bill.component_cents("minimum"):
            assert abs(Decimal(bill.total_cents) / 100 - reference) < Decimal("0.01"), m
        else:
            assert abs(bills.unrounded(0) - reference) < Decimal("0.01"), (m, record)
        compared += 1
    assert received[:hi].sum() > 0  # the months compared had exports
    assert compared >= 2
