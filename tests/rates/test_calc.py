"""The rating engine, component by component, and its invariants (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ohm.core import money
from ohm.rates.calc import (
    AgreementTerms,
    IntervalUsage,
    RatingError,
    RegisterUsage,
    VersionSpan,
    line_cents,
    rate_bills,
    versions_for,
)
from ohm.rates.tariff import TariffError, tariff_from_document

LA = ZoneInfo("America/Los_Angeles")
FLAT = [[0] * 24 for _ in range(12)]
JAN, FEB = date(2023, 1, 1), date(2023, 2, 1)


def tariff(**extra):
    doc = {
        "energyratestructure": [
            [
                {"rate": "0.12430", "max": "300"},
                {"rate": "0.19794", "max": "390"},
                {"rate": "0.29453"},
            ]
        ],
        "energyweekdayschedule": FLAT,
        "energyweekendschedule": FLAT,
        "fixedchargefirstmeter": "19.99",
        "fixedchargeunits": "$/month",
    }
    doc.update(extra)
    return tariff_from_document(doc)


def registers(*kwh, demand_kw=None):
    wh = np.array([round(k * 1000) for k in kwh], dtype=np.int64)
    demand = None if demand_kw is None else np.array([round(d * 1000) for d in demand_kw])
    return RegisterUsage(delivered_wh=wh, demand_w=demand)


def rate(t, usage, start=JAN, end=FEB, terms=None, zone=None):
    return rate_bills(
        versions=[VersionSpan(t, start, end)],
        start_date=start,
        end_date=end,
        usage=usage,
        terms=terms,
        zone=zone,
    )


def hourly(start: date, end: date, zone, kwh_of_hour) -> IntervalUsage:
    """One agreement's hourly intervals over local days [start, end) in ``zone``."""
    from datetime import datetime

    lo = datetime.combine(start, datetime.min.time(), tzinfo=zone).timestamp() // 60
    hi = datetime.combine(end, datetime.min.time(), tzinfo=zone).timestamp() // 60
    starts = np.arange(int(lo), int(hi), 60).astype("datetime64[m]")
    wh = np.array([[round(kwh_of_hour(s) * 1000) for s in starts]], dtype=np.int64)
    return IntervalUsage(starts, 60, wh)


class TestTiers:
    def test_splits_the_month_across_inclining_tiers(self):
        bills = rate(tariff(), registers(500))

        energy = [line for line in bills.bill(0).lines if line.component == "energy"]

        assert [line.quantity for line in energy] == [Decimal(300), Decimal(90), Decimal(110)]
        assert [line.amount_cents for line in energy] == [3729, 1781, 3240]
        assert bills.bill(0).total_cents == 1999 + 3729 + 1781 + 3240

    def test_each_tou_period_takes_its_share_of_every_tier(self):
        # Period 1 on weekdays, period 0 on weekends: limits apply to the month's total and
        # each period's kWh is split across the tiers in proportion.
        t = tariff(
            energyratestructure=[
                [{"rate": "0.10", "max": "100"}, {"rate": "0.20"}],
                [{"rate": "0.30", "max": "100"}, {"rate": "0.40"}],
            ],
            energyweekdayschedule=[[1] * 24 for _ in range(12)],
        )
        usage = hourly(JAN, FEB, LA, lambda s: 1.0)  # 744 kWh: 22 weekdays, 9 weekend days

        lines = {line.clause: line.quantity for line in rate(t, usage, zone=LA).bill(0).lines}

        # 100 kWh × 528/744 weekday hours, counted to the Wh.
        assert lines["energy period 2 tier 1"] == Decimal("70.968")
        assert lines["energy period 1 tier 1"] + lines["energy period 2 tier 1"] == 100
        assert lines["energy period 2 tier 2"] == Decimal(528) - lines["energy period 2 tier 1"]

    def test_daily_limits_count_the_days_of_the_bill(self):
        t = tariff(
            energyratestructure=[
                [{"rate": "0.1", "max": "10", "unit": "kWh daily"}, {"rate": "0.2"}]
            ]
        )

        lines = rate(t, registers(400)).bill(0).lines

        assert [line.quantity for line in lines if line.component == "energy"] == [310, 90]


