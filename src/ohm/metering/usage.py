"""Usage read from the interval store for billing determinants and charts, vectorized.

Intervals are stored by UTC day; everything a customer or a tariff sees is in the utility's
local time. Each interval is placed by the local wall-clock time of its start, so a spring
day has 23 hours of intervals, a fall day 25, and a TOU schedule's hour 1 on the fall change
counts both 1 AMs. Missing intervals count as no energy; callers that bill show the estimated
share next to the total: the energy in ESTIMATED intervals over the energy present. EDITED
intervals are an analyst's figures and count as measured (``store.estimated_share_of``, the one
definition the store's ``IntervalSeries`` uses too).

Schedules are URDB-shaped: 12 × 24 period numbers, ``[month - 1][hour]``, one for weekdays and
one for weekends (Saturday and Sunday).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import numpy as np
from django.db import connection
from django.db.models import Q
from numpy.typing import DTypeLike

from ohm.core.localtime import utility_zone
from ohm.core.lookups import Ids, ids_sql
from ohm.metering.models import IntervalDay, Meter, MeterChannel, MeterInstallation, Quality
from ohm.metering.store import (
    FLAG_DTYPE,
    VALUE_DTYPE,
    IntervalSeries,
    current_rows_sql,
    day_number,
    estimated_share_of,
    intervals_per_day,
    load_intervals,
)

_ENERGY = (MeterChannel.Measure.KWH_DELIVERED, MeterChannel.Measure.KWH_RECEIVED)


@dataclass(frozen=True)
class TouSchedule:
    """Period numbers by ``[month - 1][hour]``, weekdays and weekends."""

    weekday: np.ndarray
    weekend: np.ndarray

    @classmethod
    def of(cls, weekday, weekend) -> TouSchedule:
        weekday, weekend = np.asarray(weekday, dtype=np.int64), np.asarray(weekend, dtype=np.int64)
        if weekday.shape != (12, 24) or weekend.shape != (12, 24):
            raise ValueError(f"TOU schedules are 12 × 24, got {weekday.shape} and {weekend.shape}")
        return cls(weekday, weekend)

    @property
    def periods(self) -> list[int]:
        return sorted(set(np.unique(self.weekday).tolist()) | set(np.unique(self.weekend).tolist()))


@dataclass(frozen=True)
class DailyUsage:
    local_date: date
    delivered_kwh: float
    received_kwh: float
    estimated_share: float


@dataclass(frozen=True)
class HourlyUsage:
    start_at: datetime  # aware, UTC
    local_start: datetime  # naive wall clock for labels; the fall change shows 1 AM twice
    delivered_kwh: float
    received_kwh: float
    estimated_share: float


@dataclass(frozen=True)
class IntervalMatrix:
    """Many channels of one interval length over one period: row *k* is ``channel_ids[k]``."""

    channel_ids: np.ndarray  # int64 [k]
    interval_minutes: int
    starts: np.ndarray  # datetime64[m], UTC start of each interval [t]
    values: np.ndarray  # float64 [k, t] (or the dtype ``load_many`` was asked for)
    flags: np.ndarray  # uint8 Quality [k, t]


# -- local time ---------------------------------------------------------------------------


def _minutes(moment: np.datetime64) -> int:
    return int(moment.astype("datetime64[m]").astype(np.int64))


def _offset_minutes(minute: int, zone: tzinfo) -> int:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
    offset = moment.astimezone(zone).utcoffset()
    if offset is None:
        raise ValueError(f"{zone!r} gives no UTC offset at {moment.isoformat()}")
    return int(offset.total_seconds() // 60)


def utc_offsets(starts: np.ndarray, zone: tzinfo) -> np.ndarray:
    """The zone's UTC offset in minutes at each instant of ``starts`` (datetime64, UTC).

    The zone is asked once per UTC day boundary and, on the few days whose offset changes,
    a binary search finds the minute of the change — so a year of quarter-hours costs a few
    hundred zone look-ups, not thirty-five thousand."""
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64)
    minutes = starts.astype("datetime64[m]").astype(np.int64)
    first_day = int(minutes.min()) // 1440 * 1440
    last_day = int(minutes.max()) // 1440 * 1440 + 1440
    bounds = list(range(first_day, last_day + 1, 1440))
    offsets = [_offset_minutes(m, zone) for m in bounds]
    change_at, change_to = [bounds[0]], [offsets[0]]
    for lo, hi, before, after in zip(
        bounds[:-1], bounds[1:], offsets[:-1], offsets[1:], strict=True
    ):
        if before == after:
            continue
        while hi - lo > 1:  # the offset at lo is "before" and at hi "after"
            middle = (lo + hi) // 2
            if _offset_minutes(middle, zone) == before:
                lo = middle
            else:
                hi = middle
        change_at.append(hi)
        change_to.append(after)
    index = np.searchsorted(np.array(change_at), minutes, side="right") - 1
    return np.array(change_to, dtype=np.int64)[index]


def local_times(starts: np.ndarray, zone: tzinfo) -> np.ndarray:
    """Local wall-clock times (datetime64[m], naive) of UTC instants."""
    return starts.astype("datetime64[m]") + utc_offsets(starts, zone).astype("timedelta64[m]")


def tou_periods(starts: np.ndarray, schedule: TouSchedule, zone: tzinfo) -> np.ndarray:
    """The TOU period of each interval from the local month, hour and day of week of its start."""
    local = local_times(starts, zone)
    local_day = local.astype("datetime64[D]")
    month = local.astype("datetime64[M]").astype(np.int64) % 12
    hour = (local - local_day).astype("timedelta64[m]").astype(np.int64) // 60
    weekend = (local_day.astype(np.int64) + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    return np.where(weekend, schedule.weekend[month, hour], schedule.weekday[month, hour])


# -- loading ------------------------------------------------------------------------------


def load_many(
    channel_ids: Iterable[int],
    start_at: datetime,
    end_at: datetime,
    *,
    interval_minutes: int | None = None,
    dtype: DTypeLike = np.float64,
) -> IntervalMatrix:
    """The current intervals of many channels of one interval length starting in
    ``[start_at, end_at)``, in one query; what was never received is MISSING zeros.

    A caller that read the channels' interval length with the channels passes it and saves
    the look-up; rows of another length then fail the size check. ``dtype`` ``float32`` keeps
    the values as stored (exact, half the memory of the default float64)."""
    ids = sorted({int(c) for c in channel_ids})
    if interval_minutes is None:
        lengths = set(
            MeterChannel.objects.filter(pk__any=Ids(ids)).values_list("interval_minutes", flat=True)
        )
        interval_minutes = next(iter(lengths)) if len(lengths) == 1 else None
        if interval_minutes is None:
            raise ValueError(
                f"load_many needs interval channels of one length, got {sorted(lengths, key=str)}"
            )
    return _load_matrix(ids, interval_minutes, start_at, end_at, dtype=dtype)


def _load_matrix(
    ids: list[int],
    minutes: int,
    start_at: datetime,
    end_at: datetime,
    *,
    dtype: DTypeLike = np.float64,
) -> IntervalMatrix:
    rows = load_rows(ids, start_at, end_at, interval_minutes=minutes)
    values, flags = rows.rows(range(len(ids)), dtype=dtype)
    return IntervalMatrix(rows.channel_ids, minutes, rows.starts, values, flags)


def load_rows(
    channel_ids: Sequence[int], start_at: datetime, end_at: datetime, *, interval_minutes: int
) -> IntervalRows:
    """Like ``load_many`` for channels of ``interval_minutes`` (``channel_ids`` sorted, no
    repeats), but the matrix's rows are made on demand (``IntervalRows.rows``), so a bill
    run's chunk can work through them a block of channels at a time."""
    ids = [int(c) for c in channel_ids]
    n = intervals_per_day(interval_minutes)
    first_day = start_at.astimezone(UTC).date()
    last_day = (end_at.astimezone(UTC) - timedelta(microseconds=1)).date()
    days = (last_day - first_day).days + 1
    found, data, offsets = _current_day_groups(ids, first_day, last_day)
    data_of: list[bytes | None]
    offsets_of: list[np.ndarray | None]
    if np.array_equal(found, ids):
        data_of, offsets_of = list(data), offsets
    else:  # channels without rows (or a database that grouped them in another order)
        data_of, offsets_of = [None] * len(ids), [None] * len(ids)
        positions = np.searchsorted(np.asarray(ids, dtype=np.int64), found).tolist()
        for position, one, days_at in zip(positions, data, offsets, strict=True):
            data_of[position], offsets_of[position] = one, days_at
    base = np.datetime64(datetime.combine(first_day, time.min), "m")
    starts = base + np.arange(days * n) * np.timedelta64(interval_minutes, "m")
    lo = np.datetime64(start_at.astimezone(UTC).replace(tzinfo=None), "m")
    hi = np.datetime64(end_at.astimezone(UTC).replace(tzinfo=None), "m")
    # The starts ascend: the window is one slice of each row.
    first, stop = np.searchsorted(starts, lo), np.searchsorted(starts, hi)
    return IntervalRows(
        np.array(ids, dtype=np.int64),
        interval_minutes,
        starts[first:stop],
        days,
        slice(int(first), int(stop)),
        data_of,
        offsets_of,
    )


