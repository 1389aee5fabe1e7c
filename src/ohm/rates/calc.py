"""The rating engine: bill lines for many service agreements at once, pure and vectorized.

Input: the tariff version(s) in effect over one bill period ``[start_date, end_date)`` (local
days) and the usage of *n* agreements — interval energy on one common grid of UTC interval
starts (:class:`IntervalUsage`) or register totals (:class:`RegisterUsage`). Output:
:class:`RatedBills`, column by column (one column per tariff clause, an array over the
agreements), from which :meth:`RatedBills.bill` gives one agreement's :class:`BillLine`\\ s.

URDB semantics as NREL SAM's Utilityrate5 applies them (docs/rates.md lists where Ohm
differs on purpose):

* energy — each interval's kWh goes to the TOU period of its local start (month, hour,
  weekday/weekend; a DST day has 23 or 25 hours of intervals); tier limits apply to the bill
  period's total kWh and each period's kWh is split across the tiers in proportion
  (period share × the month's tier block);
* demand — the maximum interval-average kW, over the month (flat) or within each TOU period;
  tiered blocks of kW;
* the minimum charge tops fixed + energy + demand up to the minimum.

Exactness: energy is counted in integer Wh and demand in integer W (an interval of *m*
minutes has average W = Wh × 60 / *m*). A line's quantity is exact (a tier's share is
rounded to the Wh, shares of one period summing to its total); its amount is
``quantity × price`` (× a day fraction when prorated) rounded ONCE to the cent, half away
from zero — the rule of :func:`ohm.core.money.to_cents`, applied here in integer arithmetic
across the agreements (tests check it against ``to_cents`` line by line). Discounts, taxes
and the minimum are computed from the rounded cents of their base lines.

Proration (a bill period spanning a rate change), each component by its own rule:

* fixed charge $/month and $/year, minimum $/month: × days under the version / days in the
  bill period; $/day charges and minimums: × the version's days;
* energy: each version rates the intervals whose local day falls in its days; its tier limits
  (kWh and kWh/kW) are scaled by its share of the days, kWh-daily limits and baseline
  allowances count its days;
* demand: the peaks of the whole bill period, priced at each version's rates × its share of
  the days;
* discounts, surcharges, taxes: each version's percentages on that version's lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from ohm.rates.tariff import PercentCharge, Period, Schedule, Tariff, TariffError

_INT_LIMIT = 2**62
_CHUNK = 1024  # agreements per block of interval arithmetic (its gathered copy stays in cache)


class RatingError(ValueError):
    """Usage that cannot be rated with this tariff (which field or input, and why)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# -- inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntervalUsage:
    """Interval energy of *n* agreements on one grid of *t* interval starts.

    ``starts`` are the UTC starts (``datetime64``) in increasing order; ``delivered_wh`` and
    ``received_wh`` (exported energy, optional) are integer Wh, shape ``[n, t]``. Demand is
    each interval's average W: ``demand_w`` when given (a meter that reports kW to the W),
    else ``delivered_wh × 60 / interval_minutes``."""

    starts: np.ndarray
    interval_minutes: int
    delivered_wh: np.ndarray
    received_wh: np.ndarray | None = None
    demand_w: np.ndarray | None = None

    @classmethod
    def from_kwh(
        cls,
        *,
        starts: np.ndarray,
        interval_minutes: int,
        kwh: np.ndarray,
        exported_kwh: np.ndarray | None = None,
    ) -> IntervalUsage:
        """From kWh per interval (float), counted to the Wh."""
        delivered = np.rint(np.asarray(kwh, dtype=np.float64) * 1000).astype(np.int64)
        received = (
            None
            if exported_kwh is None
            else np.rint(np.asarray(exported_kwh, dtype=np.float64) * 1000).astype(np.int64)
        )
        return cls(np.asarray(starts), interval_minutes, np.atleast_2d(delivered), received)

    @property
    def count(self) -> int:
        return int(self.delivered_wh.shape[0])


@dataclass(frozen=True)
class RegisterUsage:
    """Register totals of *n* agreements for the bill period: delivered (and received) Wh,
    the maximum demand in W when the tariff has demand charges."""

    delivered_wh: np.ndarray
    received_wh: np.ndarray | None = None
    demand_w: np.ndarray | None = None

    @property
    def count(self) -> int:
        return int(np.asarray(self.delivered_wh).shape[0])


@dataclass(frozen=True)
class VersionSpan:
    """A tariff version in effect over local days ``[start_date, end_date)`` of the bill."""

    tariff: Tariff
    start_date: date
    end_date: date
    label: str = ""


@dataclass(frozen=True)
class AgreementTerms:
    """What the tariff needs to know about one agreement beyond its usage."""

    baseline_territory: str | None = None
    heat_source: str | None = None
    medical: bool = False
    programs: frozenset[str] = frozenset()  # discount codes the agreement is enrolled in
    tax_exempt: frozenset[str] = frozenset()  # surcharge/tax codes it does not pay


NO_TERMS = AgreementTerms()


# -- outputs -------------------------------------------------------------------------------


