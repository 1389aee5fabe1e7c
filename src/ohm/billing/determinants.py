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
from django.db.models import Q

from ohm.core.localtime import start_of_day, utility_zone
from ohm.metering.models import MeterChannel, MeterInstallation, Quality
from ohm.metering.usage import TouSchedule, load_many, tou_periods


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

    def wh_by_period(
        self, schedule: TouSchedule, rows: np.ndarray | None = None
    ) -> tuple[list[int], np.ndarray]:
        """Delivered Wh per TOU period of ``schedule`` (local time): (periods, [n, P]), for
        every agreement or those at ``rows``."""
        periods = schedule.periods
        index = np.searchsorted(periods, tou_periods(self.starts, schedule, utility_zone()))
        onehot = np.zeros((len(self.starts), len(periods)))
        onehot[np.arange(len(self.starts)), index] = 1.0
        delivered = self.delivered_wh if rows is None else self.delivered_wh[rows]
        # Integer Wh well below 2**53: the float64 product is exact.
        return periods, np.rint(delivered.astype(np.float64) @ onehot).astype(np.int64)

    def demand_by_period(
        self, schedule: TouSchedule, rows: np.ndarray | None = None
    ) -> tuple[list[int], np.ndarray]:
        periods = schedule.periods
        which = tou_periods(self.starts, schedule, utility_zone())
        delivered = self.delivered_wh if rows is None else self.delivered_wh[rows]
        out = np.zeros((len(delivered), len(periods)), dtype=np.int64)
        for k, period in enumerate(periods):
            mask = which == period
            if mask.any():
                out[:, k] = delivered[:, mask].max(axis=1) * (60 // self.interval_minutes)
        return periods, out


@dataclass
class Loaded:
    grids: list[Grid] = field(default_factory=list)
    #: Agreements with no interval channel at their service point in the period.
    without_intervals: list[int] = field(default_factory=list)


def _to_minutes(moment: datetime) -> np.datetime64:
    return np.datetime64(moment.astimezone(UTC).replace(tzinfo=None), "m")


def load_determinants(wants: Sequence[Want]) -> Loaded:
    """Interval rows for every agreement of ``wants``, grouped by period and interval length."""
    loaded = Loaded()
    if not wants:
        return loaded
    first_at = start_of_day(min(w.start_date for w in wants))
    last_at = start_of_day(max(w.end_date for w in wants))
    installs = (
        MeterInstallation.objects.filter(
            service_point_id__any=frozenset(w.service_point_id for w in wants),
            installed_at__lt=last_at,
        )
        .filter(Q(removed_at__isnull=True) | Q(removed_at__gt=first_at))
        .values_list("service_point_id", "meter_id", "installed_at", "removed_at")
    )
    meters_at: dict[int, list[tuple[int, datetime, datetime | None]]] = defaultdict(list)
    for sp_id, meter_id, installed_at, removed_at in installs:
        meters_at[sp_id].append((meter_id, installed_at, removed_at))
    channels: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for channel_id, meter_id, measure, minutes in MeterChannel.objects.filter(
        meter_id__any=frozenset(m for rows in meters_at.values() for m, _, _ in rows),
        interval_minutes__isnull=False,
        measure__in=[MeterChannel.Measure.KWH_DELIVERED, MeterChannel.Measure.KWH_RECEIVED],
    ).values_list("id", "meter_id", "measure", "interval_minutes"):
        channels[meter_id].setdefault(measure, (channel_id, int(minutes or 0)))

    starts: dict[date, datetime] = {}

    def day_start(day: date) -> datetime:
        found = starts.get(day)
        if found is None:
            found = starts[day] = start_of_day(day)
        return found

    # (start, end, minutes) -> [(want, [(delivered id, received id | None, from_at, to_at)])]
    groups: dict[tuple[date, date, int], list[tuple[Want, list]]] = defaultdict(list)
    for want in wants:
        start_at, end_at = day_start(want.start_date), day_start(want.end_date)
        parts = []
        for meter_id, installed_at, removed_at in meters_at.get(want.service_point_id, []):
            lo, hi = max(start_at, installed_at), min(end_at, removed_at or end_at)
            delivered = channels.get(meter_id, {}).get(MeterChannel.Measure.KWH_DELIVERED)
            if hi <= lo or delivered is None:
                continue
            received = channels.get(meter_id, {}).get(MeterChannel.Measure.KWH_RECEIVED)
            parts.append((delivered, received, lo, hi))
        lengths = {minutes for (_, minutes), _, _, _ in parts}
        if len(lengths) != 1:
            loaded.without_intervals.append(want.agreement_id)
            continue
        groups[(want.start_date, want.end_date, lengths.pop())].append((want, parts))

    for (start_date, end_date, minutes), members in groups.items():
        loaded.grids.append(_grid(start_date, end_date, minutes, members))
    return loaded


def _grid(start_date: date, end_date: date, minutes: int, members: list) -> Grid:
    ids: set[int] = set()
    for _, parts in members:
        for (delivered_id, _), received, _, _ in parts:
            ids.add(delivered_id)
            if received is not None:
                ids.add(received[0])
    period_start, period_end = start_of_day(start_date), start_of_day(end_date)
    matrix = load_many(ids, period_start, period_end)
    row_of = {int(c): k for k, c in enumerate(matrix.channel_ids)}
    present = matrix.flags != Quality.MISSING
    wh = np.rint(np.where(present, matrix.values, 0.0) * 1000).astype(np.int64)
    abs_wh = np.abs(wh)
    estimated_wh = np.where(matrix.flags == Quality.ESTIMATED, abs_wh, 0)
    n, t = len(members), len(matrix.starts)
    delivered = np.zeros((n, t), dtype=np.int64)
    has_received = any(received is not None for _, parts in members for _, received, _, _ in parts)
    # No exporting meter in the group (the usual case): one shared row of zeros, not a matrix.
    received = (
        np.zeros((n, t), dtype=np.int64)
        if has_received
        else np.broadcast_to(np.zeros(t, dtype=np.int64), (n, t))
    )
    estimated = np.zeros(n)
    missing = np.zeros(n)
    # The usual member: one meter installed through the whole period — whole rows, gathered
    # at once. Members with a meter exchange (several parts, or part of the period) go by
    # window below.
    whole = [
        k
        for k, (_, parts) in enumerate(members)
        if len(parts) == 1 and parts[0][2] <= period_start and parts[0][3] >= period_end
    ]
    if whole:
        at = np.array(whole, dtype=np.int64)
        rows = np.array([row_of[members[k][1][0][0][0]] for k in whole], dtype=np.int64)
        delivered[at] = wh[rows]
        total = abs_wh[rows].sum(axis=1)
        est = estimated_wh[rows].sum(axis=1)
        estimated[at] = np.divide(est, total, out=np.zeros(len(whole)), where=total != 0)
        missing[at] = (~present[rows]).sum(axis=1) / t if t else 1.0
        with_received = [
            (k, row_of[members[k][1][0][1][0]]) for k in whole if members[k][1][0][1] is not None
        ]
        if with_received:
            at_r, rows_r = (np.array(x, dtype=np.int64) for x in zip(*with_received, strict=True))
            received[at_r] = wh[rows_r]
    done = set(whole)
    for k, (_want, parts) in enumerate(members):
        if k in done:
            continue
        est_wh = total_wh = 0
        missing_count = 0
        for (delivered_id, _), received_part, lo, hi in parts:
            window = (matrix.starts >= _to_minutes(lo)) & (matrix.starts < _to_minutes(hi))
            row = row_of[delivered_id]
            delivered[k, window] += wh[row, window]
            missing_count += int((~present[row, window]).sum())
            total_wh += int(abs_wh[row, window].sum())
            est_wh += int(estimated_wh[row, window].sum())
            if received_part is not None:
                received[k, window] += wh[row_of[received_part[0]], window]
        # Intervals of the period no installed meter covered are missing too.
        covered = np.zeros(t, dtype=bool)
        for _, _, lo, hi in parts:
            covered |= (matrix.starts >= _to_minutes(lo)) & (matrix.starts < _to_minutes(hi))
        missing_count += int((~covered).sum())
        estimated[k] = est_wh / total_wh if total_wh else 0.0
        missing[k] = missing_count / t if t else 1.0
    return Grid(
        start_date=start_date,
        end_date=end_date,
        interval_minutes=minutes,
        agreement_ids=[want.agreement_id for want, _ in members],
        starts=matrix.starts,
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
