"""Billing determinants from the interval store, for many service agreements at once.

For each agreement and bill period ``[start_date, end_date)`` (local days) this finds the
interval channels installed at its service point (a meter exchanged mid-period contributes
from each meter for the part it was installed), loads them in one query per interval length
and period, and sums them into one integer-Wh row per agreement on the period's grid of
interval starts — exactly the intervals whose local start falls in the period (23 hours on the
spring DST day, 25 in the fall). Missing intervals count as no energy; the share of them and
the share VEE estimated are determinants of their own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
from django.db import connection

from ohm.core.localtime import start_of_day, utility_zone
from ohm.core.lookups import ids_sql
from ohm.metering.models import MeterChannel, MeterInstallation, Quality
from ohm.metering.usage import TouSchedule, load_rows, tou_periods


@dataclass(frozen=True)
class Want:
    """One agreement's bill period at its service point."""

    agreement_id: int
    service_point_id: int
    start_date: date
    end_date: date


@dataclass
class Grid:
    """Agreements sharing a period and an interval length: row *k* is ``agreement_ids[k]``."""

    start_date: date
    end_date: date
    interval_minutes: int
    agreement_ids: list[int]
    starts: np.ndarray  # datetime64[m] UTC interval starts
    delivered_wh: np.ndarray  # int64 [n, t]
    received_wh: np.ndarray  # int64 [n, t]
    estimated_share: np.ndarray  # float [n]
    missing_share: np.ndarray  # float [n]
    has_received: bool = False

    @property
    def usage_wh(self) -> np.ndarray:
        return self.delivered_wh.sum(axis=1)

    @property
    def max_demand_w(self) -> np.ndarray:
        """Highest interval-average W: Wh × 60 / minutes."""
        if self.delivered_wh.shape[1] == 0:
            return np.zeros(len(self.agreement_ids), dtype=np.int64)
        return self.delivered_wh.max(axis=1) * (60 // self.interval_minutes)

    def _period_runs(self, schedule: TouSchedule) -> tuple[list[int], np.ndarray, np.ndarray]:
        """The schedule's periods, the first column of each run of intervals in one period
        (the grid is a few runs a day), and each run's period as an index into the periods."""
        periods = schedule.periods
        index = np.searchsorted(periods, tou_periods(self.starts, schedule, utility_zone()))
        first = np.flatnonzero(np.r_[True, index[1:] != index[:-1]]) if len(index) else index
        return periods, first, index[first]

    def wh_by_period(
        self, schedule: TouSchedule, rows: np.ndarray | slice | None = None
    ) -> tuple[list[int], np.ndarray]:
        """Delivered Wh per TOU period of ``schedule`` (local time): (periods, [n, P]), for
        every agreement or those at ``rows``. Integer sums: each run of intervals in one
        period, then the runs of each period."""
        periods, first, run_period = self._period_runs(schedule)
        delivered = self.delivered_wh if rows is None else self.delivered_wh[rows]
        out = np.zeros((len(delivered), len(periods)), dtype=np.int64)
        if len(first):
            runs = np.add.reduceat(delivered, first, axis=1)
            for k in range(len(periods)):
                mine = run_period == k
                if mine.any():
                    out[:, k] = runs[:, mine].sum(axis=1)
        return periods, out

    def demand_by_period(
        self, schedule: TouSchedule, rows: np.ndarray | slice | None = None
    ) -> tuple[list[int], np.ndarray]:
        """Highest interval-average W in each TOU period (0 where a period has no interval)."""
        periods, first, run_period = self._period_runs(schedule)
        delivered = self.delivered_wh if rows is None else self.delivered_wh[rows]
        out = np.zeros((len(delivered), len(periods)), dtype=np.int64)
        if len(first):
            runs = np.maximum.reduceat(delivered, first, axis=1)
            for k in range(len(periods)):
                mine = run_period == k
                if mine.any():
                    out[:, k] = runs[:, mine].max(axis=1) * (60 // self.interval_minutes)
        return periods, out


@dataclass
class Loaded:
    grids: list[Grid] = field(default_factory=list)
    #: Agreements with no interval channel at their service point in the period.
    without_intervals: list[int] = field(default_factory=list)


def _to_minutes(moment: datetime) -> np.datetime64:
    """A naive UTC datetime as a minute."""
    return np.datetime64(moment, "m")


def _utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _installations(
    service_point_ids: list[int], first_at: datetime, last_at: datetime
) -> list[tuple[int, int, datetime, datetime | None]]:
    """(service point, meter, installed_at, removed_at) of the installations overlapping
    ``[first_at, last_at)`` at ``service_point_ids`` (sorted), times naive UTC. Raw SQL: the
    ORM's converters parse each timestamp with a regex (~5 µs; a bill run reads one per bill)."""
    q = connection.ops.quote_name
    where, params, exact = ids_sql("service_point_id", service_point_ids)
    sqlite = connection.vendor == "sqlite"
    # An expression has no declared type, so SQLite hands the stored text over unconverted.
    installed, removed = (
        ("CAST(installed_at AS TEXT)", "CAST(removed_at AS TEXT)")
        if sqlite
        else ("installed_at", "removed_at")
    )
    sql = (
        f"SELECT service_point_id, meter_id, {installed}, {removed}"
        f" FROM {q(MeterInstallation._meta.db_table)} WHERE {where}"
        " AND installed_at < %s AND (removed_at IS NULL OR removed_at > %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                *params,
                connection.ops.adapt_datetimefield_value(last_at),
                connection.ops.adapt_datetimefield_value(first_at),
            ],
        )
        fetched = cursor.fetchall()
    if not exact:
        wanted = set(service_point_ids)
        fetched = [row for row in fetched if row[0] in wanted]
    # Stored in UTC: SQLite's text is naive UTC, PostgreSQL's values are aware.
    parse = datetime.fromisoformat if sqlite else _utc_naive
    return [
        (sp_id, meter_id, parse(installed_at), None if removed_at is None else parse(removed_at))
        for sp_id, meter_id, installed_at, removed_at in fetched
    ]


def _energy_channels(meter_ids: list[int]) -> dict[int, dict[str, tuple[int, int]]]:
    """Each meter's first interval channel of each energy measure: {meter: {measure: (channel,
    minutes)}}, first by channel number as the model orders them."""
    q = connection.ops.quote_name
    where, params, exact = ids_sql("meter_id", meter_ids)
    sql = (
        f"SELECT id, meter_id, measure, interval_minutes FROM {q(MeterChannel._meta.db_table)}"
        f" WHERE {where} AND interval_minutes IS NOT NULL AND measure IN (%s, %s)"
        " ORDER BY meter_id, number"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [*params, MeterChannel.Measure.KWH_DELIVERED, MeterChannel.Measure.KWH_RECEIVED]
        )
        fetched = cursor.fetchall()
    wanted = None if exact else set(meter_ids)
    channels: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for channel_id, meter_id, measure, minutes in fetched:
        if wanted is None or meter_id in wanted:
            channels[meter_id].setdefault(measure, (channel_id, int(minutes or 0)))
    return channels


def load_determinants(wants: Sequence[Want]) -> Loaded:
    """Interval rows for every agreement of ``wants``, grouped by period and interval length."""
    loaded = Loaded()
    if not wants:
        return loaded
    # Local midnights as naive UTC datetimes, once per date: comparing naive datetimes is a
    # few times cheaper than comparing aware ones, and the run compares several per bill.
    starts: dict[date, datetime] = {}

    def day_start(day: date) -> datetime:
        found = starts.get(day)
        if found is None:
            found = starts[day] = _utc_naive(start_of_day(day))
        return found

    first_at = start_of_day(min(w.start_date for w in wants))
    last_at = start_of_day(max(w.end_date for w in wants))
    meters_at: dict[int, list[tuple[int, datetime, datetime | None]]] = defaultdict(list)
    for sp_id, meter_id, installed_at, removed_at in _installations(
        sorted({w.service_point_id for w in wants}), first_at, last_at
    ):
        meters_at[sp_id].append((meter_id, installed_at, removed_at))
    channels = _energy_channels(sorted({m for rows in meters_at.values() for m, _, _ in rows}))
    delivered_measure = MeterChannel.Measure.KWH_DELIVERED
    received_measure = MeterChannel.Measure.KWH_RECEIVED
    no_channels: dict[str, tuple[int, int]] = {}

    # (start, end, minutes) -> [(want, [(delivered, received | None, from_at, to_at)])], the
    # channels as (id, minutes) and the times naive UTC.
    groups: dict[tuple[date, date, int], list[tuple[Want, list]]] = defaultdict(list)
    for want in wants:
        start_at, end_at = day_start(want.start_date), day_start(want.end_date)
        parts = []
        for meter_id, installed_at, removed_at in meters_at.get(want.service_point_id, ()):
            lo = installed_at if installed_at > start_at else start_at
            hi = removed_at if removed_at is not None and removed_at < end_at else end_at
            mine = channels.get(meter_id, no_channels)
            delivered = mine.get(delivered_measure)
            if hi <= lo or delivered is None:
                continue
            parts.append((delivered, mine.get(received_measure), lo, hi))
        if len(parts) == 1:
            minutes = parts[0][0][1]
        else:
            lengths = {minutes for (_, minutes), _, _, _ in parts}
            if len(lengths) != 1:
                loaded.without_intervals.append(want.agreement_id)
                continue
            minutes = lengths.pop()
        groups[(want.start_date, want.end_date, minutes)].append((want, parts))

    for (start_date, end_date, minutes), members in groups.items():
        loaded.grids.append(
            _grid(
                start_date, end_date, minutes, members, day_start(start_date), day_start(end_date)
            )
        )
    return loaded


#: Channels a block: a block's float64 and int64 temporaries (~1.5 MB for a month of hours)
#: stay in the CPU's cache, where a whole chunk's (~30 MB each) would go to memory and back.
_BLOCK_ROWS = 256


def _at(index: np.ndarray) -> np.ndarray | slice:
    """``index`` as a slice when it is a run of consecutive rows (no gather, no copy)."""
    if len(index) and bool((np.diff(index) == 1).all()):
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


@dataclass
class _Block:
    """Integer Wh of some channel rows and what the shares need from them."""

    wh: np.ndarray  # int64 [r, t]
    absolute_wh: np.ndarray  # int64 [r]: sum of |Wh|
    estimated_wh: np.ndarray  # int64 [r]: sum of |Wh| of ESTIMATED intervals
    missing: np.ndarray  # int64 [r]: MISSING intervals


def _block(values: np.ndarray, flags: np.ndarray) -> _Block:
    """Wh = rint(kWh × 1000) of present intervals, 0 for missing ones. The stored float32
    kWh widen to float64 before the multiply (the product is rounded in float64)."""
    present = flags != Quality.MISSING
    kwh = np.where(present, values, np.zeros((), dtype=values.dtype)).astype(np.float64)
    kwh *= 1000
    wh = np.rint(kwh, out=kwh).astype(np.int64)
    absolute = np.abs(wh)
    estimated_flags = flags == Quality.ESTIMATED
    estimated = (
        np.where(estimated_flags, absolute, 0).sum(axis=1)
        if estimated_flags.any()
        else np.zeros(len(wh), dtype=np.int64)
    )
    missing = len(present[0]) - np.count_nonzero(present, axis=1) if len(wh) else np.zeros(0)
    return _Block(wh, absolute.sum(axis=1), estimated, missing)


def _grid(
    start_date: date,
    end_date: date,
    minutes: int,
    members: list,
    period_start: datetime,
    period_end: datetime,
) -> Grid:
    """One grid from its members' parts; ``period_start``/``period_end`` naive UTC."""
    ids: set[int] = set()
    for _, parts in members:
        for (delivered_id, _), received, _, _ in parts:
            ids.add(delivered_id)
            if received is not None:
                ids.add(received[0])
    stored = load_rows(
        sorted(ids),
        period_start.replace(tzinfo=UTC),
        period_end.replace(tzinfo=UTC),
        interval_minutes=minutes,
    )
    starts = stored.starts
    row_of = {c: k for k, c in enumerate(stored.channel_ids.tolist())}
    n, t = len(members), len(starts)
    has_received = any(received is not None for _, parts in members for _, received, _, _ in parts)
    # The usual member: one meter installed through the whole period — whole rows, by block.
    # Members with a meter exchange (several parts, or part of the period) go by window below.
    whole = [
        k
        for k, (_, parts) in enumerate(members)
        if len(parts) == 1 and parts[0][2] <= period_start and parts[0][3] >= period_end
    ]
    delivered = (
        np.empty((n, t), dtype=np.int64) if len(whole) == n else np.zeros((n, t), dtype=np.int64)
    )
    # No exporting meter in the group (the usual case): one shared row of zeros, not a matrix.
    received = (
        np.zeros((n, t), dtype=np.int64)
        if has_received
        else np.broadcast_to(np.zeros(t, dtype=np.int64), (n, t))
    )
    estimated = np.zeros(n)
    missing = np.zeros(n)
    if whole:
        at = np.array(whole, dtype=np.int64)
        rows = [row_of[members[k][1][0][0][0]] for k in whole]
        for lo in range(0, len(whole), _BLOCK_ROWS):
            at_block = _at(at[lo : lo + _BLOCK_ROWS])
            block = _block(*stored.rows(rows[lo : lo + _BLOCK_ROWS]))
            delivered[at_block] = block.wh
            estimated[at_block] = np.divide(
                block.estimated_wh,
                block.absolute_wh,
                out=np.zeros(len(block.wh)),
                where=block.absolute_wh != 0,
            )
            missing[at_block] = block.missing / t if t else 1.0
        with_received = [
            (k, row_of[members[k][1][0][1][0]]) for k in whole if members[k][1][0][1] is not None
        ]
        if with_received:
            at_r, rows_r = zip(*with_received, strict=True)
            for lo in range(0, len(at_r), _BLOCK_ROWS):
                at_block = _at(np.array(at_r[lo : lo + _BLOCK_ROWS], dtype=np.int64))
                received[at_block] = _block(*stored.rows(rows_r[lo : lo + _BLOCK_ROWS])).wh
    done = set(whole)
    blocks: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def one_row(channel_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(Wh [t], flags [t]) of one channel."""
        found = blocks.get(channel_id)
        if found is None:
            values, flags = stored.rows([row_of[channel_id]])
            found = blocks[channel_id] = (_block(values, flags).wh[0], flags[0])
        return found

    for k, (_want, parts) in enumerate(members):
        if k in done:
            continue
        est_wh = total_wh = 0
        missing_count = 0
        covered = np.zeros(t, dtype=bool)
        for (delivered_id, _), received_part, lo, hi in parts:
            window = (starts >= _to_minutes(lo)) & (starts < _to_minutes(hi))
            covered |= window
            row_wh, row_flags = one_row(delivered_id)
            wh, flags = row_wh[window], row_flags[window]
            delivered[k, window] += wh
            missing_count += int((flags == Quality.MISSING).sum())
            total_wh += int(np.abs(wh).sum())
            est_wh += int(np.abs(wh[flags == Quality.ESTIMATED]).sum())
            if received_part is not None:
                received[k, window] += one_row(received_part[0])[0][window]
        # Intervals of the period no installed meter covered are missing too.
        missing_count += int((~covered).sum())
        estimated[k] = est_wh / total_wh if total_wh else 0.0
        missing[k] = missing_count / t if t else 1.0
    return Grid(
        start_date=start_date,
        end_date=end_date,
        interval_minutes=minutes,
        agreement_ids=[want.agreement_id for want, _ in members],
        starts=starts,
        delivered_wh=delivered,
        received_wh=received,
        estimated_share=estimated,
        missing_share=missing,
        has_received=has_received,
    )


def wants_by_period(wants: Iterable[Want]) -> dict[tuple[date, date], list[Want]]:
    out: dict[tuple[date, date], list[Want]] = defaultdict(list)
    for want in wants:
        out[(want.start_date, want.end_date)].append(want)
    return out