class BillLine(NamedTuple):
    """One line of one bill (immutable; a NamedTuple because a bill run makes millions)."""

    component: str  # fixed, customer_charge, energy, adjustment, demand_flat, demand_tou, …
    description: str
    quantity: Decimal
    unit: str
    price: Decimal
    amount_cents: int
    clause: str  # the tariff clause that produced it, e.g. "energy period 2 tier 1"


@dataclass(frozen=True)
class Bill:
    lines: tuple[BillLine, ...]

    @property
    def total_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)

    def component_cents(self, component: str) -> int:
        return sum(line.amount_cents for line in self.lines if line.component == component)


@dataclass
class LineColumn:
    """One bill line across all agreements: quantity ``q × 10**exp`` (integers), the
    price, a day-fraction ``factor`` (1 unless prorated) and the rounded cents."""

    component: str
    description: str
    unit: str
    price: Decimal
    clause: str
    quantity: np.ndarray
    exp: int
    amount_cents: np.ndarray
    factor: Fraction = Fraction(1)
    always: bool = False  # shown even when zero (fixed charges)
    applies: np.ndarray | None = None  # bool [n]: agreements the line exists for

    def quantity_of(self, i: int) -> Decimal:
        return Decimal(int(self.quantity[i])).scaleb(self.exp)


@dataclass
class RatedBills:
    count: int
    columns: list[LineColumn] = field(default_factory=list)
    _python: list | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return self.count

    @property
    def total_cents(self) -> np.ndarray:
        total = np.zeros(self.count, dtype=np.int64)
        for column in self.columns:
            total += column.amount_cents.astype(np.int64)
        return total

    def component_cents(self, *components: str) -> np.ndarray:
        total = np.zeros(self.count, dtype=np.int64)
        for column in self.columns:
            if column.component in components:
                total += column.amount_cents.astype(np.int64)
        return total

    def unrounded(self, i: int) -> Decimal:
        """Agreement *i*'s bill before any line is rounded (Σ quantity × price × factor):
        what an independent calculator that never rounds would say."""
        total = Decimal(0)
        for column in self.columns:
            if column.applies is not None and not column.applies[i]:
                continue
            exact = column.quantity_of(i) * column.price
            total += exact * column.factor.numerator / column.factor.denominator
        return total

    def python_columns(self) -> list[tuple[LineColumn, list, list, list | None, Decimal]]:
        """The columns as Python lists, made once (reading numpy scalars one by one is slow)."""
        if self._python is None:
            self._python = [
                (
                    column,
                    column.quantity.tolist(),
                    column.amount_cents.tolist(),
                    column.applies.tolist() if column.applies is not None else None,
                    Decimal(1).scaleb(column.exp),
                )
                for column in self.columns
            ]
        return self._python

    def bill(self, i: int) -> Bill:
        """Agreement *i*'s bill: its lines in tariff order, lines of nothing left out."""
        lines = []
        for column, quantities, amounts, applies, scale in self.python_columns():
            if applies is not None and not applies[i]:
                continue
            quantity, amount = int(quantities[i]), int(amounts[i])
            if not column.always and quantity == 0 and amount == 0:
                continue
            lines.append(
                BillLine(
                    column.component,
                    column.description,
                    Decimal(quantity) * scale,
                    column.unit,
                    column.price,
                    amount,
                    column.clause,
                )
            )
        return Bill(tuple(lines))

    def bills(self) -> list[Bill]:
        """Every agreement's Bill, column by column (equal quantities share one Decimal)."""
        lines: list[list[BillLine]] = [[] for _ in range(self.count)]
        for column, quantities, amounts, applies, scale in self.python_columns():
            shown: dict[int, Decimal] = {}
            for i in range(self.count):
                if applies is not None and not applies[i]:
                    continue
                quantity, amount = quantities[i], amounts[i]
                if not column.always and quantity == 0 and amount == 0:
                    continue
                value = shown.get(quantity)
                if value is None:
                    value = shown[quantity] = Decimal(quantity) * scale
                lines[i].append(
                    BillLine(
                        column.component,
                        column.description,
                        value,
                        column.unit,
                        column.price,
                        amount,
                        column.clause,
                    )
                )
        return [Bill(tuple(each)) for each in lines]


# -- exact money ---------------------------------------------------------------------------


def _price_parts(price: Decimal) -> tuple[int, int]:
    """A Decimal as ``num × 10**-k`` with integers (k ≥ 0)."""
    sign, digits, exponent = price.as_tuple()
    num = int("".join(map(str, digits)) or "0")
    if sign:
        num = -num
    assert isinstance(exponent, int)
    if exponent >= 0:
        return num * 10**exponent, 0
    return num, -exponent


def _round_half_up(numerator: np.ndarray, denominator: int) -> np.ndarray:
    """numerator / denominator rounded half away from zero, exactly (integer arrays)."""
    negative = numerator < 0
    magnitude = np.where(negative, -numerator, numerator)
    rounded = (2 * magnitude + denominator) // (2 * denominator)
    return np.where(negative, -rounded, rounded)