@dataclass(frozen=True)
class IntervalRows:
    """Many channels' current day rows as the database sent them: ``rows`` makes the
    (channel, interval) matrix of any of them, so a caller never needs to hold a whole
    chunk's matrix (tens of MB, each new one faulted in from the kernel) and works on
    blocks that stay in the CPU's cache."""

    channel_ids: np.ndarray  # int64 [k], ascending
    interval_minutes: int
    starts: np.ndarray  # datetime64[m], UTC start of each interval of the window [t]
    days: int  # UTC days the rows span
    window: slice  # the window's intervals among the days' intervals
    #: Per channel: its rows' bytes (each day's values, then its flags) or None (no rows).
    data: list[bytes | None]
    #: Per channel: each row's day as an offset from the first day, or None when the channel
    #: has every day, in order.
    day_offsets: list[np.ndarray | None]

    def rows(
        self, index: Sequence[int], *, dtype: DTypeLike = np.float32
    ) -> tuple[np.ndarray, np.ndarray]:
        """(values ``dtype`` [r, t], flags uint8 [r, t]) of the channels at ``index``;
        intervals never received are MISSING zeros."""
        n = intervals_per_day(self.interval_minutes)
        value_bytes = n * VALUE_DTYPE.itemsize
        width = value_bytes + n * FLAG_DTYPE.itemsize
        picked = [self.data[k] for k in index]
        offsets = [self.day_offsets[k] for k in index]
        r = len(picked)
        full = [i for i in range(r) if picked[i] is not None and offsets[i] is None]
        if len(full) == r:
            values = np.empty((r, self.days, n), dtype=dtype)
            flags = np.empty((r, self.days, n), dtype=FLAG_DTYPE)
        else:
            values = np.zeros((r, self.days, n), dtype=dtype)
            flags = np.full((r, self.days, n), Quality.MISSING, dtype=FLAG_DTYPE)
        if full:
            # Channels with every day: their bytes, joined, are their part of the matrix.
            joined = np.frombuffer(b"".join([picked[i] or b"" for i in full]), dtype=np.uint8)
            if joined.size != len(full) * self.days * width:
                raise ValueError(
                    f"interval rows of channels {self.channel_ids[:5]}… are not {n} values long"
                )
            whole = joined.reshape(len(full), self.days, width)
            at = slice(None) if len(full) == r else full
            values[at] = whole[:, :, :value_bytes].view(VALUE_DTYPE)
            flags[at] = whole[:, :, value_bytes:]
        for i in range(r):
            one, days_at = picked[i], offsets[i]
            if one is None or days_at is None:
                continue
            some = np.frombuffer(one, dtype=np.uint8)
            if some.size != len(days_at) * width:
                raise ValueError(
                    f"interval rows of channel {self.channel_ids[index[i]]} are not {n} values long"
                )
            by_day = some.reshape(len(days_at), width)
            values[i, days_at] = by_day[:, :value_bytes].view(VALUE_DTYPE)
            flags[i, days_at] = by_day[:, value_bytes:]
        return (
            values.reshape(r, self.days * n)[:, self.window],
            flags.reshape(r, self.days * n)[:, self.window],
        )


