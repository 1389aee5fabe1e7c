"""Reading and writing the interval store (``IntervalDay``): numpy in, numpy out.

A day row holds ``n = 1440 / interval_minutes`` float32 values and uint8 quality flags.
Writers go through ``save_interval_days``, which keeps versions: a day whose values or flags
change gets a new current row and the old one stays (not current) for the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import repeat

import numpy as np
from django.db import connection, transaction

from ohm.core.lookups import ids_sql
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
            raise ValueError(
                f"a {self.interval_minutes}-minute day has {n} intervals, got {self.values.shape} values and {self.flags.shape} flags"
            )


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
        return estimated_share_of(self.values, self.flags)


def estimated_share_of(values: np.ndarray, flags: np.ndarray) -> float:
    """The share of the energy that was estimated: energy in ESTIMATED intervals over energy in
    all present ones (absolute values), or by count of intervals when there is no energy.
    EDITED intervals are a person's verified figures and count as measured, not estimated;
    MISSING ones count in neither. The one definition for bills, charts and the store."""
    present = flags != Quality.MISSING
    estimated = flags == Quality.ESTIMATED
    total = float(np.abs(values[present]).sum())
    if total > 0:
        return float(np.abs(values[estimated]).sum()) / total
    return float(estimated.sum() / present.sum()) if present.any() else 0.0


def decode(row: IntervalDay) -> tuple[np.ndarray, np.ndarray]:
    return np.frombuffer(bytes(row.values), dtype=VALUE_DTYPE), np.frombuffer(
        bytes(row.flags), dtype=FLAG_DTYPE
    )


def load_intervals(
    *, channel: MeterChannel, start_at: datetime, end_at: datetime
) -> IntervalSeries:
    """The current intervals of ``channel`` that start in ``[start_at, end_at)``; days never
    received come back as MISSING zeros, so the arrays always cover the whole period."""
    minutes = channel.interval_minutes
    if minutes is None:
        raise ValueError(f"{channel} has no intervals")
    n = intervals_per_day(minutes)
    first_day, last_day = (
        start_at.astimezone(UTC).date(),
        (end_at.astimezone(UTC) - timedelta(microseconds=1)).date(),
    )
    days = (last_day - first_day).days + 1
    values = np.zeros(days * n, dtype=np.float64)
    flags = np.full(days * n, Quality.MISSING, dtype=FLAG_DTYPE)
    # Tuples, not model instances: a 13-month query reads ~400 rows and instances would
    # cost more than the query.
    rows = IntervalDay.objects.filter(
        channel=channel, is_current=True, day__gte=first_day, day__lte=last_day
    ).values_list("day", "values", "flags")
    for day, row_values, row_flags in rows:
        offset = (day - first_day).days * n
        values[offset : offset + n] = np.frombuffer(row_values, dtype=VALUE_DTYPE)
        flags[offset : offset + n] = np.frombuffer(row_flags, dtype=FLAG_DTYPE)
    base = np.datetime64(utc_midnight(first_day).replace(tzinfo=None), "m")
    starts = base + np.arange(days * n) * np.timedelta64(minutes, "m")
    lo = np.datetime64(start_at.astimezone(UTC).replace(tzinfo=None), "m")
    hi = np.datetime64(end_at.astimezone(UTC).replace(tzinfo=None), "m")
    keep = (starts >= lo) & (starts < hi)
    return IntervalSeries(minutes, starts[keep], values[keep], flags[keep])


@dataclass(frozen=True)
class DayBlock:
    """Many channel-days of one interval length as arrays, for bulk writes: row *k* is
    channel ``channel_ids[k]`` on UTC day ``day_numbers[k]`` (days since 1970-01-01)."""

    interval_minutes: int
    channel_ids: np.ndarray  # int64, shape (k,)
    day_numbers: np.ndarray  # int64, shape (k,)
    values: np.ndarray  # float32, shape (k, n)
    flags: np.ndarray  # uint8, shape (k, n)

    def __post_init__(self) -> None:
        n = intervals_per_day(self.interval_minutes)
        k = len(self.channel_ids)
        if (
            self.day_numbers.shape != (k,)
            or self.values.shape != (k, n)
            or self.flags.shape != (k, n)
        ):
            raise ValueError(
                f"a block of {k} {self.interval_minutes}-minute days needs ({k}, {n}) values and flags"
            )


@dataclass(frozen=True)
class CurrentDay:
    pk: int
    version: int
    values: np.ndarray
    flags: np.ndarray


_EPOCH = date(1970, 1, 1)


def day_from_number(number: int) -> date:
    return _EPOCH + timedelta(days=int(number))


def day_number(day: date) -> int:
    return (day - _EPOCH).days


#: Channel ids per query when fetching current rows (well under every backend's parameter limit).
_FETCH_CHUNK = 5000


def current_rows_sql() -> str:
    """The "current row" test as the partial indexes on ``IntervalDay`` spell it, so the
    database can use them (SQLite matches an index's WHERE clause by its text: ``= 1``)."""
    return '"is_current" = 1' if connection.vendor == "sqlite" else '"is_current"'


def _day_of(value) -> int:
    """A date column as the driver returns it (a date, or SQLite's ISO text) -> day number."""
    return day_number(value if isinstance(value, date) else date.fromisoformat(value))


def fetch_current_days(
    *, channel_ids: Iterable[int], first_day: date, last_day: date
) -> dict[tuple[int, int], CurrentDay]:
    """Current rows of those channels on ``[first_day, last_day]``, keyed by (channel id, day number)."""
    ids = sorted({int(c) for c in channel_ids})
    found: dict[tuple[int, int], CurrentDay] = {}
    if not ids:
        return found
    q = connection.ops.quote_name
    sql = (
        f"SELECT id, channel_id, day, version, {q('values')}, flags"
        f" FROM {q(IntervalDay._meta.db_table)}"
        f" WHERE {current_rows_sql()} AND day >= %s AND day <= %s"
    )
    days = [
        connection.ops.adapt_datefield_value(first_day),
        connection.ops.adapt_datefield_value(last_day),
    ]
    # Dense ids (a bulk import): one range instead of thousands of parameters.
    where, where_params, exact = ids_sql("channel_id", ids)
    wanted: set[int] | None = None if exact else set(ids)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} AND {where}", [*days, *where_params])
        rows = cursor.fetchall()
    for pk, channel_id, day, version, values, flags in rows:
        if wanted is not None and channel_id not in wanted:
            continue
        found[(channel_id, _day_of(day))] = CurrentDay(
            pk,
            version,
            np.frombuffer(bytes(values), dtype=VALUE_DTYPE),
            np.frombuffer(bytes(flags), dtype=FLAG_DTYPE),
        )
    return found


