"""A year (by default 13 months) of realistic interval data for the demo utility's meters.

Load shapes by profile, each in the utility's local time (so peaks stay at 7 PM across DST):

- ``residential``: a base load, a morning and an evening peak, summer afternoon air
  conditioning and a little winter heating;
- ``commercial``: business hours on weekdays, low nights and weekends, AC in summer;
- ``ev``: residential plus a 7 kW charge most nights from about 9-11 PM;
- ``solar`` (net metered): residential load less rooftop generation; what is left over goes
  out on the received channel; ``ev_solar`` both;
- ``vacant_with_use``: residential-looking use — the caller gives it to a meter at an
  inactive service point, the consumption-on-inactive case VEE should catch.

A few meters (chosen by the seed among the residential ones) get gaps (MISSING intervals:
short ones VEE interpolates, a day or so it fills from the same weekdays, and a dead radio
for five weeks — with its communication-failure event — that it cannot estimate), spikes
(a 20 kW hour at a home), and a tamper event after which their recorded use drops — the
pattern a theft analyst looks for. Everything is a function of the seed; values are
numpy-built and written as day blocks (one row per channel per UTC day) through the store.

Then VEE runs over everything written, as it would after an import: estimates are written as
new versions, and what needs a person — the unestimated gap, the spikes, the tamper events,
the use at the unserved premise — becomes VEE exceptions in the work queues.
"""

from __future__ import annotations

import time as clock_time
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from django.db.models import Max

from ohm.agreements.models import ServiceAgreement
from ohm.agreements.queries import account_for_service_point
from ohm.core.audit import SystemActor
from ohm.core.localtime import start_of_day, utility_zone
from ohm.metering.models import Meter, MeterChannel, MeterEvent, Quality
from ohm.metering.store import DayBlock, day_number, intervals_per_day, save_day_block
from ohm.metering.usage import utc_offsets
from ohm.metering.vee_operations import VeeReport, run_vee

PROFILES = ("residential", "commercial", "ev", "solar", "ev_solar", "vacant_with_use")
SOLAR = {"solar", "ev_solar"}
CHUNK_METERS = 250


def _local_clock(first_day: date, days: int, minutes: int):
    """For every interval of the UTC days: local hour (fractional, mid-interval), local day
    of year, local weekday (0 Monday) — arrays of length days × n."""
    n = intervals_per_day(minutes)
    base = np.datetime64(first_day, "m")
    starts = base + np.arange(days * n) * np.timedelta64(minutes, "m")
    local = starts + utc_offsets(starts, utility_zone()).astype("timedelta64[m]")
    local_day = local.astype("datetime64[D]")
    hour = (local - local_day).astype(np.int64) / 60 + minutes / 120
    day_of_year = (local_day - local_day.astype("datetime64[Y]")).astype(np.int64)
    weekday = (local_day.astype(np.int64) + 3) % 7
    return hour, day_of_year, weekday


def _bump(hour: np.ndarray, center: float, width: float) -> np.ndarray:
    return np.exp(-((hour - center) ** 2) / width)


def _shapes(hour, day_of_year, weekday) -> dict[str, np.ndarray]:
    """kW by interval for a typical meter of each kind (before each meter's own scale)."""
    season = np.cos(2 * np.pi * (day_of_year - 200) / 365)
    summer, winter = np.clip(season, 0, None), np.clip(-season, 0, None)
    residential = (
        0.35
        + 0.45 * _bump(hour, 7.5, 2.0)
        + 0.95 * _bump(hour, 19.0, 5.0)
        + 1.8 * summer**2 * _bump(hour, 16.5, 9.0)
        + 0.3 * winter * (_bump(hour, 7.0, 3.0) + _bump(hour, 20.0, 6.0))
    )
    business = ((hour >= 8) & (hour < 18)).astype(float)
    weekend = weekday >= 5
    commercial = np.where(
        weekend,
        2.0 + 0.5 * business,
        2.0 + 7.0 * business * (1 + 0.5 * summer) + 1.5 * (_bump(hour, 7.0, 1.0)),
    )
    daylight = np.clip(np.sin(np.pi * (hour - 6.0) / 13.0), 0, None)
    solar = daylight * (0.55 + 0.45 * season) * (1 + 0.25 * summer)
    return {"residential": residential, "commercial": commercial, "solar": solar}


