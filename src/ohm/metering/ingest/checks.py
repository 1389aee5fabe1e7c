"""VEE in the import pass: validate and estimate every day an import writes, all at once.

An import turns a file into day rows (``DayBlock``: ``[channel-days, intervals]`` matrices);
before they are stored, the rules of ``ohm.metering.vee`` run over the whole matrix:

- **negative** values on energy channels;
- **spikes**: actual intervals above the meter class's ``spike_factor`` × the channel's usual
  high value (and above its floor), the usual value coming from the channel's history;
- **zero runs**: actual zeros for ``zero_run_hours`` in a row at a meter installed at an
  active, energized service point (the premise's occupancy is known to the layers above, and
  ``ohm reads vee`` judges it there);
- **gaps**: missing intervals inside the span the import covers for a channel.

Validation only: the import stores what the file says (so import, export and import again is
lossless), and estimation — interpolation, profiles, fitting to the register — is ``ohm reads
vee`` (``vee_operations.run_vee``), which writes its estimates as a new version of the day.

History without reading history: each stored day carries ``vee_level`` — an exponentially
weighted mean (span ``spike_history_days``) of the daily 95th percentile of its measured
intervals, so about the channel's usual high value over the last month — and ``vee_zero_run``,
the actual zeros in a row at the day's end. A day is judged against the row of the day
before (in the same import or stored); a channel with no such row is not judged for spikes
that day and starts its history afresh. Rows written elsewhere (``ohm reads vee`` estimates,
edits, the demo) carry none; the next import starts from the day's own values.

Nothing here raises work items: findings come back to ``import_reads``, which keeps them as
notes on the import; ``ohm reads vee`` turns findings into work items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from django.db import connection

from ohm.core.lookups import any_of_sql, ids_sql
from ohm.metering import vee
from ohm.metering.models import (
    IntervalDay,
    Meter,
    MeterChannel,
    MeterInstallation,
)
from ohm.metering.store import DayBlock, current_rows_sql, day_from_number
from ohm.metering.vee_config import meter_class_for, rules_for
from ohm.premises.models import Premise, ServicePoint

_ENERGY = (MeterChannel.Measure.KWH_DELIVERED, MeterChannel.Measure.KWH_RECEIVED)


@dataclass(frozen=True)
class DayFinding:
    """A rule failing on one channel-day of an import. ``intervals`` are positions in the UTC
    day (0 is the interval starting at midnight)."""

    channel_id: int
    meter_serial: str
    channel_number: int
    day: date
    interval_minutes: int
    code: str
    message: str
    intervals: tuple[int, ...] = ()


#: What the rules need of a channel, as SQL over ``m`` (meter) and ``c`` (channel): the
#: loader's channel query selects these after its own columns, the meter's current
#: installation joined in.
FACT_COLUMNS = "m.multiplier, p.premise_type, sp.status, sp.energized"
FACT_JOINS = (
    f'LEFT JOIN "{MeterInstallation._meta.db_table}" i ON i.meter_id = m.id AND i.removed_at IS NULL'
    f' LEFT JOIN "{ServicePoint._meta.db_table}" sp ON sp.id = i.service_point_id'
    f' LEFT JOIN "{Premise._meta.db_table}" p ON p.id = sp.premise_id'
)


@dataclass(frozen=True)
class _Channels:
    """Per row of a block (row-aligned arrays): what the rules need to know of its channel."""

    serial: list[str]
    number: np.ndarray
    energy: np.ndarray
    occupied: np.ndarray
    spike_factor: np.ndarray
    spike_floor_kw: np.ndarray
    spike_span_days: np.ndarray
    spike_percentile: np.ndarray
    zero_run_hours: np.ndarray


@dataclass(frozen=True)
class ChannelFacts:
    """The channels of an import, by id (sorted), with their class's rule parameters."""

    ids: np.ndarray
    serial: list[str]
    number: np.ndarray
    energy: np.ndarray
    occupied: np.ndarray
    spike_factor: np.ndarray
    spike_floor_kw: np.ndarray
    spike_span_days: np.ndarray
    spike_percentile: np.ndarray
    zero_run_hours: np.ndarray

    def for_rows(self, channel_ids: np.ndarray) -> _Channels:
        at = np.searchsorted(self.ids, channel_ids)
        if len(channel_ids) and (
            at.max() >= len(self.ids) or not np.array_equal(self.ids[at], channel_ids)
        ):
            raise ValueError("channels without facts")
        return _Channels(
            serial=[self.serial[k] for k in at.tolist()],
            number=self.number[at],
            energy=self.energy[at],
            occupied=self.occupied[at],
            spike_factor=self.spike_factor[at],
            spike_floor_kw=self.spike_floor_kw[at],
            spike_span_days=self.spike_span_days[at],
            spike_percentile=self.spike_percentile[at],
            zero_run_hours=self.zero_run_hours[at],
        )