class TestDemand:
    def test_demand_is_the_largest_interval_average_in_blocks(self):
        t = tariff(
            flatdemandstructure=[[{"rate": "5", "max": "10"}, {"rate": "8"}]],
            flatdemandmonths=[0] * 12,
        )
        # One quarter hour at 3 kWh = 12 kW average; the hour around it averages less.
        starts = np.datetime64("2023-01-10T20:00") + np.arange(4) * np.timedelta64(15, "m")
        usage = IntervalUsage(starts, 15, np.array([[500, 3000, 500, 500]]))

        lines = [x for x in rate(t, usage, zone=LA).bill(0).lines if x.component == "demand_flat"]

        assert [(x.quantity, x.amount_cents) for x in lines] == [(10, 5000), (2, 1600)]

    def test_tou_demand_peaks_are_taken_within_each_period(self):
        weekday = [[0] * 16 + [1] * 5 + [0] * 3 for _ in range(12)]
        t = tariff(
            demandratestructure=[[{"rate": "1"}], [{"rate": "20"}]],
            demandweekdayschedule=weekday,
            demandweekendschedule=FLAT,
        )
        usage = hourly(JAN, FEB, LA, lambda s: 9.0 if s.astype(object).hour == 3 + 8 else 2.0)

        lines = {x.clause: x for x in rate(t, usage, zone=LA).bill(0).lines}

        assert lines["demand period 1 tier 1"].quantity == 9  # 3 AM, off-peak
        assert lines["demand period 2 tier 1"].quantity == 2
        assert lines["demand period 2 tier 1"].amount_cents == 4000


class TestDaylightSaving:
    def test_the_spring_day_has_23_hours_and_the_fall_day_25(self):
        t = tariff(energyratestructure=[[{"rate": "0.1"}]])
        march = hourly(date(2023, 3, 12), date(2023, 3, 13), LA, lambda s: 1.0)
        november = hourly(date(2023, 11, 5), date(2023, 11, 6), LA, lambda s: 1.0)

        spring = rate(t, march, date(2023, 3, 12), date(2023, 3, 13), zone=LA).bill(0)
        fall = rate(t, november, date(2023, 11, 5), date(2023, 11, 6), zone=LA).bill(0)

        assert spring.component_cents("energy") == 230
        assert fall.component_cents("energy") == 250

    def test_schedules_follow_the_local_clock_across_the_change(self):
        # Period 1 from 5 PM local: in summer time that is 00:00 UTC, in winter 01:00 UTC.
        weekday = [[0] * 17 + [1] * 7 for _ in range(12)]
        t = tariff(
            energyratestructure=[[{"rate": "0.10"}], [{"rate": "0.50"}]],
            energyweekdayschedule=weekday,
            energyweekendschedule=weekday,
        )
        usage = hourly(date(2023, 11, 4), date(2023, 11, 6), LA, lambda s: 1.0)

        lines = {
            x.clause: x.quantity
            for x in rate(t, usage, date(2023, 11, 4), date(2023, 11, 6), zone=LA).bill(0).lines
        }

        assert lines["energy period 2 tier 1"] == 14  # 5 PM–midnight on both days
        assert lines["energy period 1 tier 1"] == 49 - 14  # 24 + 25 hours in all


class TestProration:
    def test_a_rate_change_mid_period_prorates_each_component(self):
        old, new = tariff(), tariff(fixedchargefirstmeter="31.00")
        spans = versions_for(
            [(date(2022, 1, 1), old, "2022"), (date(2023, 1, 11), new, "2023")], JAN, FEB
        )

        bills = rate_bills(versions=spans, start_date=JAN, end_date=FEB, usage=registers(310))

        fixed = [x for x in bills.bill(0).lines if x.component == "fixed"]
        assert [x.amount_cents for x in fixed] == [645, 2100]  # 19.99 × 10/31, 31.00 × 21/31
        energy = [x for x in bills.bill(0).lines if x.component == "energy"]
        assert sum(x.quantity for x in energy) == 310

    def test_versions_must_cover_the_period(self):
        with pytest.raises(RatingError):
            versions_for([(date(2023, 1, 5), tariff(), "")], JAN, FEB)