def _insert_rows(rows: list[tuple]) -> None:
    """Insert IntervalDay rows given as tuples in ``_COLUMNS`` order: COPY on PostgreSQL, one
    prepared INSERT run many times elsewhere. Model instances cost more than the write itself."""
    table = connection.ops.quote_name(IntervalDay._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Binary COPY: the blobs go as they are rather than as hex text to be parsed.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_COPY_TYPES)
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(_COLUMNS))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


_COLUMNS = (
    "channel_id",
    "day",
    "interval_minutes",
    "values",
    "flags",
    "version",
    "is_current",
    "recorded_at",
    "source",
    "actor_label",
    "reason",
    "vee_level",
    "vee_zero_run",
)
#: PostgreSQL types of ``_COLUMNS``, for binary COPY (which needs them exactly).
_COPY_TYPES = (
    "int8",
    "date",
    "int2",
    "bytea",
    "bytea",
    "int4",
    "bool",
    "timestamptz",
    "text",
    "text",
    "text",
    "float8",
    "int4",
)


@transaction.atomic
def save_day_block(
    *,
    block: DayBlock,
    recorded_at: datetime,
    source: str,
    actor_label: str = "",
    reason: str = "",
    current: dict[tuple[int, int], CurrentDay] | None = None,
    vee_level: np.ndarray | None = None,
    vee_zero_run: np.ndarray | None = None,
) -> dict[str, int]:
    """``save_interval_days`` for arrays: same versioning, written in bulk. ``current`` is what
    ``fetch_current_days`` returned for these days, when the caller already has it.
    ``vee_level``/``vee_zero_run`` (one per row, NaN/negative for none) is the state import-time
    VEE carries to the next day (``IntervalDay.vee_level``)."""
    return day_block_write(
        block=block,
        recorded_at=recorded_at,
        source=source,
        actor_label=actor_label,
        reason=reason,
        current=current,
        vee_level=vee_level,
        vee_zero_run=vee_zero_run,
    ).run()


@dataclass(frozen=True)
class BlockWrite:
    """What ``save_day_block`` writes, worked out: ``run()`` writes it (one transaction) and
    returns the counts. Built beforehand, the rows cost the writing thread nothing."""

    counts: dict[str, int]
    superseded: list[int]
    rows: list[tuple]

    @transaction.atomic
    def run(self) -> dict[str, int]:
        for lo in range(0, len(self.superseded), _FETCH_CHUNK):
            IntervalDay.objects.filter(pk__in=self.superseded[lo : lo + _FETCH_CHUNK]).update(
                is_current=False
            )
        if self.rows:
            _insert_rows(self.rows)
        return dict(self.counts)