def channel_facts(rows: list[tuple]) -> ChannelFacts:
    """Facts from rows ``(serial, channel id, number, measure, minutes, multiplier,
    premise type, service point status, energized)``; rows without a channel are skipped.
    Worked on as columns (a file of 100,000 meters brings 100,000 rows)."""
    rows = [r for r in rows if r[1] is not None]
    if not rows:
        no_ids, no_flags, no_figures = (
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=bool),
            np.zeros(0),
        )
        return ChannelFacts(
            ids=no_ids,
            serial=[],
            number=no_ids,
            energy=no_flags,
            occupied=no_flags,
            spike_factor=no_figures,
            spike_floor_kw=no_figures,
            spike_span_days=no_figures,
            spike_percentile=no_figures,
            zero_run_hours=no_figures,
        )
    serial, id_column, number, measure, _minutes, multiplier, premise, status, energized = zip(
        *rows, strict=True
    )
    ids = np.array(id_column, dtype=np.int64)
    # A handful of distinct (premise type, CT-metered) pairs: the class rules once each (with
    # the first row's multiplier).
    big = [float(m if m is not None else 1) > 1 for m in multiplier]
    first: dict[tuple, int] = {}
    for k, key in enumerate(zip(premise, big, strict=True)):
        first.setdefault(key, k)
    classes = {
        key: rules_for(
            meter_class_for(
                premise_type=premise[k],
                multiplier=float(multiplier[k] if multiplier[k] is not None else 1),
            )
        )
        for key, k in first.items()
    }
    order_of = {key: j for j, key in enumerate(classes)}
    kind = np.array([order_of[key] for key in zip(premise, big, strict=True)], dtype=np.int64)
    rules = list(classes.values())
    by_id = np.argsort(ids, kind="stable")  # by channel id
    order: np.ndarray | slice
    if bool(np.all(by_id[1:] > by_id[:-1])):
        order = slice(None)
        serials = list(serial)
    else:
        order = by_id
        serials = [serial[k] for k in by_id.tolist()]
    active = ServicePoint.Status.ACTIVE

    def per_class(field: str) -> np.ndarray:
        return np.array([getattr(x, field) for x in rules], dtype=np.float64)[kind][order]

    return ChannelFacts(
        ids=ids[order],
        serial=serials,
        number=np.array(number, dtype=np.int64)[order],
        energy=np.array([m in _ENERGY for m in measure], dtype=bool)[order],
        occupied=np.array(
            [s == active and bool(e) for s, e in zip(status, energized, strict=True)], dtype=bool
        )[order],
        spike_factor=per_class("spike_factor"),
        spike_floor_kw=per_class("spike_floor_kw"),
        spike_span_days=per_class("spike_history_days"),
        spike_percentile=per_class("spike_percentile"),
        zero_run_hours=per_class("zero_run_hours"),
    )


def _query_facts(channel_ids: np.ndarray) -> ChannelFacts:
    """Facts of channels by id, for a caller that has none (the loader brings its own)."""
    sql = (
        f"SELECT m.serial, c.id, c.number, c.measure, c.interval_minutes, {FACT_COLUMNS}"
        f' FROM "{MeterChannel._meta.db_table}" c JOIN "{Meter._meta.db_table}" m'
        f" ON m.id = c.meter_id {FACT_JOINS}"
    )
    ids = np.unique(channel_ids).tolist()
    where, where_params = any_of_sql("c.id", ids)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} WHERE {where}", where_params)
        return channel_facts(cursor.fetchall())