def _current_day_groups(
    ids: list[int], first_day: date, last_day: date
) -> tuple[np.ndarray, list[bytes], list[np.ndarray | None]]:
    """The current rows of ``ids`` (sorted) on ``[first_day, last_day]``, one group per
    channel that has any: (channel ids, each one's rows' bytes — each day's values then its
    flags — and each one's days as offsets from ``first_day``, None when it has every day
    of the window in order). The database concatenates each channel's days, so a bill run's
    chunk costs a few thousand Python objects rather than a few per day row (~1.5 µs a row
    through the driver)."""
    if not ids:
        return np.zeros(0, dtype=np.int64), [], []
    q = connection.ops.quote_name
    table = q(IntervalDay._meta.db_table)
    params = [
        connection.ops.adapt_datefield_value(first_day),
        connection.ops.adapt_datefield_value(last_day),
    ]
    if connection.vendor == "sqlite":
        # "+day" keeps the day test off the (day, channel) index, which SQLite would walk over
        # every channel of those days; it seeks each channel's days instead. The days come as
        # their stored text ("YYYY-MM-DD", ten characters each, concatenated): a channel with
        # every day of the window matches one expected string and needs no parsing. The two
        # aggregates see the rows in one order, so days and bytes line up.
        sql = (
            "SELECT channel_id, group_concat(day, ''),"
            f" group_concat({q('values')} || flags, '')"
            f" FROM {table} WHERE {current_rows_sql()} AND +day >= %s AND +day <= %s"
        )
    else:
        sql = (
            "SELECT channel_id, array_agg(day - DATE '1970-01-01' ORDER BY day),"
            f" string_agg({q('values')} || flags, ''::bytea ORDER BY day)"
            f" FROM {table} WHERE {current_rows_sql()} AND day >= %s AND day <= %s"
        )
    where, extra, exact = ids_sql("channel_id", ids)
    with connection.cursor() as cursor:
        raw = cursor.connection if connection.vendor == "sqlite" else None
        if raw is not None:
            # The concatenated bytes come back as TEXT: take them as bytes, undecoded.
            text_factory, raw.text_factory = raw.text_factory, bytes
        try:
            cursor.execute(f"{sql} AND {where} GROUP BY channel_id", [*params, *extra])
            fetched = cursor.fetchall()
        finally:
            if raw is not None:
                raw.text_factory = text_factory
    if not exact:  # a range took in channels between the ids
        wanted = set(ids)
        fetched = [row for row in fetched if row[0] in wanted]
    if not fetched:
        return np.zeros(0, dtype=np.int64), [], []
    channel_col, day_col, data_col = zip(*fetched, strict=True)
    channel_ids = np.array(channel_col, dtype=np.int64)
    first = day_number(first_day)
    window = (last_day - first_day).days + 1
    offsets: list[np.ndarray | None]
    if raw is not None:
        expected = b"".join(
            (first_day + timedelta(days=k)).isoformat().encode() for k in range(window)
        )
        offsets = [
            None
            if days == expected
            else np.frombuffer(days, dtype="S10").astype("datetime64[D]").astype(np.int64) - first
            for days in day_col
        ]
        return channel_ids, list(data_col), offsets
    every_day = list(range(first, first + window))
    offsets = [None if days == every_day else np.array(days) - first for days in day_col]
    return channel_ids, [bytes(d) for d in data_col], offsets


