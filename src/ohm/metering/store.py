"""Reading and writing the interval store (``IntervalDay``): numpy in, numpy out.

A day row holds ``n = 1440 / interval_minutes`` float32 values and uint8 quality flags.
Writers go through ``save_interval_days``, which keeps versions: a day whose values or flags
change gets a new current row and the old one stays (not current) for the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from django.db import transaction

from ohm.metering.models import IntervalDay, MeterChannel, Quality

VALUE_DTYPE = np.dtype("<f4")
FLAG_DTYPE = np.dtype("u1")


def intervals_per_day(interval_minutes: int) -> int:
    if interval_minutes <= 0 or 1440 % interval_minutes:
        raise ValueError(f"{interval_minutes}-minute intervals do not divide a day")
    return 1440 // interval_minutes


def utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class DayVector:
    """One channel-day to write: ``values`` (float, kWh or kW) and ``flags`` (Quality codes)."""

    channel_id: int
    day: date
    interval_minutes: int
    values: np.ndarray
    flags: np.ndarray

    def __post_init__(self) -> None:
        n = intervals_per_day(self.interval_minutes)
        if self.values.shape != (n,) or self.flags.shape != (n,):
            raise ValueError(f"a {self.interval_minutes}-minute day has {n} intervals, got {self.values.shape} values and {self.flags.shape} flags")


@dataclass(frozen=True)
class IntervalSeries:
    """Intervals of one channel over ``[start_at, end_at)``: parallel arrays, UTC start times."""

    interval_minutes: int
    starts: np.ndarray  # datetime64[m], UTC start of each interval
    values: np.ndarray  # float64
    flags: np.ndarray  # uint8 Quality

    @property
    def total(self) -> float:
        return float(self.values[self.flags != Quality.MISSING].sum())

    @property
    def estimated_share(self) -> float:
        present = self.flags != Quality.MISSING
        if not present.any():
            return 0.0
        estimated = np.isin(self.flags, (Quality.ESTIMATED, Quality.EDITED)) & present
        return float(self.values[estimated].sum() / max(self.values[present].sum(), 1e-12)) if self.values[present].sum() else float(estimated.sum() / present.sum())


def decode(row: IntervalDay) -> tuple[np.ndarray, np.ndarray]:
    return np.frombuffer(bytes(row.values), dtype=VALUE_DTYPE), np.frombuffer(bytes(row.flags), dtype=FLAG_DTYPE)


def load_intervals(*, channel: MeterChannel, start_at: datetime, end_at: datetime) -> IntervalSeries:
    """The current intervals of ``channel`` that start in ``[start_at, end_at)``; days never
    received come back as MISSING zeros, so the arrays always cover the whole period."""
    minutes = channel.interval_minutes
    if minutes is None:
        raise ValueError(f"{channel} has no intervals")
    n = intervals_per_day(minutes)
    first_day, last_day = start_at.astimezone(UTC).date(), (end_at.astimezone(UTC) - timedelta(microseconds=1)).date()
    days = (last_day - first_day).days + 1
    values = np.zeros(days * n, dtype=np.float64)
    flags = np.full(days * n, Quality.MISSING, dtype=FLAG_DTYPE)
    rows = IntervalDay.objects.filter(channel=channel, is_current=True, day__gte=first_day, day__lte=last_day).only("day", "values", "flags")
    for row in rows:
        offset = (row.day - first_day).days * n
        row_values, row_flags = decode(row)
        values[offset : offset + n] = row_values
        flags[offset : offset + n] = row_flags
    base = np.datetime64(utc_midnight(first_day).replace(tzinfo=None), "m")
    starts = base + np.arange(days * n) * np.timedelta64(minutes, "m")
    lo = np.datetime64(start_at.astimezone(UTC).replace(tzinfo=None), "m")
    hi = np.datetime64(end_at.astimezone(UTC).replace(tzinfo=None), "m")
    keep = (starts >= lo) & (starts < hi)
    return IntervalSeries(minutes, starts[keep], values[keep], flags[keep])


@transaction.atomic
def save_interval_days(*, days: Iterable[DayVector], recorded_at: datetime, source: str, actor_label: str = "", reason: str = "") -> dict[str, int]:
    """Write day vectors: new days are inserted; a day whose values or flags differ from the
    current row becomes a new version; an identical day is left alone (so re-imports change
    nothing). Returns counts ``{"inserted", "versioned", "unchanged"}``."""
    batch = list(days)
    counts = {"inserted": 0, "versioned": 0, "unchanged": 0}
    if not batch:
        return counts
    keys = {(d.channel_id, d.day) for d in batch}
    current = {
        (row.channel_id, row.day): row
        for row in IntervalDay.objects.filter(is_current=True, channel_id__in={k[0] for k in keys}, day__in={k[1] for k in keys}).only("id", "channel_id", "day", "values", "flags", "version")
        if (row.channel_id, row.day) in keys
    }
    new_rows, superseded = [], []
    for d in batch:
        values = np.ascontiguousarray(d.values, dtype=VALUE_DTYPE).tobytes()
        flags = np.ascontiguousarray(d.flags, dtype=FLAG_DTYPE).tobytes()
        old = current.get((d.channel_id, d.day))
        if old is not None and bytes(old.values) == values and bytes(old.flags) == flags:
            counts["unchanged"] += 1
            continue
        if old is not None:
            superseded.append(old.pk)
            counts["versioned"] += 1
        else:
            counts["inserted"] += 1
        new_rows.append(
            IntervalDay(
                channel_id=d.channel_id, day=d.day, interval_minutes=d.interval_minutes, values=values, flags=flags,
                version=(old.version + 1) if old is not None else 1, is_current=True, recorded_at=recorded_at,
                source=source, actor_label=actor_label, reason=reason,
            )
        )
    if superseded:
        IntervalDay.objects.filter(pk__in=superseded).update(is_current=False)
    IntervalDay.objects.bulk_create(new_rows, batch_size=2000)
    return counts