def line_cents(
    quantity: np.ndarray, exp: int, price: Decimal, factor: Fraction = Fraction(1)
) -> np.ndarray:
    """Cents of ``quantity × 10**exp × price × factor`` per element, rounded once, half away
    from zero (the rule of ``ohm.core.money.to_cents``), in exact integer arithmetic."""
    num, k = _price_parts(price)
    scale = exp - k + 2
    top = num * factor.numerator * (10**scale if scale > 0 else 1)
    bottom = factor.denominator * (10**-scale if scale < 0 else 1)
    quantity = np.asarray(quantity)
    biggest = int(np.abs(quantity).max()) if quantity.size else 0
    if biggest * abs(top) * 2 + bottom < _INT_LIMIT and bottom < _INT_LIMIT:
        values = quantity.astype(np.int64) * np.int64(top)
        return _round_half_up(values, bottom).astype(np.int64)
    values = quantity.astype(object) * top  # Python integers: no overflow, slower
    rounded = _round_half_up(values, bottom)
    return np.array([int(v) for v in rounded], dtype=object).astype(np.int64)


# -- local time ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    """Local month (0–11), hour, weekend flag and local day of each interval start."""

    month: np.ndarray
    hour: np.ndarray
    weekend: np.ndarray
    day: np.ndarray  # datetime64[D], local