def list_usage_channels(
    *,
    service_point_id: int,
    start_at: datetime,
    end_at: datetime,
    measure: str = MeterChannel.Measure.KWH_DELIVERED,
) -> list[tuple[MeterChannel, datetime, datetime]]:
    """The interval channels measuring ``measure`` at a service point over ``[start_at,
    end_at)``, each with the part of the period its meter was installed there — what a bill
    period sums when a meter was exchanged in the middle of it."""
    installations = (
        MeterInstallation.objects.filter(service_point_id=service_point_id, installed_at__lt=end_at)
        .filter(Q(removed_at__isnull=True) | Q(removed_at__gt=start_at))
        .order_by("installed_at")
        .prefetch_related("meter__channels")
    )
    found = []
    for installation in installations:
        for channel in installation.meter.channels.all():
            if channel.measure == measure and channel.interval_minutes:
                found.append(
                    (
                        channel,
                        max(start_at, installation.installed_at),
                        min(end_at, installation.removed_at or end_at),
                    )
                )
    return found


# -- determinants -------------------------------------------------------------------------


def _present(series: IntervalSeries | IntervalMatrix) -> np.ndarray:
    return series.flags != Quality.MISSING


def energy_by_tou_period_many(
    matrix: IntervalMatrix, schedule: TouSchedule, *, tz: tzinfo | None = None
) -> tuple[list[int], np.ndarray]:
    """kWh per TOU period for every channel of ``matrix``: ``(periods, [channels, periods])``."""
    periods = schedule.periods
    index = np.searchsorted(periods, tou_periods(matrix.starts, schedule, tz or utility_zone()))
    energy = np.where(_present(matrix), matrix.values, 0.0)
    totals = np.zeros((len(matrix.channel_ids), len(periods)))
    for column in range(len(periods)):
        totals[:, column] = energy[:, index == column].sum(axis=1)
    return periods, totals


