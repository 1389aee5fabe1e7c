"""Rate comparison: what a service agreement's last 12 months would have cost under every
rate its customer may choose, from its own interval data.

This is how a CSR answers "would I save on time-of-use?": the same hourly (or 15-minute)
usage priced month by month under the current rate and each eligible alternative, with the
difference per month and over the year. It lives with agreements because it joins the two
apps below: the usage (``ohm.metering``) and the rates (``ohm.rates``).

Months are whole local calendar months before the month of ``as_of`` (the current month is
not complete). A month with no interval data at all is shown as such and left out of the
totals, for every rate alike, so the comparison stays like for like. Each month is priced
with the versions in effect in it, prorated by days across a rate change (the engine's rule).

Who may choose what: the customer class of the current rate; an interval meter at the service
point (time-of-use and demand rates need one); programs: net metering when the meter records
energy received (or the current rate is a net-metering one), an EV when the current rate is
an EV rate (Ohm has no EV register yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from ohm.agreements.models import ServiceAgreement
from ohm.core.localtime import utility_zone
from ohm.metering.models import MeterChannel, Quality
from ohm.metering.store import load_intervals
from ohm.metering.usage import list_usage_channels, share_estimated
from ohm.rates import calc
from ohm.rates import queries as rate_queries
from ohm.rates.models import RateSchedule
from ohm.rates.tariff import TariffError

MONTHS = 12


@dataclass(frozen=True)
class MonthUsage:
    start_date: date
    end_date: date
    delivered_kwh: float
    received_kwh: float
    estimated_share: float
    has_data: bool


@dataclass
class RateOption:
    schedule: RateSchedule
    is_current: bool
    month_cents: list[int | None] = field(default_factory=list)  # None: no data / not priced
    problem: str = ""  # why the rate could not be priced (no version in effect, …)

    @property
    def total_cents(self) -> int:
        return sum(c for c in self.month_cents if c is not None)


@dataclass
class RateComparison:
    agreement: ServiceAgreement
    months: list[MonthUsage]
    options: list[RateOption]  # current first, then the alternatives cheapest first
    ineligible: list[rate_queries.Eligibility]
    interval_minutes: int | None
    note: str = ""

    @property
    def current(self) -> RateOption | None:
        return next((o for o in self.options if o.is_current), None)

    def difference_cents(self, option: RateOption) -> list[int | None]:
        """Per month: ``option`` minus the current rate (negative = the customer saves)."""
        current = self.current
        if current is None:
            return [None] * len(self.months)
        return [
            None if mine is None or theirs is None else mine - theirs
            for mine, theirs in zip(option.month_cents, current.month_cents, strict=True)
        ]

    def year_difference_cents(self, option: RateOption) -> int | None:
        diffs = [d for d in self.difference_cents(option) if d is not None]
        return sum(diffs) if diffs else None

    @property
    def priced_months(self) -> int:
        return sum(1 for m in self.months if m.has_data)


def comparison_months(as_of: date, months: int = MONTHS) -> list[tuple[date, date]]:
    """The ``months`` whole local calendar months before the month of ``as_of``."""
    end = as_of.replace(day=1)
    out = []
    for _ in range(months):
        start = (end - timedelta(days=1)).replace(day=1)
        out.append((start, end))
        end = start
    return out[::-1]


def _local_midnight(day: date, zone) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class _Load:
    minutes: int
    starts: np.ndarray  # datetime64[m] UTC
    delivered: np.ndarray  # kWh float
    received: np.ndarray  # kWh float
    flags: np.ndarray  # uint8 Quality of the delivered channel


def _load(agreement: ServiceAgreement, start_at: datetime, end_at: datetime) -> _Load | None:
    """The service point's interval energy over the period on one grid, summed over the
    meters installed there in turn (a meter exchange in the year)."""
    delivered = list_usage_channels(
        service_point_id=agreement.service_point_id, start_at=start_at, end_at=end_at
    )
    received = list_usage_channels(
        service_point_id=agreement.service_point_id,
        start_at=start_at,
        end_at=end_at,
        measure=MeterChannel.Measure.KWH_RECEIVED,
    )
    if not delivered:
        return None
    minutes = max(channel.interval_minutes or 60 for channel, _, _ in delivered)
    count = int((end_at - start_at).total_seconds() // 60 // minutes)
    base = np.datetime64(start_at.astimezone(UTC).replace(tzinfo=None), "m")
    starts = base + np.arange(count) * np.timedelta64(minutes, "m")
    grids = {"delivered": np.zeros(count), "received": np.zeros(count)}
    flags = np.full(count, Quality.MISSING, dtype=np.uint8)
    for name, channels in (("delivered", delivered), ("received", received)):
        for channel, lo, hi in channels:
            series = load_intervals(channel=channel, start_at=lo, end_at=hi)
            if not len(series.starts):
                continue
            present = series.flags != Quality.MISSING
            values = np.where(present, series.values, 0.0)
            # Onto the comparison grid: a finer channel sums into the coarser intervals.
            index = (
                (series.starts.astype("datetime64[m]") - base).astype(np.int64) // minutes
            ).astype(np.int64)
            keep = (index >= 0) & (index < count)
            np.add.at(grids[name], index[keep], values[keep])
            if name == "delivered":
                flags[index[keep & present]] = series.flags[keep & present]
    return _Load(minutes, starts, grids["delivered"], grids["received"], flags)


def eligibility_evidence(agreement: ServiceAgreement, load: _Load | None) -> tuple[bool, set[str]]:
    """(has an interval meter, program codes) as the usage and the current rate show them."""
    programs: set[str] = set()
    current = agreement.rate_schedule
    if current.required_program:
        programs.add(current.required_program)
    if load is not None and float(load.received.sum()) > 0:
        programs.add(RateSchedule.Program.NET_METERING)
    return load is not None, programs


def compare_rates(
    *,
    agreement: ServiceAgreement,
    as_of: date,
    months: int = MONTHS,
    discount_programs: frozenset[str] = frozenset(),
) -> RateComparison:
    """Price the agreement's last ``months`` whole months under its rate and every rate it is
    eligible for. ``discount_programs`` are the discount codes it is enrolled in (e.g.
    ``LOW_INCOME``), applied alike under every rate."""
    zone = utility_zone()
    periods = comparison_months(as_of, months)
    start_at = _local_midnight(periods[0][0], zone)
    end_at = _local_midnight(periods[-1][1], zone)
    load = _load(agreement, start_at, end_at)
    has_interval, programs = eligibility_evidence(agreement, load)
    current = agreement.rate_schedule
    customer_class = current.customer_class
    candidates = [s for s in rate_queries.list_schedules().filter(customer_class=customer_class)]
    eligible, ineligible = [], []
    for schedule in candidates:
        verdict = rate_queries.check_eligibility(
            schedule,
            customer_class=customer_class,
            has_interval_meter=has_interval,
            programs=programs,
        )
        if schedule.pk == current.pk or verdict.eligible:
            eligible.append(schedule)
        else:
            ineligible.append(verdict)

    month_usage: list[MonthUsage] = []
    slices: list[slice | None] = []
    part: slice | None
    for start, end in periods:
        if load is None:
            month_usage.append(MonthUsage(start, end, 0.0, 0.0, 0.0, False))
            slices.append(None)
            continue
        lo = np.datetime64(_local_midnight(start, zone).replace(tzinfo=None), "m")
        hi = np.datetime64(_local_midnight(end, zone).replace(tzinfo=None), "m")
        part = slice(int(np.searchsorted(load.starts, lo)), int(np.searchsorted(load.starts, hi)))
        flags = load.flags[part]
        has_data = bool((flags != Quality.MISSING).any())
        month_usage.append(
            MonthUsage(
                start,
                end,
                float(load.delivered[part].sum()),
                float(load.received[part].sum()),
                share_estimated(load.delivered[part], flags) if has_data else 0.0,
                has_data,
            )
        )
        slices.append(part if has_data else None)

    premise = agreement.service_point.premise
    terms = [
        calc.AgreementTerms(
            baseline_territory=premise.baseline_territory or None,
            heat_source=premise.heat_source or None,
            medical=agreement.account.medical_baseline,
            programs=discount_programs,
        )
    ]
    options = []
    for schedule in eligible:
        option = RateOption(schedule=schedule, is_current=schedule.pk == current.pk)
        try:
            # Each version's tariff read once for the twelve months.
            versions = [
                (v.effective_date, rate_queries.tariff_of(v), f"v{v.number}")
                for v in rate_queries.list_approved_versions(schedule=schedule)
            ]
        except TariffError as exc:
            option.problem = f"{exc.field}: {exc.message}"
            option.month_cents = [None] * len(periods)
            options.append(option)
            continue
        for (start, end), part in zip(periods, slices, strict=True):
            if part is None or load is None:
                option.month_cents.append(None)
                continue
            try:
                if not versions or versions[0][0] > start:
                    raise rate_queries.NoVersionInEffect(schedule, start)
                spans = calc.versions_for(versions, start, end)
                usage = calc.IntervalUsage.from_kwh(
                    starts=load.starts[part],
                    interval_minutes=load.minutes,
                    kwh=load.delivered[part].reshape(1, -1),
                    exported_kwh=load.received[part].reshape(1, -1),
                )
                rated = calc.rate_bills(
                    versions=spans,
                    start_date=start,
                    end_date=end,
                    usage=usage,
                    zone=zone,
                    terms=terms,
                )
            except rate_queries.NoVersionInEffect as exc:
                option.month_cents.append(None)
                option.problem = option.problem or str(exc)
            except (TariffError, calc.RatingError) as exc:
                option.month_cents.append(None)
                option.problem = option.problem or f"{exc.field}: {exc.message}"
            else:
                option.month_cents.append(int(rated.total_cents[0]))
        options.append(option)

    options.sort(key=lambda o: (not o.is_current, bool(o.problem), o.total_cents))
    note = ""
    if load is None:
        note = "No interval meter data at this service point: nothing to compare."
    return RateComparison(
        agreement=agreement,
        months=month_usage,
        options=options,
        ineligible=ineligible,
        interval_minutes=load.minutes if load else None,
        note=note,
    )