class TestBaselineDiscountsTaxes:
    OHM = {
        "baseline": {
            "tier_percents": ["100", "130"],
            "seasons": [
                {"name": "summer", "months": [6, 7, 8, 9]},
                {"name": "winter", "months": [1, 2, 3, 4, 5, 10, 11, 12]},
            ],
            "allowances": [
                {"territory": "T", "heat_source": "basic", "season": "summer", "kwh_per_day": "8"},
                {"territory": "T", "heat_source": "basic", "season": "winter", "kwh_per_day": "10"},
            ],
            "medical_kwh_per_day": "5",
        },
        "discounts": [{"code": "CARE", "percent": "25", "base": ["fixed", "energy"]}],
        "taxes": [
            {
                "code": "UUT",
                "description": "Utility users tax",
                "percent": "7.5",
                "base": ["fixed", "energy", "discount"],
            }
        ],
    }

    def test_baseline_tiers_are_percent_of_the_allowance(self):
        terms = [AgreementTerms(baseline_territory="T", heat_source="basic")]

        lines = rate(tariff(ohm=self.OHM), registers(500), terms=terms).bill(0).lines

        assert [x.quantity for x in lines if x.component == "energy"] == [310, 93, 97]

    def test_medical_baseline_adds_to_the_allowance(self):
        terms = [AgreementTerms(baseline_territory="T", heat_source="basic", medical=True)]

        lines = rate(tariff(ohm=self.OHM), registers(500), terms=terms).bill(0).lines

        assert next(x.quantity for x in lines if x.component == "energy") == 465

    def test_discount_then_tax_on_the_discounted_bill(self):
        terms = [AgreementTerms(programs=frozenset({"CARE"})), AgreementTerms()]

        bills = rate(tariff(ohm=self.OHM), registers(100, 100), terms=terms)

        enrolled, other = bills.bill(0), bills.bill(1)
        base = 1999 + 1243
        discount = money.to_cents(Decimal(base) / 100 * Decimal("0.25"))  # 810.5 → 811
        assert enrolled.component_cents("discount") == -discount
        assert enrolled.component_cents("tax") == money.to_cents(
            Decimal(base - discount) / 100 * Decimal("0.075")
        )
        assert other.component_cents("discount") == 0
        assert other.component_cents("tax") == money.to_cents(
            Decimal(base) / 100 * Decimal("0.075")
        )

    def test_a_tax_exempt_agreement_pays_no_tax(self):
        terms = [AgreementTerms(tax_exempt=frozenset({"UUT"}))]

        bill = rate(tariff(ohm=self.OHM), registers(100), terms=terms).bill(0)

        assert bill.component_cents("tax") == 0


class TestMinimumAndNetMetering:
    def test_the_minimum_tops_the_bill_up(self):
        t = tariff(mincharge="25.00", minchargeunits="$/month")

        bill = rate(t, registers(10)).bill(0)

        assert bill.total_cents == 2500
        assert bill.component_cents("minimum") == 2500 - 1999 - 124

    def test_retail_net_metering_nets_exports_and_pays_the_surplus_rate(self):
        t = tariff(ohm={"net_metering": {"credit": "retail", "surplus_rate": "0.04"}})
        usage = RegisterUsage(
            delivered_wh=np.array([400_000, 100_000]), received_wh=np.array([150_000, 250_000])
        )

        bills = rate(t, usage)

        assert [x.quantity for x in bills.bill(0).lines if x.component == "energy"] == [250]
        assert bills.bill(1).component_cents("net_metering") == -600
        assert bills.bill(1).component_cents("energy") == 0

    def test_surplus_credit_pays_every_exported_kwh(self):
        t = tariff(ohm={"net_metering": {"credit": "surplus", "surplus_rate": "0.05"}})
        usage = RegisterUsage(delivered_wh=np.array([100_000]), received_wh=np.array([30_000]))

        bill = rate(t, usage).bill(0)

        assert bill.component_cents("net_metering") == -150
        assert bill.component_cents("energy") == 1243