def energy_by_tou_period(
    *,
    channel: MeterChannel,
    start_at: datetime,
    end_at: datetime,
    weekday_schedule,
    weekend_schedule,
    tz: tzinfo | None = None,
) -> dict[int, float]:
    """kWh of ``channel`` in each TOU period over ``[start_at, end_at)``; every period of the
    schedules appears, with 0.0 when none of its hours fall in the period."""
    schedule = TouSchedule.of(weekday_schedule, weekend_schedule)
    series = load_intervals(channel=channel, start_at=start_at, end_at=end_at)
    periods = schedule.periods
    index = np.searchsorted(periods, tou_periods(series.starts, schedule, tz or utility_zone()))
    present = _present(series)
    totals = np.bincount(index[present], weights=series.values[present], minlength=len(periods))
    return {period: float(totals[k]) for k, period in enumerate(periods)}


def max_demand_kw(
    *,
    channel: MeterChannel,
    start_at: datetime,
    end_at: datetime,
    schedule: TouSchedule | None = None,
    tz: tzinfo | None = None,
) -> dict[int, float]:
    """The highest interval-average kW in each TOU period (period 0 for all hours when there is
    no schedule): energy per interval × 60 / interval minutes, or the demand channel's own kW."""
    series = load_intervals(channel=channel, start_at=start_at, end_at=end_at)
    kw = (
        series.values * (60 / series.interval_minutes)
        if channel.measure in _ENERGY
        else series.values
    )
    present = _present(series)
    if schedule is None:
        return {0: float(kw[present].max()) if present.any() else 0.0}
    periods = tou_periods(series.starts, schedule, tz or utility_zone())
    found = {}
    for period in schedule.periods:
        mine = present & (periods == period)
        found[period] = float(kw[mine].max()) if mine.any() else 0.0
    return found


def share_estimated(values: np.ndarray, flags: np.ndarray) -> float:
    """The share of the energy that was estimated (``store.estimated_share_of``: ESTIMATED
    intervals only; EDITED ones are a person's verified figures and count as measured)."""
    return estimated_share_of(values, flags)


def estimated_share(*, channel: MeterChannel, start_at: datetime, end_at: datetime) -> float:
    """Share of ``channel``'s energy over ``[start_at, end_at)`` that VEE estimated."""
    series = load_intervals(channel=channel, start_at=start_at, end_at=end_at)
    return share_estimated(series.values, series.flags)


# -- chart series -------------------------------------------------------------------------


def _meter_channel(meter: Meter, measure: str) -> MeterChannel | None:
    return next(
        (c for c in meter.channels.all() if c.measure == measure and c.interval_minutes), None
    )