def day_block_write(
    *,
    block: DayBlock,
    recorded_at: datetime,
    source: str,
    actor_label: str = "",
    reason: str = "",
    current: dict[tuple[int, int], CurrentDay] | None = None,
    vee_level: np.ndarray | None = None,
    vee_zero_run: np.ndarray | None = None,
) -> BlockWrite:
    """``save_day_block``'s work short of writing: which rows are new, which supersede a
    current row, which are unchanged, and the rows to insert. Reads the database only when
    ``current`` is not given."""
    counts = {"inserted": 0, "versioned": 0, "unchanged": 0}
    k_rows = len(block.channel_ids)
    if not k_rows:
        return BlockWrite(counts, [], [])
    if current is None:
        current = fetch_current_days(
            channel_ids=block.channel_ids,
            first_day=day_from_number(block.day_numbers.min()),
            last_day=day_from_number(block.day_numbers.max()),
        )
    values = np.ascontiguousarray(block.values, dtype=VALUE_DTYPE)
    flags = np.ascontiguousarray(block.flags, dtype=FLAG_DTYPE)
    at = connection.ops.adapt_datetimefield_value(recorded_at)
    channel_ids = block.channel_ids.tolist()
    numbers = block.day_numbers.tolist()
    write = np.ones(k_rows, dtype=bool)
    versions = [1] * k_rows
    superseded = []
    if current:
        for k, (channel_id, number) in enumerate(zip(channel_ids, numbers, strict=True)):
            old = current.get((channel_id, number))
            if old is None:
                continue
            if np.array_equal(old.values, values[k]) and np.array_equal(old.flags, flags[k]):
                write[k] = False
                continue
            superseded.append(old.pk)
            versions[k] = old.version + 1
    counts["unchanged"] = k_rows - int(write.sum())
    counts["versioned"] = len(superseded)
    counts["inserted"] = int(write.sum()) - len(superseded)
    day_values = {
        number: connection.ops.adapt_datefield_value(day_from_number(number))
        for number in set(numbers)
    }
    levels = (
        [x if x == x else None for x in vee_level.tolist()]  # NaN: none
        if vee_level is not None
        else repeat(None)
    )
    zero_runs = (
        ([None if x < 0 else x for x in vee_zero_run.tolist()])
        if vee_zero_run is not None and bool((vee_zero_run < 0).any())
        else vee_zero_run.tolist()
        if vee_zero_run is not None
        else repeat(None)
    )
    # One bytes object per row, sliced from one buffer: rows of a C-contiguous matrix; the
    # rows are put together by ``zip`` (columns of lists, constants repeated).
    value_bytes, flag_bytes = values.tobytes(), flags.tobytes()
    value_width, flag_width = values.shape[1] * VALUE_DTYPE.itemsize, flags.shape[1]
    rows = list(
        zip(
            channel_ids,
            [day_values[number] for number in numbers]
            if len(day_values) > 1
            else repeat(day_values[numbers[0]]),
            repeat(block.interval_minutes),
            [value_bytes[i : i + value_width] for i in range(0, len(value_bytes), value_width)],
            [flag_bytes[i : i + flag_width] for i in range(0, len(flag_bytes), flag_width)],
            versions,
            repeat(True),
            repeat(at),
            repeat(source),
            repeat(actor_label),
            repeat(reason),
            levels,
            zero_runs,
        )
    )
    if not bool(write.all()):
        rows = [rows[k] for k in np.flatnonzero(write).tolist()]
    return BlockWrite(counts, superseded, rows)


@transaction.atomic
def save_interval_days(
    *,
    days: Iterable[DayVector],
    recorded_at: datetime,
    source: str,
    actor_label: str = "",
    reason: str = "",
) -> dict[str, int]:
    """Write day vectors: new days are inserted; a day whose values or flags differ from the
    current row becomes a new version; an identical day is left alone (so re-imports change
    nothing). Returns counts ``{"inserted", "versioned", "unchanged"}``."""
    counts = {"inserted": 0, "versioned": 0, "unchanged": 0}
    by_length: dict[int, dict[tuple[int, date], DayVector]] = {}
    for d in days:
        # The last vector given for a channel-day wins, as row-by-row writes would have it.
        by_length.setdefault(d.interval_minutes, {})[(d.channel_id, d.day)] = d
    for minutes, group in by_length.items():
        vectors = list(group.values())
        block = DayBlock(
            interval_minutes=minutes,
            channel_ids=np.array([d.channel_id for d in vectors], dtype=np.int64),
            day_numbers=np.array([day_number(d.day) for d in vectors], dtype=np.int64),
            values=np.array([np.asarray(d.values, dtype=VALUE_DTYPE) for d in vectors]).reshape(
                len(vectors), -1
            ),
            flags=np.array([np.asarray(d.flags, dtype=FLAG_DTYPE) for d in vectors]).reshape(
                len(vectors), -1
            ),
        )
        for key, value in save_day_block(
            block=block,
            recorded_at=recorded_at,
            source=source,
            actor_label=actor_label,
            reason=reason,
        ).items():
            counts[key] += value
    return counts