class TestRefusals:
    def test_registers_cannot_rate_tou_energy(self):
        t = tariff(
            energyratestructure=[[{"rate": "0.1"}], [{"rate": "0.2"}]],
            energyweekdayschedule=[[0] * 12 + [1] * 12 for _ in range(12)],
        )

        with pytest.raises(RatingError):
            rate(t, registers(100))

    def test_intervals_outside_the_bill_period_are_refused(self):
        usage = hourly(date(2023, 1, 31), date(2023, 2, 2), LA, lambda s: 1.0)

        with pytest.raises(RatingError) as error:
            rate(tariff(), usage, zone=LA)

        assert error.value.field == "usage.starts"

    def test_demand_ratchets_are_refused(self):
        with pytest.raises(TariffError):
            rate(tariff(lookbackpercent=0.8), registers(100))


# -- properties ----------------------------------------------------------------------------

prices = st.decimals(min_value=Decimal("-50"), max_value=Decimal("50"), places=5)


@given(
    quantity=st.integers(min_value=-(10**12), max_value=10**12),
    exp=st.sampled_from([-3, -2, 0]),
    price=prices,
    days=st.integers(min_value=1, max_value=31),
    total=st.sampled_from([28, 30, 31, 32]),
)
def test_line_cents_rounds_like_the_money_module(quantity, exp, price, days, total):
    factor = Fraction(days, total)

    cents = line_cents(np.array([quantity]), exp, price, factor)[0]

    exact = Decimal(quantity).scaleb(exp) * price * days / total
    assert cents == money.to_cents(exact)


@settings(max_examples=60, deadline=None)
@given(
    kwh=st.lists(st.integers(min_value=0, max_value=5_000), min_size=2, max_size=2),
    limits=st.lists(st.integers(min_value=1, max_value=2_000), min_size=2, max_size=2, unique=True),
    rates=st.lists(st.integers(min_value=1, max_value=60_000), min_size=3, max_size=3),
)
def test_more_usage_never_costs_less_under_inclining_tiers(kwh, limits, rates):
    low, high = sorted(limits)
    steps = sorted(rates)
    t = tariff(
        energyratestructure=[
            [
                {"rate": str(Decimal(steps[0]).scaleb(-5)), "max": str(low)},
                {"rate": str(Decimal(steps[1]).scaleb(-5)), "max": str(high)},
                {"rate": str(Decimal(steps[2]).scaleb(-5))},
            ]
        ]
    )
    less, more = sorted(kwh)

    bills = rate(t, registers(less, more))

    assert bills.bill(0).total_cents <= bills.bill(1).total_cents


@settings(max_examples=60, deadline=None)
@given(
    kwh=st.integers(min_value=0, max_value=20_000), fixed=st.integers(min_value=0, max_value=10_000)
)
def test_a_25_percent_discount_is_25_percent_of_its_base(kwh, fixed):
    t = tariff(
        fixedchargefirstmeter=str(Decimal(fixed).scaleb(-2)),
        ohm={"discounts": [{"code": "CARE", "percent": "25", "base": ["fixed", "energy"]}]},
    )

    bill = rate(t, registers(kwh), terms=[AgreementTerms(programs=frozenset({"CARE"}))]).bill(0)

    base = bill.component_cents("fixed") + bill.component_cents("energy")
    assert bill.component_cents("discount") == -money.to_cents(
        Decimal(base) / 100 * Decimal("0.25")
    )


