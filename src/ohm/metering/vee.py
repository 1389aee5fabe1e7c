"""Validation and estimation of interval data: pure numpy, no Django.

Every function works on many series at once. ``values`` and ``flags`` are 2-D arrays shaped
``[rows, intervals]``: a row is one channel's intervals laid end to end in time — one UTC day
of the store, or a whole period of days joined so that gaps across midnight are one gap.
``values`` are the channel's quantity per interval with the multiplier applied (kWh for
energy channels); ``flags`` are the quality codes of ``ohm.metering.models.Quality``.

Rules return ``Finding`` objects naming the row, a reason code and the interval positions;
the caller turns positions into times. Estimators return new arrays and never touch an
interval that is not MISSING; what they fill is flagged ESTIMATED, never ACTUAL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# The codes of ``ohm.metering.models.Quality``, repeated here so this module needs no Django;
# a test checks they agree.
MISSING, ACTUAL, ESTIMATED, EDITED = 0, 1, 2, 3


class Reason:
    """Reason codes of findings."""

    GAP = "gap"
    UNESTIMATED_GAP = "unestimated_gap"
    SPIKE = "spike"
    NEGATIVE = "negative"
    ZERO_RUN = "zero_run"
    REGISTER_MISMATCH = "register_mismatch"
    MULTIPLIER_MISMATCH = "multiplier_mismatch"
    INACTIVE_CONSUMPTION = "inactive_consumption"


@dataclass(frozen=True)
class Finding:
    """One rule failing for one row. ``intervals`` are the positions in the row at fault
    (empty when the finding is about the row as a whole, e.g. a register mismatch)."""

    code: str
    row: int
    message: str
    intervals: tuple[int, ...] = ()


def _as_2d(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    return array[np.newaxis, :] if array.ndim == 1 else array


def _per_row(value, rows: int, dtype) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=dtype), (rows,))


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of True in each row: ``(row, start, end)`` arrays, ``end`` exclusive, in row then
    time order."""
    mask = _as_2d(mask).astype(bool)
    rows, width = mask.shape
    padded = np.zeros((rows, width + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    step = np.diff(padded, axis=1)
    start_rows, starts = np.nonzero(step == 1)
    _, ends = np.nonzero(step == -1)
    return start_rows, starts, ends


def _expand(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs given by start and length: the run index and position of every interval."""
    run_index = np.repeat(np.arange(len(starts)), lengths)
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return run_index, np.repeat(starts, lengths) + offsets


def _present(flags: np.ndarray) -> np.ndarray:
    return flags != MISSING


def _measured(flags: np.ndarray) -> np.ndarray:
    """Intervals that came from the meter or a person, not from an estimator."""
    return (flags == ACTUAL) | (flags == EDITED)


# -- validation ---------------------------------------------------------------------------


def gap_stats(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: how many intervals are MISSING and the longest run of them."""
    flags = _as_2d(flags)
    missing = flags == MISSING
    count = missing.sum(axis=1)
    longest = np.zeros(flags.shape[0], dtype=np.int64)
    rows, starts, ends = runs(missing)
    np.maximum.at(longest, rows, ends - starts)
    return count, longest


def find_gaps(flags: np.ndarray, *, code: str = Reason.GAP) -> list[Finding]:
    """MISSING intervals: one finding per row that has any, with count and longest run."""
    flags = _as_2d(flags)
    count, longest = gap_stats(flags)
    return [
        Finding(
            code,
            int(row),
            f"{count[row]} missing intervals, longest run {longest[row]}",
            tuple(np.flatnonzero(flags[row] == MISSING).tolist()),
        )
        for row in np.flatnonzero(count)
    ]


def history_percentile(
    values: np.ndarray, flags: np.ndarray, *, percentile: float = 95.0
) -> np.ndarray:
    """Per row, the percentile of the measured intervals (NaN for a row with none) — the
    channel's own yardstick for spikes."""
    values, flags = _as_2d(values), _as_2d(flags)
    if values.dtype != np.float32:
        values = values.astype(np.float64)
    rows, width = values.shape
    if not width:
        return np.full(rows, np.nan)
    measured = _measured(flags)
    whole = measured.all(axis=1)
    result = np.empty(rows)
    # Rows measured throughout (nearly all of them) need no NaN handling, which is slow.
    if whole.all():
        return _row_percentile(values, percentile)
    if whole.any():
        result[whole] = _row_percentile(values[whole], percentile)
    if not whole.all():
        # The rest: sort each row with its unmeasured intervals (NaN) last, and interpolate
        # between the order statistics as numpy's "linear" method does.
        part = np.sort(
            np.where(measured[~whole], values[~whole].astype(np.float64), np.nan), axis=1
        )
        count = measured[~whole].sum(axis=1)
        position = (np.maximum(count, 1) - 1) * (percentile / 100.0)
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, np.maximum(count - 1, 0))
        pick = np.arange(len(part))
        below, above = part[pick, low], part[pick, high]
        result[~whole] = np.where(count > 0, below + (above - below) * (position - low), np.nan)
    return result


def _row_percentile(values: np.ndarray, percentile: float) -> np.ndarray:
    """``np.percentile(values.astype(float64), percentile, axis=1)`` (method "linear"), the
    same figures, for a fraction of the work: each row is partitioned where it is (float32
    order is float64 order) rather than along the columns of a float64 copy, and only the two
    order statistics around the percentile are turned into float64 and interpolated, with
    numpy's own formulas."""
    n = values.shape[1]
    virtual = (n - 1) * np.true_divide(percentile, 100)  # numpy's "linear" index
    previous = np.floor(virtual)
    low = int(min(max(previous, 0), n - 1))
    high = int(min(max(previous + 1, 0), n - 1))
    gamma = np.float64(virtual - previous)
    part = np.partition(values, sorted({low, high, n - 1}), axis=1)
    below = part[:, low].astype(np.float64)
    above = part[:, high].astype(np.float64)
    diff = above - below
    # numpy's ``_lerp``: from the lower value below the middle, from the upper one above it.
    result = above - diff * (1 - gamma) if gamma >= 0.5 else below + diff * gamma
    # NaN sorts last: a row holding one has no percentile, as with numpy.
    result[np.isnan(part[:, n - 1])] = np.nan
    return result


def find_spikes(
    values: np.ndarray,
    flags: np.ndarray,
    *,
    history_level: np.ndarray | float,
    factor: np.ndarray | float,
    floor: np.ndarray | float = 0.0,
) -> list[Finding]:
    """Actual intervals above ``factor × history_level`` and above ``floor`` (both in the
    values' unit per interval; each a number or one per row). A row without history (NaN
    level) is not judged."""
    values, flags = _as_2d(values), _as_2d(flags)
    rows = values.shape[0]
    level = _per_row(history_level, rows, np.float64)
    factor = _per_row(factor, rows, np.float64)
    limit = np.maximum(factor * level, _per_row(floor, rows, np.float64))
    judged = np.isfinite(level)
    spikes = (flags == ACTUAL) & (values > limit[:, np.newaxis]) & judged[:, np.newaxis]
    findings = []
    for row in np.flatnonzero(spikes.any(axis=1)):
        positions = np.flatnonzero(spikes[row])
        peak = float(values[row, positions].max())
        findings.append(
            Finding(
                Reason.SPIKE,
                int(row),
                f"{len(positions)} intervals above {limit[row]:.3f} ({factor[row]:g} × the usual {level[row]:.3f}); peak {peak:.3f}",
                tuple(positions.tolist()),
            )
        )
    return findings


def find_negative(
    values: np.ndarray, flags: np.ndarray, *, applies: np.ndarray | bool = True
) -> list[Finding]:
    """Negative values on channels that can only count up (energy delivered or received)."""
    values, flags = _as_2d(values), _as_2d(flags)
    applies = _per_row(applies, values.shape[0], bool)
    negative = _present(flags) & (values < 0) & applies[:, np.newaxis]
    return [
        Finding(
            Reason.NEGATIVE,
            int(row),
            f"{negative[row].sum()} negative intervals, lowest {values[row][negative[row]].min():.3f}",
            tuple(np.flatnonzero(negative[row]).tolist()),
        )
        for row in np.flatnonzero(negative.any(axis=1))
    ]


def find_zero_runs(
    values: np.ndarray,
    flags: np.ndarray,
    *,
    occupied: np.ndarray | bool,
    min_intervals: np.ndarray | int,
    carried: np.ndarray | int = 0,
) -> list[Finding]:
    """Runs of at least ``min_intervals`` actual zero readings where the premise is occupied
    (a stopped meter, a bypass, or a vacancy nobody told us about). ``carried`` (per row) is
    how many actual zeros came just before the row, so a run that began on an earlier day
    counts whole; see ``trailing_zero_run`` for what to carry to the next."""
    values, flags = _as_2d(values), _as_2d(flags)
    n_rows = values.shape[0]
    occupied = _per_row(occupied, n_rows, bool)
    minimum = _per_row(min_intervals, n_rows, np.int64)
    before = _per_row(carried, n_rows, np.int64)
    zero = (flags == ACTUAL) & (values == 0) & occupied[:, np.newaxis]
    rows, starts, ends = runs(zero)
    lengths = (ends - starts) + np.where(starts == 0, before[rows], 0)
    long = lengths >= minimum[rows]
    findings = []
    for row in np.unique(rows[long]):
        mine = long & (rows == row)
        positions = np.concatenate(
            [np.arange(s, e) for s, e in zip(starts[mine], ends[mine], strict=True)]
        )
        findings.append(
            Finding(
                Reason.ZERO_RUN,
                int(row),
                f"zero consumption for {int(lengths[mine].max())} intervals in a row at an occupied premise",
                tuple(positions.tolist()),
            )
        )
    return findings


def trailing_zero_run(
    values: np.ndarray, flags: np.ndarray, *, carried: np.ndarray | int = 0
) -> np.ndarray:
    """Per row, the actual zero readings in a row at its end (``carried`` added when the
    whole row is zeros): what ``find_zero_runs`` needs as ``carried`` for the next row."""
    values, flags = _as_2d(values), _as_2d(flags)
    zero = (flags == ACTUAL) & (values == 0)
    width = zero.shape[1]
    # Position of the last non-zero interval from the end; a row of zeros has none.
    tail = np.argmax(~zero[:, ::-1], axis=1)
    all_zero = zero.all(axis=1)
    return np.where(all_zero, width + _per_row(carried, zero.shape[0], np.int64), tail).astype(
        np.int64
    )


def register_delta(start_reading, end_reading, *, multiplier, dials) -> np.ndarray:
    """Energy between two dial readings: the difference, past a rollover at 10^dials, times
    the multiplier. Vectorized over any broadcastable inputs."""
    span = np.power(10.0, np.asarray(dials, dtype=np.float64))
    return np.mod(
        np.asarray(end_reading, dtype=np.float64) - np.asarray(start_reading, dtype=np.float64),
        span,
    ) * np.asarray(multiplier, dtype=np.float64)


def find_register_mismatch(
    values: np.ndarray,
    flags: np.ndarray,
    *,
    register_kwh: np.ndarray | float,
    tolerance_kwh: float,
    tolerance_share: float,
) -> list[Finding]:
    """Interval sum against the register difference of the same span (NaN: no register).

    With MISSING intervals the sum may fall short of the register — that energy is what the
    estimator fills — so only an excess is reported; a complete row must agree both ways."""
    values, flags = _as_2d(values).astype(np.float64), _as_2d(flags)
    register = _per_row(register_kwh, values.shape[0], np.float64)
    total = np.where(_present(flags), values, 0.0).sum(axis=1)
    complete = ~(flags == MISSING).any(axis=1)
    allowed = np.maximum(tolerance_kwh, tolerance_share * np.abs(register))
    difference = total - register
    off = np.isfinite(register) & ((difference > allowed) | (complete & (difference < -allowed)))
    return [
        Finding(
            Reason.REGISTER_MISMATCH,
            int(row),
            f"intervals sum to {total[row]:.3f} kWh, the register says {register[row]:.3f} kWh"
            + ("" if complete[row] else " (intervals missing)"),
        )
        for row in np.flatnonzero(off)
    ]


def find_multiplier_mismatch(
    interval_kwh: np.ndarray,
    register_kwh: np.ndarray,
    *,
    ratios: Sequence[float],
    tolerance_share: float,
    min_periods: int = 2,
    min_kwh: float = 1.0,
) -> list[Finding]:
    """Channels whose interval sums are consistently a common CT ratio times (or a ratio
    divided by) their register differences: a multiplier set on one side and not the other.

    ``interval_kwh`` and ``register_kwh`` are ``[channels, periods]``; periods where either
    is below ``min_kwh`` (or NaN) say nothing. A row needs ``min_periods`` periods, all near
    the same ratio."""
    interval_kwh, register_kwh = (
        _as_2d(interval_kwh).astype(np.float64),
        _as_2d(register_kwh).astype(np.float64),
    )
    usable = (
        np.isfinite(interval_kwh)
        & np.isfinite(register_kwh)
        & (interval_kwh >= min_kwh)
        & (register_kwh >= min_kwh)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(usable, interval_kwh / register_kwh, np.nan)
    counted = usable.sum(axis=1)
    candidates = [(float(r), f"×{r:g}") for r in ratios if r != 1] + [
        (1.0 / r, f"÷{r:g}") for r in ratios if r != 1
    ]
    flagged: dict[int, str] = {}
    for target, label in candidates:
        near = np.abs(ratio / target - 1.0) <= tolerance_share
        consistent = (counted >= min_periods) & (near | ~usable).all(axis=1)
        for row in np.flatnonzero(consistent):
            flagged.setdefault(int(row), label)
    return [
        Finding(
            Reason.MULTIPLIER_MISMATCH,
            row,
            f"interval sums are {label} the register differences in {counted[row]} periods: check the multiplier",
        )
        for row, label in sorted(flagged.items())
    ]


def find_inactive_consumption(
    values: np.ndarray, flags: np.ndarray, *, active: np.ndarray | bool, min_kwh: float
) -> list[Finding]:
    """Energy measured where none should flow (service point de-energized or unserved): a
    signal of unauthorized use."""
    values, flags = _as_2d(values).astype(np.float64), _as_2d(flags)
    active = _per_row(active, values.shape[0], bool)
    used = (flags == ACTUAL) & (values > 0)
    total = np.where(used, values, 0.0).sum(axis=1)
    suspect = ~active & (total > min_kwh)
    return [
        Finding(
            Reason.INACTIVE_CONSUMPTION,
            int(row),
            f"{total[row]:.3f} kWh measured on an inactive service point",
            tuple(np.flatnonzero(used[row]).tolist()),
        )
        for row in np.flatnonzero(suspect)
    ]


# -- estimation ---------------------------------------------------------------------------


def interpolate_short_gaps(
    values: np.ndarray, flags: np.ndarray, *, max_intervals: np.ndarray | int
) -> tuple[np.ndarray, np.ndarray]:
    """Fill each run of at most ``max_intervals`` (a number, or one per row) MISSING intervals that has a measured
    interval on both sides with the straight line between those two neighbours (never
    below zero), flagged ESTIMATED. Longer runs and runs at a row's edge are left alone."""
    values, flags = _as_2d(values).astype(np.float64).copy(), _as_2d(flags).copy()
    width = flags.shape[1]
    rows, starts, ends = runs(flags == MISSING)
    lengths = ends - starts
    limit = _per_row(max_intervals, flags.shape[0], np.int64)
    inside = (starts > 0) & (ends < width) & (lengths <= limit[rows])
    rows, starts, ends, lengths = rows[inside], starts[inside], ends[inside], lengths[inside]
    anchored = _measured(flags[rows, starts - 1]) & _measured(flags[rows, ends])
    rows, starts, ends, lengths = (
        rows[anchored],
        starts[anchored],
        ends[anchored],
        lengths[anchored],
    )
    if len(rows) == 0:
        return values, flags
    left, right = values[rows, starts - 1], values[rows, ends]
    run_index, positions = _expand(starts, lengths)
    step = (positions - starts[run_index] + 1) / (lengths[run_index] + 1)
    filled = left[run_index] + (right[run_index] - left[run_index]) * step
    values[rows[run_index], positions] = np.maximum(filled, 0.0)
    flags[rows[run_index], positions] = ESTIMATED
    return values, flags


def same_weekday_profile(
    values: np.ndarray,
    flags: np.ndarray,
    *,
    target_start: int,
    target_length: int,
    intervals_per_week: int,
    weeks: int,
) -> np.ndarray:
    """For the target span ``[target_start, target_start + target_length)`` of each row, the
    average of the same interval on the last ``weeks`` weeks that measured it; NaN where no
    week did. The rows must hold that much history before the target.

    A week is a fixed count of intervals, so across a DST change the profile is the same UTC
    instant a week earlier — one local hour off for that week only."""
    values, flags = _as_2d(values).astype(np.float64), _as_2d(flags)
    total = np.zeros((values.shape[0], target_length))
    count = np.zeros((values.shape[0], target_length))
    positions = np.arange(target_start, target_start + target_length)
    for week in range(1, weeks + 1):
        earlier = positions - week * intervals_per_week
        valid = (earlier >= 0) & (earlier < values.shape[1])
        if not valid.any():
            continue
        index = np.clip(earlier, 0, values.shape[1] - 1)
        usable = _measured(flags[:, index]) & valid[np.newaxis, :]
        total += np.where(usable, values[:, index], 0.0)
        count += usable
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, np.nan)


def fill_from_profile(
    values: np.ndarray, flags: np.ndarray, *, profile: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """MISSING intervals take the profile's value (clipped at zero) where it has one."""
    values, flags = _as_2d(values).astype(np.float64).copy(), _as_2d(flags).copy()
    profile = _as_2d(profile)
    fill = (flags == MISSING) & np.isfinite(profile)
    values[fill] = np.maximum(profile[fill], 0.0)
    flags[fill] = ESTIMATED
    return values, flags


def fit_to_register(
    values: np.ndarray,
    flags: np.ndarray,
    *,
    original_flags: np.ndarray,
    register_kwh: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray]:
    """Where a register difference bounds a row (NaN: it does not), make the intervals that
    were MISSING carry exactly the energy the register says the present ones lack:
    ``max(register − present sum, 0)``, in the shape the estimators gave them (flat where
    they gave none). So an estimate never invents energy the register says was not used."""
    values, flags = _as_2d(values).astype(np.float64).copy(), _as_2d(flags).copy()
    original = _as_2d(original_flags)
    register = _per_row(register_kwh, values.shape[0], np.float64)
    bounded = np.isfinite(register)[:, np.newaxis]
    was_missing = (original == MISSING) & bounded
    estimated = was_missing & (flags == ESTIMATED)
    known = np.where(_present(original), values, 0.0).sum(axis=1)
    target = np.where(np.isfinite(register), np.maximum(register - known, 0.0), 0.0)
    shape = np.where(estimated, np.maximum(values, 0.0), 0.0)
    # Intervals no estimator reached take the row's average estimated shape, or 1 (flat).
    with np.errstate(divide="ignore", invalid="ignore"):
        typical = np.where(estimated.any(axis=1), shape.sum(axis=1) / estimated.sum(axis=1), 1.0)
    typical = np.where(typical > 0, typical, 1.0)
    shape = np.where(was_missing & ~estimated, typical[:, np.newaxis], shape)
    weight = shape.sum(axis=1)
    flat = was_missing & (weight == 0)[:, np.newaxis]
    shape = np.where(flat, 1.0, shape)
    # Relative to the row's largest, so a vanishing profile cannot overflow the scale.
    peak = shape.max(axis=1, initial=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        shape = np.where(peak[:, np.newaxis] > 0, shape / peak[:, np.newaxis], 0.0)
    weight = shape.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(weight > 0, target / weight, 0.0)
    values = np.where(was_missing, shape * scale[:, np.newaxis], values)
    flags = np.where(was_missing, ESTIMATED, flags).astype(original.dtype)
    return values, flags


def estimate_intervals(
    values: np.ndarray,
    flags: np.ndarray,
    *,
    max_interpolate: int,
    profile: np.ndarray | None = None,
    register_kwh: np.ndarray | float = np.nan,
) -> tuple[np.ndarray, np.ndarray]:
    """The estimators in order: short gaps interpolated, long ones from the profile, then
    rows bounded by a register difference fitted to it. What stays MISSING could not be
    estimated and needs a person."""
    original = _as_2d(flags)
    values, flags = interpolate_short_gaps(values, original, max_intervals=max_interpolate)
    if profile is not None:
        values, flags = fill_from_profile(values, flags, profile=profile)
    return fit_to_register(values, flags, original_flags=original, register_kwh=register_kwh)


def average_daily_kwh(daily_kwh: np.ndarray, complete: np.ndarray | None = None) -> np.ndarray:
    """Per row, the average use of the complete days (NaN for a row with none)."""
    daily_kwh = _as_2d(daily_kwh).astype(np.float64)
    complete = (
        np.ones(daily_kwh.shape, dtype=bool) if complete is None else _as_2d(complete).astype(bool)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            complete.any(axis=1),
            np.where(complete, daily_kwh, 0.0).sum(axis=1) / complete.sum(axis=1),
            np.nan,
        )


def estimate_register_reading(
    *, previous_reading, average_daily_kwh, days, multiplier, dials
) -> np.ndarray:
    """A dial reading ``days`` after ``previous_reading`` at the historical average daily
    use: the energy divided by the multiplier, rolled over at 10^dials, to 3 decimals."""
    span = np.power(10.0, np.asarray(dials, dtype=np.float64))
    advance = (
        np.asarray(average_daily_kwh, dtype=np.float64)
        * np.asarray(days, dtype=np.float64)
        / np.asarray(multiplier, dtype=np.float64)
    )
    return np.round(
        np.mod(np.asarray(previous_reading, dtype=np.float64) + np.maximum(advance, 0.0), span), 3
    )