def _bucketed(
    channel: MeterChannel | None, start_at: datetime, end_at: datetime, bucket_of, buckets: int
) -> tuple[np.ndarray, np.ndarray]:
    """(kWh, estimated kWh) of a channel summed into buckets by ``bucket_of(starts)``."""
    if channel is None:
        return np.zeros(buckets), np.zeros(buckets)
    if channel.interval_minutes is None:
        raise ValueError(f"{channel} is a register-only channel; it has no intervals to chart")
    matrix = _load_matrix([channel.pk], channel.interval_minutes, start_at, end_at)
    values, flags = matrix.values[0], matrix.flags[0]
    index = bucket_of(matrix.starts)
    present = flags != Quality.MISSING
    energy = np.bincount(index[present], weights=values[present], minlength=buckets)[:buckets]
    estimated = flags == Quality.ESTIMATED
    return energy, np.bincount(index[estimated], weights=values[estimated], minlength=buckets)[
        :buckets
    ]


def _shares(*pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    total = sum(np.abs(energy) for energy, _ in pairs)
    estimated = sum(np.abs(part) for _, part in pairs)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, estimated / total, 0.0)


def daily_usage(
    *, meter: Meter, start_date: date, end_date: date, tz: tzinfo | None = None
) -> list[DailyUsage]:
    """kWh delivered and received per local day of ``[start_date, end_date)``: each day sums
    exactly the intervals that start in it (92 quarter-hours in spring, 100 in the fall)."""
    zone = tz or utility_zone()
    days = (end_date - start_date).days
    if days <= 0:
        return []
    start_at = datetime.combine(start_date, time.min, tzinfo=zone).astimezone(UTC)
    end_at = datetime.combine(end_date, time.min, tzinfo=zone).astimezone(UTC)
    first = np.datetime64(start_date, "D")

    def day_of(starts: np.ndarray) -> np.ndarray:
        return (local_times(starts, zone).astype("datetime64[D]") - first).astype(np.int64)

    delivered = _bucketed(
        _meter_channel(meter, MeterChannel.Measure.KWH_DELIVERED), start_at, end_at, day_of, days
    )
    received = _bucketed(
        _meter_channel(meter, MeterChannel.Measure.KWH_RECEIVED), start_at, end_at, day_of, days
    )
    shares = _shares(delivered, received)
    return [
        DailyUsage(
            start_date + timedelta(days=k),
            float(delivered[0][k]),
            float(received[0][k]),
            float(shares[k]),
        )
        for k in range(days)
    ]


def hourly_usage(
    *, meter: Meter, start_at: datetime, end_at: datetime, tz: tzinfo | None = None
) -> list[HourlyUsage]:
    """kWh delivered and received per clock hour of ``[start_at, end_at)`` (whole hours in
    UTC, which are whole hours in every zone Ohm serves); hour starts shown in local time."""
    zone = tz or utility_zone()
    first = start_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = int(-(-(end_at - first).total_seconds() // 3600))
    if hours <= 0:
        return []
    base = _minutes(np.datetime64(first.replace(tzinfo=None), "m"))

    def hour_of(starts: np.ndarray) -> np.ndarray:
        return (starts.astype("datetime64[m]").astype(np.int64) - base) // 60

    delivered = _bucketed(
        _meter_channel(meter, MeterChannel.Measure.KWH_DELIVERED), start_at, end_at, hour_of, hours
    )
    received = _bucketed(
        _meter_channel(meter, MeterChannel.Measure.KWH_RECEIVED), start_at, end_at, hour_of, hours
    )
    shares = _shares(delivered, received)
    starts = np.datetime64(first.replace(tzinfo=None), "m") + np.arange(hours) * np.timedelta64(
        60, "m"
    )
    utc = starts.astype("datetime64[us]").tolist()
    wall = local_times(starts, zone).astype("datetime64[us]").tolist()
    columns = zip(
        utc, wall, delivered[0].tolist(), received[0].tolist(), shares.tolist(), strict=True
    )
    return [
        HourlyUsage(start.replace(tzinfo=UTC), label, d, r, share)
        for start, label, d, r, share in columns
    ]