def _local_clock(starts: np.ndarray, zone: tzinfo) -> _Clock:
    minutes = starts.astype("datetime64[m]").astype(np.int64)
    hours = minutes // 60
    unique, inverse = np.unique(hours, return_inverse=True)
    offsets = np.empty(len(unique), dtype=np.int64)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for i, hour in enumerate(unique.tolist()):
        offset = (epoch + timedelta(hours=hour)).astimezone(zone).utcoffset()
        if offset is None:
            raise RatingError("zone", f"{zone!r} gives no UTC offset")
        offsets[i] = int(offset.total_seconds()) // 60
    local = (minutes + offsets[inverse]).astype("datetime64[m]")
    day = local.astype("datetime64[D]")
    month = local.astype("datetime64[M]").astype(np.int64) % 12
    hour = (local - day).astype(np.int64) // 60
    weekend = (day.astype(np.int64) + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    return _Clock(month=month, hour=hour, weekend=weekend, day=day)


def _periods(schedule_weekday: Schedule, schedule_weekend: Schedule, clock: _Clock) -> np.ndarray:
    weekday = np.asarray(schedule_weekday, dtype=np.int64)
    weekend = np.asarray(schedule_weekend, dtype=np.int64)
    return np.where(
        clock.weekend, weekend[clock.month, clock.hour], weekday[clock.month, clock.hour]
    )


# -- the engine ----------------------------------------------------------------------------


@dataclass
class _Piece:
    """One version's share of the bill period."""

    span: VersionSpan
    days: int
    weight: Fraction  # days / days in the bill period
    total_days: int  # days in the bill period
    columns: slice  # interval columns whose local day falls in its days


@dataclass
class _Usage:
    """Per-piece and whole-period determinants, arrays over the agreements."""

    energy_wh: np.ndarray  # [n, P] delivered Wh by energy period in the piece
    received_wh: np.ndarray  # [n, P]
    month_wh: dict[int, np.ndarray]  # local month -> delivered Wh (only for fuel adjustments)
    flat_peak_w: np.ndarray  # [n] over the bill period
    tou_peak_w: np.ndarray  # [n, D] over the bill period, by TOU demand period


def _label(span: VersionSpan, text: str) -> str:
    return f"{text} ({span.label})" if span.label else text


def _check_spans(spans: Sequence[VersionSpan], start_date: date, end_date: date) -> None:
    if end_date <= start_date:
        raise RatingError("end_date", f"{end_date} is not after {start_date}")
    if not spans:
        raise RatingError("versions", "no tariff version for the bill period")
    at = start_date
    for i, span in enumerate(spans):
        if span.start_date != at:
            raise RatingError(
                f"versions[{i}].start_date",
                f"{span.start_date}: versions must cover {start_date}…{end_date} without gap "
                f"or overlap (expected {at})",
            )
        if span.end_date <= span.start_date:
            raise RatingError(f"versions[{i}].end_date", "not after its start_date")
        at = span.end_date
    if at != end_date:
        raise RatingError(
            f"versions[{len(spans) - 1}].end_date", f"{at}: the last version must end on {end_date}"
        )


def rate_bills(
    *,
    versions: Sequence[VersionSpan],
    start_date: date,
    end_date: date,
    usage: IntervalUsage | RegisterUsage,
    zone: tzinfo | None = None,
    terms: Sequence[AgreementTerms] | None = None,
) -> RatedBills:
    """Rate one bill period ``[start_date, end_date)`` (local days) for every agreement.

    ``versions`` cover the bill period in order (one, or several across a rate change);
    ``zone`` is the utility's zone (schedules and days are local; required for interval
    usage); ``terms`` gives each agreement's baseline territory, programs and exemptions.

    :raises TariffError: for a tariff feature the engine does not rate (demand ratchets,
        annual minimums, mixed kWh/kW tiers).
    :raises RatingError: for usage that does not fit (intervals outside the period…)."""
    _check_spans(versions, start_date, end_date)
    n = usage.count
    if terms is not None and len(terms) != n:
        raise RatingError("terms", f"{len(terms)} terms for {n} agreements")
    total_days = (end_date - start_date).days
    for span in versions:
        _check_supported(span.tariff)

    if isinstance(usage, IntervalUsage):
        if zone is None:
            raise RatingError("zone", "interval usage needs the zone its schedules are in")
        intervals = _prepare_intervals(usage, zone, start_date, end_date)
    else:
        intervals = None

    result = RatedBills(count=n)
    for span in versions:
        days = (span.end_date - span.start_date).days
        piece = _Piece(
            span=span,
            days=days,
            weight=Fraction(days, total_days),
            total_days=total_days,
            columns=slice(0),
        )
        if intervals is not None:
            lo = int(np.searchsorted(intervals.clock.day, np.datetime64(span.start_date)))
            hi = int(np.searchsorted(intervals.clock.day, np.datetime64(span.end_date)))
            piece.columns = slice(lo, hi)
        columns = _rate_piece(
            piece=piece,
            usage=usage,
            intervals=intervals,
            terms=terms,
            n=n,
        )
        result.columns.extend(columns)
    return result


def _check_supported(tariff: Tariff) -> None:
    for key in ("lookbackpercent", "lookbackrange", "coincidentratestructure"):
        if tariff.extra.get(key):
            raise TariffError(
                key, "demand ratchets and coincident demand are not rated by Ohm's engine"
            )
    if tariff.min_charge is not None and tariff.min_charge_units == "$/year":
        raise TariffError(
            "minchargeunits", "an annual minimum needs a year-end true-up; bill it monthly"
        )


@dataclass
class _Intervals:
    clock: _Clock
    watts_per_wh: int


def _prepare_intervals(
    usage: IntervalUsage, zone: tzinfo, start_date: date, end_date: date
) -> _Intervals:
    starts = np.asarray(usage.starts).astype("datetime64[m]")
    if usage.delivered_wh.ndim != 2 or usage.delivered_wh.shape[1] != len(starts):
        raise RatingError(
            "usage.delivered_wh",
            f"shape {usage.delivered_wh.shape} does not match {len(starts)} interval starts",
        )
    if usage.received_wh is not None and usage.received_wh.shape != usage.delivered_wh.shape:
        raise RatingError("usage.received_wh", "shape differs from delivered_wh")
    if usage.demand_w is not None and usage.demand_w.shape != usage.delivered_wh.shape:
        raise RatingError("usage.demand_w", "shape differs from delivered_wh")
    if usage.interval_minutes <= 0 or 60 % usage.interval_minutes:
        raise RatingError(
            "usage.interval_minutes", f"{usage.interval_minutes} does not divide an hour"
        )
    if len(starts) > 1 and np.any(np.diff(starts.astype(np.int64)) <= 0):
        raise RatingError("usage.starts", "interval starts must increase")
    clock = _local_clock(starts, zone)
    if len(starts):
        first, last = clock.day[0], clock.day[-1]
        if first < np.datetime64(start_date) or last >= np.datetime64(end_date):
            raise RatingError(
                "usage.starts",
                f"intervals from local day {first} to {last} fall outside the bill period "
                f"{start_date}…{end_date - timedelta(days=1)}",
            )
    return _Intervals(clock=clock, watts_per_wh=60 // usage.interval_minutes)


def _reduce(
    values: np.ndarray,
    *,
    sum_groups: np.ndarray | None = None,
    sum_count: int = 0,
    max_groups: np.ndarray | None = None,
    max_count: int = 0,
    flat: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pass over ``values`` [n, t]: sums of the columns by ``sum_groups`` (−1: left out)
    → [n, sum_count], maxima by ``max_groups`` → [n, max_count], and the row maximum → [n].

    The columns are put in order of (sum group, max group) once; each block of rows is
    gathered in that order (one copy that stays in cache), and every combination's columns
    are then one contiguous slice to sum and to take the maximum of. Sums are exact int64."""
    n, t = values.shape
    sums = np.zeros((n, sum_count), dtype=np.int64)
    maxima = np.zeros((n, max_count), dtype=np.int64)
    peak = np.zeros(n, dtype=np.int64)
    if t == 0 or n == 0:
        return sums, maxima, peak
    by_sum = sum_groups if sum_groups is not None else np.full(t, -1, dtype=np.int64)
    by_max = max_groups if max_groups is not None else np.full(t, -1, dtype=np.int64)
    combo = (by_sum + 1) * (max_count + 1) + (by_max + 1)
    order = np.argsort(combo, kind="stable")
    keys, first = np.unique(combo[order], return_index=True)
    bounds = [*first.tolist(), t]
    slices = []
    for k, key in enumerate(keys.tolist()):
        sum_group, max_group = key // (max_count + 1) - 1, key % (max_count + 1) - 1
        slices.append((bounds[k], bounds[k + 1], sum_group, max_group))
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        block = values[lo:hi][:, order]
        for start, end, sum_group, max_group in slices:
            part = block[:, start:end]
            if sum_group >= 0:
                sums[lo:hi, sum_group] += part.sum(axis=1, dtype=np.int64)
            if max_group >= 0 or flat:
                largest = part.max(axis=1)
                if max_group >= 0:
                    np.maximum(maxima[lo:hi, max_group], largest, out=maxima[lo:hi, max_group])
                if flat:
                    np.maximum(peak[lo:hi], largest, out=peak[lo:hi])
    return sums, maxima, peak


def _determinants(
    *,
    tariff: Tariff,
    piece: _Piece,
    usage: IntervalUsage | RegisterUsage,
    intervals: _Intervals | None,
    n: int,
) -> _Usage:
    periods = max(len(tariff.energy_rates), 1)
    demand_periods = len(tariff.demand_rates)
    if intervals is None:
        assert isinstance(usage, RegisterUsage)
        used = _energy_periods_in(tariff, piece.span.start_date, piece.span.end_date)
        if len(used) > 1:
            raise RatingError(
                "usage",
                "register totals cannot be split across TOU energy periods; rate this "
                "tariff with interval usage",
            )
        if demand_periods and len(_demand_periods_in(tariff, piece)) > 1:
            raise RatingError("usage", "register totals cannot be split across TOU demand periods")
        weight = piece.weight
        delivered = _weighted(np.asarray(usage.delivered_wh, dtype=np.int64), weight)
        received = (
            np.zeros(n, dtype=np.int64)
            if usage.received_wh is None
            else _weighted(np.asarray(usage.received_wh, dtype=np.int64), weight)
        )
        energy = np.zeros((n, periods), dtype=np.int64)
        rec = np.zeros((n, periods), dtype=np.int64)
        only = used[0] if used else 0
        energy[:, only] = delivered
        rec[:, only] = received
        peak = (
            np.zeros(n, dtype=np.int64)
            if usage.demand_w is None
            else np.asarray(usage.demand_w, dtype=np.int64)
        )
        if (tariff.has_flat_demand or demand_periods) and usage.demand_w is None:
            raise RatingError("usage.demand_w", "the tariff has demand charges: give demand")
        tou = np.repeat(peak[:, None], max(demand_periods, 1), axis=1)
        month_wh = _months_of_piece(piece, delivered) if tariff.fuel_adjustments_monthly else {}
        return _Usage(energy, rec, month_wh, peak, tou)

    assert isinstance(usage, IntervalUsage)
    clock = intervals.clock
    cols = piece.columns
    t = len(clock.month)
    # Energy period of each column of the piece; −1 for the columns of other versions.
    groups = np.full(t, -1, dtype=np.int64)
    if tariff.energy_rates:
        assert tariff.energy_weekday is not None
        assert tariff.energy_weekend is not None
        groups[cols] = _periods(tariff.energy_weekday, tariff.energy_weekend, clock)[cols]
    else:
        groups[cols] = 0
    # Demand over the whole bill period (all interval columns), in W.
    if usage.demand_w is not None:
        watts, per = usage.demand_w, 1
    else:
        watts, per = usage.delivered_wh, intervals.watts_per_wh
    needs_peak = bool(tariff.has_flat_demand or demand_periods or _has_kwh_per_kw(tariff))
    demand_groups = None
    if needs_peak and demand_periods:
        assert tariff.demand_weekday is not None
        assert tariff.demand_weekend is not None
        demand_groups = _periods(tariff.demand_weekday, tariff.demand_weekend, clock)
    if watts is usage.delivered_wh:
        energy, tou, flat = _reduce(
            usage.delivered_wh,
            sum_groups=groups,
            sum_count=periods,
            max_groups=demand_groups,
            max_count=demand_periods if demand_groups is not None else 0,
            flat=needs_peak,
        )
    else:
        energy, _, _ = _reduce(usage.delivered_wh, sum_groups=groups, sum_count=periods)
        _, tou, flat = _reduce(
            watts,
            max_groups=demand_groups,
            max_count=demand_periods if demand_groups is not None else 0,
            flat=needs_peak,
        )
    if demand_groups is None:
        tou = np.zeros((n, max(demand_periods, 1)), dtype=np.int64)
    flat, tou = flat * per, tou * per
    if usage.received_wh is not None:
        received, _, _ = _reduce(usage.received_wh, sum_groups=groups, sum_count=periods)
    else:
        received = np.zeros_like(energy)
    month_wh = {}
    if tariff.fuel_adjustments_monthly:
        months = np.full(t, -1, dtype=np.int64)
        months[cols] = clock.month[cols]
        by_month, _, _ = _reduce(usage.delivered_wh, sum_groups=months, sum_count=12)
        for month in np.unique(clock.month[cols]).tolist():
            month_wh[int(month) + 1] = by_month[:, int(month)]
    return _Usage(energy, received, month_wh, flat, tou)


def _weighted(values: np.ndarray, weight: Fraction) -> np.ndarray:
    if weight == 1:
        return values
    return _round_half_up(values * weight.numerator, weight.denominator)


def _months_of_piece(piece: _Piece, delivered: np.ndarray) -> dict[int, np.ndarray]:
    """Register usage: the piece's Wh shared among its calendar months by days."""
    counts = _month_days(piece)
    out = {}
    done = np.zeros_like(delivered)
    months = list(counts)
    for i, month in enumerate(months):
        if i == len(months) - 1:
            out[month] = delivered - done
        else:
            share = _round_half_up(delivered * counts[month], piece.days)
            out[month] = share
            done = done + share
    return out


def _energy_periods_in(tariff: Tariff, start: date, end: date) -> list[int]:
    if not tariff.energy_rates:
        return []
    assert tariff.energy_weekday is not None
    assert tariff.energy_weekend is not None
    months = _months_between(start, end)
    found: set[int] = set()
    for month in months:
        found.update(tariff.energy_weekday[month - 1])
        found.update(tariff.energy_weekend[month - 1])
    return sorted(found)


def _demand_periods_in(tariff: Tariff, piece: _Piece) -> list[int]:
    assert tariff.demand_weekday is not None
    assert tariff.demand_weekend is not None
    found: set[int] = set()
    for month in _months_between(piece.span.start_date, piece.span.end_date):
        found.update(tariff.demand_weekday[month - 1])
        found.update(tariff.demand_weekend[month - 1])
    return sorted(found)


def _months_between(start: date, end: date) -> list[int]:
    months = []
    day = start
    while day < end:
        if day.month not in months:
            months.append(day.month)
        day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return months


def _has_kwh_per_kw(tariff: Tariff) -> bool:
    return any(tier.per_kw for period in tariff.energy_rates for tier in period)


def _month_days(piece: _Piece) -> dict[int, int]:
    counts: dict[int, int] = {}
    day = piece.span.start_date
    while day < piece.span.end_date:
        counts[day.month] = counts.get(day.month, 0) + 1
        day += timedelta(days=1)
    return counts


def _constant(n: int, value: int) -> np.ndarray:
    return np.full(n, value, dtype=np.int64)


def _rate_piece(
    *,
    piece: _Piece,
    usage: IntervalUsage | RegisterUsage,
    intervals: _Intervals | None,
    terms: Sequence[AgreementTerms] | None,
    n: int,
) -> list[LineColumn]:
    tariff = piece.span.tariff
    span = piece.span
    prorated = piece.weight != 1
    days_note = f", {piece.days} of {piece.total_days} days" if prorated else ""
    columns: list[LineColumn] = []
    det = _determinants(tariff=tariff, piece=piece, usage=usage, intervals=intervals, n=n)

    # Fixed charge.
    if tariff.fixed_charge_field is not None or tariff.fixed_charge:
        units = tariff.fixed_charge_units
        if units == "$/day":
            qty, unit, factor, price = piece.days, "day", Fraction(1), tariff.fixed_charge
        elif units == "$/year":
            qty, unit, factor = 1, "month", piece.weight
            price = tariff.fixed_charge / 12
        else:
            qty, unit, factor, price = 1, "month", piece.weight, tariff.fixed_charge
        quantity = _constant(n, qty)
        columns.append(
            LineColumn(
                component="fixed",
                description=f"Fixed charge{days_note}",
                unit=unit,
                price=price,
                clause=_label(span, f"fixed charge {units}"),
                quantity=quantity,
                exp=0,
                amount_cents=line_cents(quantity, 0, price, factor),
                factor=factor,
                always=True,
            )
        )
    if tariff.customer_charge_per_day is not None:
        quantity = _constant(n, piece.days)
        columns.append(
            LineColumn(
                component="customer_charge",
                description="Customer charge",
                unit="day",
                price=tariff.customer_charge_per_day,
                clause=_label(span, "customer charge per day"),
                quantity=quantity,
                exp=0,
                amount_cents=line_cents(quantity, 0, tariff.customer_charge_per_day),
                always=True,
            )
        )

    columns.extend(_energy_columns(tariff=tariff, piece=piece, det=det, terms=terms, n=n))
    columns.extend(_demand_columns(tariff=tariff, piece=piece, det=det, n=n, note=days_note))

    if tariff.fuel_adjustments_monthly is not None:
        for month, wh in sorted(det.month_wh.items()):
            price = tariff.fuel_adjustments_monthly[month - 1]
            if price == 0:
                continue
            columns.append(
                LineColumn(
                    component="adjustment",
                    description=f"Fuel adjustment, month {month}",
                    unit="kWh",
                    price=price,
                    clause=_label(span, f"fuel adjustment month {month}"),
                    quantity=wh,
                    exp=-3,
                    amount_cents=line_cents(wh, -3, price),
                )
            )

    if tariff.min_charge is not None:
        if tariff.min_charge_units == "$/day":
            minimum = line_cents(_constant(1, piece.days), 0, tariff.min_charge)[0]
        else:
            minimum = line_cents(_constant(1, 1), 0, tariff.min_charge, piece.weight)[0]
        charged = np.zeros(n, dtype=np.int64)
        for column in columns:
            if column.component in (
                "fixed",
                "customer_charge",
                "energy",
                "adjustment",
                "demand_flat",
                "demand_tou",
                "net_metering",
            ):
                charged += column.amount_cents
        shortfall = np.maximum(int(minimum) - np.maximum(charged, 0), 0)
        columns.append(
            LineColumn(
                component="minimum",
                description=f"Minimum charge ${Decimal(int(minimum)).scaleb(-2)}{days_note}",
                unit="$",
                price=Decimal(1),
                clause=_label(span, f"minimum charge {tariff.min_charge_units}"),
                quantity=shortfall,
                exp=-2,
                amount_cents=shortfall.astype(np.int64),
            )
        )

    columns.extend(_percent_columns(tariff=tariff, span=span, columns=columns, terms=terms, n=n))
    return columns


def _tier_limits_wh(
    *, tariff: Tariff, piece: _Piece, det: _Usage, terms: Sequence[AgreementTerms] | None, n: int
) -> np.ndarray:
    """Upper limits [n, P, T] in Wh (inf for none) of every energy tier in this piece."""
    periods = tariff.energy_rates
    tiers = max(len(p) for p in periods)
    limits = np.full((n, len(periods), tiers), np.inf)
    weight = float(piece.weight)
    for p, period in enumerate(periods):
        for t, tier in enumerate(period):
            if tier.max is None:
                continue
            top = float(tier.max) * 1000.0  # Wh, or Wh per kW
            unit = tier.unit_key
            if unit == "kwh":
                limits[:, p, t] = top * weight
            elif unit == "kwh daily":
                limits[:, p, t] = top * piece.days
            elif unit == "kwh/kw":
                limits[:, p, t] = top * det.flat_peak_w / 1000.0 * weight
            else:  # kWh/kW daily
                limits[:, p, t] = top * det.flat_peak_w / 1000.0 * piece.days
    baseline = tariff.baseline
    if baseline is not None and terms is not None:
        allowance = _baseline_allowance_wh(baseline=baseline, piece=piece, terms=terms)
        known = ~np.isnan(allowance)
        for t, percent in enumerate(baseline.tier_percents):
            limit = allowance * float(percent) / 100.0
            for p in range(len(periods)):
                limits[known, p, t] = limit[known]
    return limits


def _baseline_allowance_wh(
    *, baseline, piece: _Piece, terms: Sequence[AgreementTerms]
) -> np.ndarray:
    """Each agreement's baseline allowance over the piece's days, Wh (NaN: no territory)."""
    month_days = _month_days(piece)
    cache: dict[tuple[str, str, bool], float] = {}
    out = np.full(len(terms), np.nan)
    for i, term in enumerate(terms):
        if term.baseline_territory is None or term.heat_source is None:
            continue
        key = (term.baseline_territory, term.heat_source, term.medical)
        if key not in cache:
            total = Decimal(0)
            for month, days in month_days.items():
                per_day = baseline.kwh_per_day(territory=key[0], heat_source=key[1], month=month)
                if key[2]:
                    per_day += baseline.medical_kwh_per_day
                total += per_day * days
            cache[key] = float(total * 1000)
        out[i] = cache[key]
    return out


def _energy_columns(
    *, tariff: Tariff, piece: _Piece, det: _Usage, terms: Sequence[AgreementTerms] | None, n: int
) -> list[LineColumn]:
    if not tariff.energy_rates:
        return []
    span = piece.span
    net = tariff.net_metering
    delivered = det.energy_wh
    received = det.received_wh
    columns: list[LineColumn] = []
    if net is not None and net.credit == "retail":
        balance = delivered - received
        use = np.maximum(balance, 0)
        surplus = np.maximum(-balance, 0).sum(axis=1)
    else:
        use = delivered
        surplus = received.sum(axis=1) if net is not None else np.zeros(n, dtype=np.int64)
    total = use.sum(axis=1).astype(np.float64)  # [n]
    limits = _tier_limits_wh(tariff=tariff, piece=piece, det=det, terms=terms, n=n)
    safe_total = np.where(total > 0, total, 1.0)
    for p, period in enumerate(tariff.energy_rates):
        share = use[:, p].astype(np.float64)
        previous = np.zeros(n, dtype=np.int64)
        for t, tier in enumerate(period):
            top = np.full(n, np.inf) if t == len(period) - 1 else limits[:, p, t]
            block = np.minimum(total, top)
            # Period p's part of the month's kWh up to this tier's limit, to the Wh; the
            # tiers of one period telescope to exactly the period's Wh.
            cumulative = np.where(total > 0, np.rint(share * block / safe_total), 0).astype(
                np.int64
            )
            if t == len(period) - 1:
                cumulative = use[:, p].astype(np.int64)
            quantity = cumulative - previous
            previous = cumulative
            price = tier.price
            description = f"Energy, period {p + 1}, tier {t + 1}"
            if tier.adj:
                description += f" (rate {tier.rate} + adjustment {tier.adj})"
            columns.append(
                LineColumn(
                    component="energy",
                    description=description,
                    unit="kWh",
                    price=price,
                    clause=_label(span, f"energy period {p + 1} tier {t + 1}"),
                    quantity=quantity,
                    exp=-3,
                    amount_cents=line_cents(quantity, -3, price),
                )
            )
    if net is not None:
        credit = -net.surplus_rate
        columns.append(
            LineColumn(
                component="net_metering",
                description=(
                    "Net surplus credit" if net.credit == "retail" else "Exported energy credit"
                ),
                unit="kWh",
                price=credit,
                clause=_label(span, f"net metering {net.credit}"),
                quantity=surplus.astype(np.int64),
                exp=-3,
                amount_cents=line_cents(surplus.astype(np.int64), -3, credit),
            )
        )
    return columns


def _demand_blocks(peak_w: np.ndarray, period: Period) -> list[np.ndarray]:
    """W of the peak in each demand tier (URDB blocks of kW), SAM's walk."""
    out = []
    lower = np.zeros_like(peak_w)
    remaining = np.ones(peak_w.shape, dtype=bool)
    for tier in period:
        top = None if tier.max is None else int(tier.max * 1000)
        if top is None:
            block = np.where(remaining, peak_w - lower, 0)
            remaining = np.zeros_like(remaining)
        else:
            inside = remaining & (peak_w < top)
            block = np.where(inside, peak_w - lower, np.where(remaining, top - lower, 0))
            remaining = remaining & ~inside
            lower = np.where(remaining, top, lower)
        out.append(np.maximum(block, 0).astype(np.int64))
    return out


def _demand_columns(
    *, tariff: Tariff, piece: _Piece, det: _Usage, n: int, note: str
) -> list[LineColumn]:
    span = piece.span
    columns: list[LineColumn] = []
    if tariff.flat_demand_rates:
        assert tariff.flat_demand_months is not None
        # Months of the piece grouped by their flat demand period; each group's share of days.
        month_days = _month_days(piece)
        groups: dict[int, int] = {}
        for month, days in month_days.items():
            period_index = tariff.flat_demand_months[month - 1]
            groups[period_index] = groups.get(period_index, 0) + days
        for period_index, days in groups.items():
            factor = Fraction(days, piece.total_days)
            blocks = _demand_blocks(det.flat_peak_w, tariff.flat_demand_rates[period_index])
            for t, (tier, watts) in enumerate(
                zip(tariff.flat_demand_rates[period_index], blocks, strict=True)
            ):
                columns.append(
                    LineColumn(
                        component="demand_flat",
                        description=f"Demand, monthly maximum, tier {t + 1}{note}",
                        unit="kW",
                        price=tier.price,
                        clause=_label(span, f"flat demand period {period_index + 1} tier {t + 1}"),
                        quantity=watts,
                        exp=-3,
                        amount_cents=line_cents(watts, -3, tier.price, factor),
                        factor=factor,
                    )
                )
    if tariff.demand_rates:
        for p in _demand_periods_in(tariff, piece):
            blocks = _demand_blocks(det.tou_peak_w[:, p], tariff.demand_rates[p])
            for t, (tier, watts) in enumerate(zip(tariff.demand_rates[p], blocks, strict=True)):
                columns.append(
                    LineColumn(
                        component="demand_tou",
                        description=f"Demand, period {p + 1}, tier {t + 1}{note}",
                        unit="kW",
                        price=tier.price,
                        clause=_label(span, f"demand period {p + 1} tier {t + 1}"),
                        quantity=watts,
                        exp=-3,
                        amount_cents=line_cents(watts, -3, tier.price, piece.weight),
                        factor=piece.weight,
                    )
                )
    return columns


def _percent_columns(
    *,
    tariff: Tariff,
    span: VersionSpan,
    columns: list[LineColumn],
    terms: Sequence[AgreementTerms] | None,
    n: int,
) -> list[LineColumn]:
    added: list[LineColumn] = []

    def base_of(charge: PercentCharge) -> np.ndarray:
        base = np.zeros(n, dtype=np.int64)
        for column in columns + added:
            if column.component in charge.base:
                base += column.amount_cents
        return base

    def enrolled(code: str, attribute: str) -> np.ndarray:
        if terms is None:
            return np.zeros(n, dtype=bool)
        return np.array([code in getattr(term, attribute) for term in terms], dtype=bool)

    for charge in tariff.discounts + tariff.surcharges + tariff.taxes:
        base = base_of(charge)
        if charge.kind == "discount":
            applies = enrolled(charge.code, "programs")
            price = -charge.percent / 100
        else:
            applies = ~enrolled(charge.code, "tax_exempt")
            price = charge.percent / 100
        quantity = np.where(applies, base, 0)
        added.append(
            LineColumn(
                component=charge.kind,
                description=f"{charge.description} ({charge.percent}%)",
                unit="$",
                price=price,
                clause=_label(span, f"{charge.kind} {charge.code}"),
                quantity=quantity,
                exp=-2,
                amount_cents=line_cents(quantity, -2, price),
                applies=applies,
            )
        )
    return added


# -- helpers for callers -------------------------------------------------------------------


def versions_for(
    versions: Sequence[tuple[date, Tariff, str]], start_date: date, end_date: date
) -> list[VersionSpan]:
    """The spans of effective-dated versions ``(effective_date, tariff, label)`` (sorted)
    over a bill period; the version in effect on a day is the latest effective on or before it.

    :raises RatingError: when no version is in effect on the period's first day."""
    ordered = sorted(versions, key=lambda v: v[0])
    spans: list[VersionSpan] = []
    for i, (effective, tariff, label) in enumerate(ordered):
        following = ordered[i + 1][0] if i + 1 < len(ordered) else date.max
        lo, hi = max(effective, start_date), min(following, end_date)
        if lo < hi:
            spans.append(VersionSpan(tariff, lo, hi, label))
    if not spans or spans[0].start_date != start_date:
        raise RatingError("versions", f"no tariff version in effect on {start_date}")
    return spans


__all__ = [
    "AgreementTerms",
    "Bill",
    "BillLine",
    "IntervalUsage",
    "LineColumn",
    "RatedBills",
    "RatingError",
    "RegisterUsage",
    "VersionSpan",
    "line_cents",
    "rate_bills",
    "versions_for",
]