def stored_state(channel_ids: np.ndarray, day_numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``vee_level`` and ``vee_zero_run`` of the current stored row of each row's channel on
    the day before (NaN and 0 where there is none), for rows (``channel_ids[k]``,
    ``day_numbers[k]``) of a block."""
    rows = len(channel_ids)
    level = np.full(rows, np.nan)
    zero_run = np.zeros(rows, dtype=np.int64)
    if not rows:
        return level, zero_run
    first, last = int(day_numbers.min()) - 1, int(day_numbers.max()) - 1
    q = connection.ops.quote_name
    ids = np.unique(channel_ids)
    one_day = first == last  # a daily file: no day to read back per row
    sql = (
        f"SELECT channel_id, {'NULL' if one_day else 'day'}, vee_level, vee_zero_run"
        f" FROM {q(IntervalDay._meta.db_table)}"
        f" WHERE {current_rows_sql()} AND day >= %s AND day <= %s AND vee_level IS NOT NULL"
    )
    params: list = [
        connection.ops.adapt_datefield_value(day_from_number(first)),
        connection.ops.adapt_datefield_value(day_from_number(last)),
    ]
    # Dense ids (a bulk import) are a range, filtered below.
    where, where_params, _exact = ids_sql("channel_id", ids.tolist())
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} AND {where}", [*params, *where_params])
        found = cursor.fetchall()
    if not found:
        return level, zero_run
    epoch = date(1970, 1, 1)
    channel = np.array([r[0] for r in found], dtype=np.int64)
    day = (
        np.full(len(found), first, dtype=np.int64)
        if one_day
        else np.array(
            [
                ((d if isinstance(d, date) else date.fromisoformat(d)) - epoch).days
                for d in (r[1] for r in found)
            ],
            dtype=np.int64,
        )
    )
    key = (channel << 20) + (day - first)
    order = np.argsort(key)
    key = key[order]
    wanted = (channel_ids.astype(np.int64) << 20) + (day_numbers - 1 - first)
    at = np.clip(np.searchsorted(key, wanted), 0, len(key) - 1)
    hit = key[at] == wanted
    stored_level = np.array([r[2] for r in found], dtype=np.float64)[order]
    stored_zero = np.array([r[3] or 0 for r in found], dtype=np.int64)[order]
    level[hit] = stored_level[at[hit]]
    zero_run[hit] = stored_zero[at[hit]]
    return level, zero_run


def _moved(finding: vee.Finding, rows: np.ndarray) -> vee.Finding:
    """A finding on a subset of rows, renumbered to the block's row."""
    return vee.Finding(finding.code, int(rows[finding.row]), finding.message, finding.intervals)


@dataclass(frozen=True)
class CheckedBlock:
    block: DayBlock
    #: Per row: the state to store with it (``vee_level``: NaN for none).
    level: np.ndarray
    zero_run: np.ndarray
    findings: list[DayFinding]


def check_block(
    block: DayBlock,
    *,
    facts: ChannelFacts | None = None,
    stored: tuple[np.ndarray, np.ndarray] | None = None,
) -> CheckedBlock:
    """Validate a block of merged day rows (see the module's docstring). ``facts`` must cover
    the block's channels; without it they are read from the database. ``stored`` is
    ``stored_state`` of the block's rows when the caller read it already."""
    rows, n = block.values.shape
    minutes = block.interval_minutes
    channels = (facts or _query_facts(block.channel_ids)).for_rows(block.channel_ids)
    values, flags = block.values, block.flags

    # The day before each row: the previous row of the block when it is the same channel's
    # previous day (a file of many days), else the stored row.
    stored_level, stored_zero = (
        stored if stored is not None else stored_state(block.channel_ids, block.day_numbers)
    )
    follows = np.zeros(rows, dtype=bool)
    if rows > 1:
        follows[1:] = (block.channel_ids[1:] == block.channel_ids[:-1]) & (
            block.day_numbers[1:] == block.day_numbers[:-1] + 1
        )
    today = vee.history_percentile(values, flags, percentile=95.0)
    if not np.all(channels.spike_percentile == 95.0):
        for p in np.unique(channels.spike_percentile[channels.spike_percentile != 95.0]):
            pick = channels.spike_percentile == p
            today[pick] = vee.history_percentile(values[pick], flags[pick], percentile=float(p))
    zero = (flags == vee.ACTUAL) & (values == 0)
    all_zero = zero.all(axis=1)
    tail = np.argmax(~zero[:, ::-1], axis=1).astype(np.int64)
    before_level = stored_level.copy()
    before_zero = stored_zero.copy()
    level = np.empty(rows)
    zero_run = np.empty(rows, dtype=np.int64)
    # Carry the state along runs of consecutive days: step t handles each run's t-th row.
    run_start = np.flatnonzero(~follows)
    rank = np.arange(rows) - np.repeat(run_start, np.diff(np.r_[run_start, rows]))
    for t in range(int(rank.max()) + 1 if rows else 0):
        now = np.flatnonzero(rank == t)
        if t:
            before_level[now] = level[now - 1]
            before_zero[now] = zero_run[now - 1]
        prior = before_level[now]
        span = channels.spike_span_days[now]
        fresh = today[now]
        level[now] = np.where(
            np.isnan(prior), fresh, np.where(np.isnan(fresh), prior, prior + (fresh - prior) / span)
        )
        zero_run[now] = np.where(all_zero[now], before_zero[now] + n, tail[now])

    found: list[tuple[str, vee.Finding]] = []
    per_hour = 60 / minutes
    floor = np.where(channels.energy, channels.spike_floor_kw / per_hour, channels.spike_floor_kw)
    found += [
        ("spike", f)
        for f in vee.find_spikes(
            values, flags, history_level=before_level, factor=channels.spike_factor, floor=floor
        )
    ]
    found += [("negative", f) for f in vee.find_negative(values, flags, applies=channels.energy)]
    # Zero runs and gaps are looked for only in the rows that have a zero or a gap (few).
    suspect = np.flatnonzero(zero.any(axis=1) & channels.occupied & channels.energy)
    found += [
        ("zero_run", _moved(f, suspect))
        for f in vee.find_zero_runs(
            values[suspect],
            flags[suspect],
            occupied=True,
            min_intervals=(channels.zero_run_hours[suspect] * 60 // minutes).astype(np.int64),
            carried=before_zero[suspect],
        )
    ]
    # A gap is a missing interval inside what the import covers: a file that starts at noon
    # leaves the morning missing, and that is no gap.
    present = flags != vee.MISSING
    gappy = np.flatnonzero(~present.all(axis=1))
    present = present[gappy]
    anywhere = present.any(axis=1)
    first = np.where(anywhere, np.argmax(present, axis=1), n)
    last = np.where(anywhere, n - 1 - np.argmax(present[:, ::-1], axis=1), -1)
    continued = np.zeros(rows, dtype=bool)
    continued[:-1] = follows[1:]
    position = np.arange(n)
    inside = ((position > first[:, np.newaxis]) | follows[gappy, np.newaxis]) & (
        (position < last[:, np.newaxis]) | continued[gappy, np.newaxis]
    )
    found += [
        ("gap", _moved(f, gappy))
        for f in vee.find_gaps(
            np.where(inside, flags[gappy], vee.ACTUAL), code=vee.Reason.UNESTIMATED_GAP
        )
    ]
    findings = [
        DayFinding(
            channel_id=int(block.channel_ids[f.row]),
            meter_serial=channels.serial[f.row],
            channel_number=int(channels.number[f.row]),
            day=day_from_number(int(block.day_numbers[f.row])),
            interval_minutes=minutes,
            code=f.code,
            message=f.message,
            intervals=f.intervals,
        )
        for _, f in sorted(found, key=lambda item: (item[1].row, item[1].code))
    ]
    return CheckedBlock(block, level, zero_run, findings)