@settings(max_examples=40, deadline=None)
@given(
    kwh=st.integers(min_value=0, max_value=3_000),
    change_day=st.integers(min_value=2, max_value=31),
    demand=st.integers(min_value=0, max_value=500_000),
)
def test_proration_across_a_rate_change_equals_the_weighted_parts(kwh, change_day, demand):
    old = tariff(flatdemandstructure=[[{"rate": "7.5"}]], flatdemandmonths=[0] * 12)
    new = tariff(
        energyratestructure=[[{"rate": "0.13", "max": "250"}, {"rate": "0.33"}]],
        fixedchargefirstmeter="24.00",
        flatdemandstructure=[[{"rate": "9.25"}]],
        flatdemandmonths=[0] * 12,
    )
    change = date(2023, 1, change_day)
    usage = RegisterUsage(delivered_wh=np.array([kwh * 1000]), demand_w=np.array([demand]))
    spans = [VersionSpan(old, JAN, change, "old"), VersionSpan(new, change, FEB, "new")]

    prorated = rate_bills(versions=spans, start_date=JAN, end_date=FEB, usage=usage)
    whole_old, whole_new = rate(old, usage), rate(new, usage)

    weight = Fraction(change_day - 1, 31)
    expected = (
        whole_old.unrounded(0) * weight.numerator / weight.denominator
        + whole_new.unrounded(0) * (1 - weight).numerator / (1 - weight).denominator
    )
    # Parts are exact up to the Wh a version's share of the kWh is counted to.
    assert abs(prorated.unrounded(0) - expected) < Decimal("0.001")


@settings(max_examples=30, deadline=None)
@given(
    day=st.dates(min_value=date(2023, 1, 1), max_value=date(2023, 12, 30)),
    days=st.integers(min_value=1, max_value=3),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_every_local_hour_is_billed_once_across_dst_days(day, days, seed):
    # A two-period schedule by local hour: whatever the day (23, 24 or 25 hours), each
    # interval lands in exactly one period and the periods add up to the usage.
    from datetime import timedelta

    weekday = [[0] * 7 + [1] * 14 + [0] * 3 for _ in range(12)]
    t = tariff(
        energyratestructure=[[{"rate": "0.10"}], [{"rate": "0.30"}]],
        energyweekdayschedule=weekday,
        energyweekendschedule=weekday,
    )
    end = day + timedelta(days=days)
    rng = np.random.default_rng(seed)
    usage = hourly(day, end, LA, lambda s: float(rng.integers(0, 5000)) / 1000)

    bill = rate(t, usage, day, end, zone=LA).bill(0)

    hours = usage.delivered_wh.shape[1]
    assert hours == 24 * days + (-1 if day <= date(2023, 3, 12) < end else 0) + (
        1 if day <= date(2023, 11, 5) < end else 0
    )
    energy = [line for line in bill.lines if line.component == "energy"]
    assert sum(line.quantity for line in energy) * 1000 == int(usage.delivered_wh.sum())
    peak_hours = [
        s for s in usage.starts.tolist() if 7 <= s.replace(tzinfo=UTC).astimezone(LA).hour < 21
    ]
    peak = next((x.quantity for x in energy if x.clause == "energy period 2 tier 1"), 0)
    peak_wh = sum(
        int(wh)
        for s, wh in zip(usage.starts.tolist(), usage.delivered_wh[0], strict=True)
        if s in peak_hours
    )
    assert peak * 1000 == peak_wh


class TestMore:
    def test_daily_fixed_charges_count_the_days(self):
        t = tariff(fixedchargefirstmeter="0.65717", fixedchargeunits="$/day")

        fixed = [x for x in rate(t, registers(0)).bill(0).lines if x.component == "fixed"]

        assert (fixed[0].quantity, fixed[0].amount_cents) == (31, 2037)  # 20.37227

    def test_fuel_adjustments_are_their_own_line_by_month(self):
        t = tariff(fueladjustmentsmonthly=["0.01"] + ["0.02"] * 11)
        usage = hourly(date(2023, 1, 31), date(2023, 2, 2), LA, lambda s: 1.0)

        lines = rate(t, usage, date(2023, 1, 31), date(2023, 2, 2), zone=LA).bill(0).lines

        fuel = [(x.quantity, x.amount_cents) for x in lines if x.component == "adjustment"]
        assert fuel == [(24, 24), (24, 48)]

    def test_bills_in_bulk_equal_bills_one_by_one(self):
        t = tariff(ohm=TestBaselineDiscountsTaxes.OHM)
        terms = [AgreementTerms(programs=frozenset({"CARE"})), AgreementTerms(), AgreementTerms()]

        rated = rate(t, registers(0, 250.5, 4000), terms=terms)

        assert rated.bills() == [rated.bill(i) for i in range(3)]
        assert [b.total_cents for b in rated.bills()] == rated.total_cents.tolist()