def build_demo_interval_data(
    *,
    meters: Iterable[Meter],
    as_of: date,
    days: int = 395,
    seed: int,
    profiles: Mapping[str, str] | None = None,
    recorded_at: datetime | None = None,
    vee: bool = True,
) -> dict:
    """Write ``days`` UTC days of intervals ending the day before ``as_of`` for each meter's
    kWh channels; ``profiles`` maps serial to a ``PROFILES`` kind (default residential); then
    (unless ``vee`` is false) run VEE over them. Returns a summary: counts, the meters given
    each anomaly, what VEE raised, and the seconds it took."""
    began = clock_time.perf_counter()
    profiles = dict(profiles or {})
    meters = sorted(
        Meter.objects.filter(pk__in=[m.pk for m in meters]).prefetch_related("channels"),
        key=lambda m: m.serial,
    )
    first_day = as_of - timedelta(days=days)
    recorded_at = recorded_at or datetime.combine(as_of, time.min, tzinfo=UTC)
    rng = np.random.default_rng(seed)
    kinds = [profiles.get(m.serial, "residential") for m in meters]
    unknown = sorted(set(kinds) - set(PROFILES))
    if unknown:
        raise ValueError(f"unknown profile kinds {unknown}; use {PROFILES}")
    plain = [k for k, kind in enumerate(kinds) if kind == "residential"]
    few = max(1, len(meters) // 200) if len(plain) >= 3 else 0
    picked = rng.permutation(plain)[: 3 * few].tolist() if few else []
    gaps, spikes, tampers = set(picked[:few]), set(picked[few : 2 * few]), set(picked[2 * few :])
    summary = {
        "meters": len(meters),
        "days": days,
        "channel_days": 0,
        "intervals": 0,
        "profiles": {kind: kinds.count(kind) for kind in PROFILES if kind in kinds},
        "gaps": sorted(meters[k].serial for k in gaps),
        "spikes": sorted(meters[k].serial for k in spikes),
        "tamper": sorted(meters[k].serial for k in tampers),
        "vacant_with_use": sorted(
            m.serial for m, kind in zip(meters, kinds, strict=True) if kind == "vacant_with_use"
        ),
    }
    by_minutes: dict[int, list[int]] = {}
    for k, meter in enumerate(meters):
        delivered = _channel(meter, MeterChannel.Measure.KWH_DELIVERED)
        if delivered is not None and delivered.interval_minutes is not None:
            by_minutes.setdefault(delivered.interval_minutes, []).append(k)
    tamper_events: list[MeterEvent] = []
    channel_days = intervals = 0
    for minutes, members in sorted(by_minutes.items()):
        n = intervals_per_day(minutes)
        hour, day_of_year, weekday = _local_clock(first_day, days, minutes)
        shapes = _shapes(hour, day_of_year, weekday)
        per_interval = minutes / 60
        for lo in range(0, len(members), CHUNK_METERS):
            chunk = members[lo : lo + CHUNK_METERS]
            written = _write_chunk(
                meters,
                kinds,
                chunk,
                shapes,
                hour,
                n,
                days,
                first_day,
                per_interval,
                rng,
                gaps,
                spikes,
                tampers,
                tamper_events,
                recorded_at,
            )
            channel_days += written[0]
            intervals += written[1]
    summary["channel_days"], summary["intervals"] = channel_days, intervals
    MeterEvent.objects.bulk_create(tamper_events, ignore_conflicts=True)
    if vee:
        report = _run_vee(meters, first_day, as_of, recorded_at)
        summary["vee"] = {
            "channels": report.channels_checked,
            "channel_days": report.days_checked,
            "estimated_intervals": report.estimated_intervals,
            "unestimated_intervals": report.unestimated_intervals,
            "exceptions": report.raised_by_rule(),
        }
    summary["seconds"] = round(clock_time.perf_counter() - began, 2)
    return summary


def _run_vee(meters: list[Meter], first_day: date, as_of: date, at: datetime) -> VeeReport:
    """VEE over every interval channel the demo wrote, with the agreements as its account
    lookup. A meter at an unserved premise is checked from the day after its last customer
    left: the use it goes on recording since is the consumption-on-inactive case."""
    start_at = datetime.combine(first_day, time.min, tzinfo=UTC)
    end_at = datetime.combine(as_of, time.min, tzinfo=UTC)
    spans: dict[datetime, list[MeterChannel]] = {}
    for meter in meters:
        begin = max(start_at, _vacant_since(meter) or start_at)
        for channel in meter.channels.all():
            if channel.interval_minutes and (
                channel.measure == MeterChannel.Measure.KWH_DELIVERED
                or channel.interval_days.exists()
            ):
                spans.setdefault(min(begin, end_at - timedelta(days=1)), []).append(channel)
    report = VeeReport()
    for begin, channels in sorted(spans.items()):
        report.merge(
            run_vee(
                channels=channels,
                start_at=begin,
                end_at=end_at,
                actor=SystemActor("demo VEE"),
                at=at,
                account_lookup=account_for_service_point,
            )
        )
    return report


def _vacant_since(meter: Meter) -> datetime | None:
    """When the premise of a meter nobody is served at was left (None: someone is served)."""
    installation = meter.installations.filter(removed_at__isnull=True).first()
    if installation is None:
        return None
    agreements = ServiceAgreement.objects.filter(
        service_point_id=installation.service_point_id
    ).exclude(status=ServiceAgreement.Status.CANCELLED)
    if agreements.filter(end_date__isnull=True).exists():
        return None
    ended = agreements.aggregate(latest=Max("end_date"))["latest"]
    return start_of_day(ended + timedelta(days=1)) if ended else None


def _channel(meter: Meter, measure: str) -> MeterChannel | None:
    return next(
        (c for c in meter.channels.all() if c.measure == measure and c.interval_minutes), None
    )


def _write_chunk(
    meters,
    kinds,
    chunk,
    shapes,
    hour,
    n,
    days,
    first_day,
    per_interval,
    rng,
    gaps,
    spikes,
    tampers,
    tamper_events,
    recorded_at,
) -> tuple[int, int]:
    m, t = len(chunk), days * n
    size = rng.lognormal(0.0, 0.35, size=(m, 1))
    load = np.empty((m, t))
    for row, k in enumerate(chunk):
        kind = kinds[k]
        load[row] = shapes["commercial" if kind == "commercial" else "residential"]
    load *= size * rng.lognormal(0.0, 0.22, size=(m, t))
    # Day-to-day variation (weather, being away) shared by a meter's intervals of one day.
    load *= np.repeat(rng.lognormal(0.0, 0.15, size=(m, days)), n, axis=1)
    received = np.zeros((m, t))
    for row, k in enumerate(chunk):
        kind = kinds[k]
        if kind in ("ev", "ev_solar"):
            nights = rng.random(days) < 0.8
            start_hour = rng.uniform(21.0, 23.5, size=days)
            length = rng.uniform(1.5, 3.5, size=days)
            h = hour.reshape(days, n)
            charging = (
                (h >= start_hour[:, None]) & (h < (start_hour + length)[:, None]) & nights[:, None]
            )
            load[row] += 7.2 * charging.reshape(-1)
        if kind in SOLAR:
            capacity = rng.uniform(4.0, 8.0)
            clouds = np.repeat(rng.uniform(0.35, 1.0, size=days), n)
            generation = capacity * shapes["solar"] * clouds
            net = load[row] - generation
            load[row], received[row] = np.clip(net, 0, None), np.clip(-net, 0, None)
    values = load * per_interval
    received *= per_interval
    flags = np.full((m, t), Quality.ACTUAL, dtype=np.uint8)
    for row, k in enumerate(chunk):
        if k in gaps:
            # Short gaps (interpolated), a day or so (from the same weekdays)...
            for hours in (2, int(rng.integers(20, 40))):
                start = int(rng.integers(0, t - 48 * n // 24))
                run = hours * n // 24
                values[row, start : start + run] = 0
                flags[row, start : start + run] = Quality.MISSING
            # ...and a dead radio for five weeks, ending a fortnight before the end: the last
            # week of it has no same-weekday history and needs a person.
            dead_end = t - 14 * n
            dead_start = max(0, dead_end - 35 * n)
            values[row, dead_start:dead_end] = 0
            flags[row, dead_start:dead_end] = Quality.MISSING
            failed = datetime.combine(first_day, time.min, tzinfo=UTC) + timedelta(
                minutes=dead_start * (1440 // n)
            )
            tamper_events.append(
                MeterEvent(
                    meter=meters[k],
                    kind=MeterEvent.Kind.COMM_FAILURE,
                    occurred_at=failed,
                    received_at=failed + timedelta(minutes=15),
                    detail={"demo": True},
                    source="demo",
                )
            )
        if k in spikes:
            # A 20 kW hour at a home: far above its own history, for a person to look at.
            at = rng.integers(t - 60 * n, t, size=3)
            values[row, at] = 20.0 * per_interval
        if k in tampers:
            when = int(rng.integers(t // 3, 2 * t // 3))
            values[row, when:] *= 0.3  # a bypass: the meter now sees a fraction of the use
            occurred = datetime.combine(first_day, time.min, tzinfo=UTC) + timedelta(
                minutes=when * (1440 // n)
            )
            tamper_events.append(
                MeterEvent(
                    meter=meters[k],
                    kind=MeterEvent.Kind.TAMPER,
                    occurred_at=occurred,
                    received_at=occurred + timedelta(minutes=15),
                    detail={"demo": True},
                    source="demo",
                )
            )
    first_number = day_number(first_day)
    day_numbers = np.arange(first_number, first_number + days, dtype=np.int64)
    channel_days = intervals = 0
    blocks = [(MeterChannel.Measure.KWH_DELIVERED, values, flags, list(range(m)))]
    solar_rows = [row for row, k in enumerate(chunk) if kinds[k] in SOLAR]
    if solar_rows:
        blocks.append((MeterChannel.Measure.KWH_RECEIVED, received, flags, solar_rows))
    for measure, matrix, flag_matrix, rows in blocks:
        ids, picked = [], []
        for row in rows:
            channel = _channel(meters[chunk[row]], measure)
            if channel is not None and channel.interval_minutes * n == 1440:
                ids.append(channel.pk)
                picked.append(row)
        if not ids:
            continue
        block = DayBlock(
            interval_minutes=1440 // n,
            channel_ids=np.repeat(np.array(ids, dtype=np.int64), days),
            day_numbers=np.tile(day_numbers, len(ids)),
            values=matrix[picked].reshape(len(ids) * days, n).astype(np.float32),
            flags=flag_matrix[picked].reshape(len(ids) * days, n),
        )
        save_day_block(block=block, recorded_at=recorded_at, source="demo", actor_label="demo")
        channel_days += len(ids) * days
        intervals += len(ids) * days * n
    return channel_days, intervals
