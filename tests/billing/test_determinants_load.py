"""load_determinants against a plain per-agreement reading of the interval store: missing and
estimated intervals, a meter exchange in the middle of the period, an exporting meter, the
DST days, and a channel missing whole days."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from ohm.billing.determinants import Grid, Want, load_determinants
from ohm.core.audit import SystemActor
from ohm.core.localtime import start_of_day, utility_zone
from ohm.metering import operations as metering_operations
from ohm.metering.models import MeterChannel, MeterInstallation, Quality
from ohm.metering.store import DayVector, load_intervals, save_interval_days
from ohm.metering.usage import TouSchedule, tou_periods
from tests.factories import make_service_point

SYSTEM = SystemActor("tests")
AT = datetime(2026, 12, 15, tzinfo=UTC)
#: Spring forward on March 8 and fall back on November 1 (America/Los_Angeles).
MARCH = (date(2026, 3, 1), date(2026, 4, 1))
FALL = (date(2026, 10, 20), date(2026, 11, 20))
_serials = iter(range(1, 10_000))
DELIVERED, RECEIVED = MeterChannel.Measure.KWH_DELIVERED, MeterChannel.Measure.KWH_RECEIVED


def meter(minutes: int = 60, received: bool = False):
    channels = [(1, DELIVERED, minutes)] + ([(2, RECEIVED, minutes)] if received else [])
    return metering_operations.register_meter(
        serial=f"DL{next(_serials):06d}",
        make="Itron",
        model="Riva",
        kind="ami",
        channels=channels,
        actor=SYSTEM,
        at=AT,
    )


def install(found_meter, point, installed_at: datetime) -> MeterInstallation:
    return metering_operations.install_meter(
        meter=found_meter, service_point=point, installed_at=installed_at, actor=SYSTEM, at=AT
    )


def local(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=utility_zone())


def store_random(channel, first: date, last: date, *, seed: int, skip=(), estimated=True):
    """Random kWh on every UTC day of ``[first, last]`` but ``skip``: some intervals MISSING
    (with a value stored anyway), some ESTIMATED, some EDITED, a few negative, and values whose
    Wh need float64 rounding (float32 × 1000 would round them differently)."""
    rng = np.random.default_rng(seed)
    n = 1440 // channel.interval_minutes
    vectors = []
    day = first
    while day <= last:
        if day not in skip:
            values = rng.uniform(0, 3, n).astype(np.float32)
            values[rng.random(n) < 0.05] *= -1
            values[rng.random(n) < 0.1] = np.float32(0.0005)
            flags = np.full(n, Quality.ACTUAL, dtype=np.uint8)
            flags[rng.random(n) < 0.1] = Quality.MISSING
            if estimated:
                flags[rng.random(n) < 0.1] = Quality.ESTIMATED
            flags[rng.random(n) < 0.05] = Quality.EDITED
            vectors.append(DayVector(channel.pk, day, channel.interval_minutes, values, flags))
        day += timedelta(days=1)
    save_interval_days(days=vectors, recorded_at=AT, source="test")


def reference(want: Want) -> dict | None:
    """The determinants of one agreement read channel by channel: the previous
    implementation's rules, written plainly."""
    start_at, end_at = start_of_day(want.start_date), start_of_day(want.end_date)
    parts = []
    for installation in MeterInstallation.objects.filter(service_point_id=want.service_point_id):
        lo = max(start_at, installation.installed_at)
        hi = min(end_at, installation.removed_at or end_at)
        channels = {}
        for channel in installation.meter.channels.order_by("number"):
            if channel.interval_minutes and channel.measure in (DELIVERED, RECEIVED):
                channels.setdefault(channel.measure, channel)
        if hi > lo and DELIVERED in channels:
            parts.append((channels[DELIVERED], channels.get(RECEIVED), lo, hi))
    if len({delivered.interval_minutes for delivered, _, _, _ in parts}) != 1:
        return None
    minutes = parts[0][0].interval_minutes
    starts = load_intervals(channel=parts[0][0], start_at=start_at, end_at=end_at).starts
    t = len(starts)
    delivered_wh, received_wh = np.zeros(t, dtype=np.int64), np.zeros(t, dtype=np.int64)
    covered = np.zeros(t, dtype=bool)
    estimated_wh = total_wh = missing = 0

    def wh_of(channel):
        series = load_intervals(channel=channel, start_at=start_at, end_at=end_at)
        present = series.flags != Quality.MISSING
        wh = np.rint(np.where(present, series.values, 0.0) * 1000).astype(np.int64)
        return wh, series.flags

    for delivered, received, lo, hi in parts:
        window = (starts >= np.datetime64(lo.astimezone(UTC).replace(tzinfo=None), "m")) & (
            starts < np.datetime64(hi.astimezone(UTC).replace(tzinfo=None), "m")
        )
        covered |= window
        wh, flags = wh_of(delivered)
        delivered_wh[window] += wh[window]
        missing += int((flags[window] == Quality.MISSING).sum())
        total_wh += int(np.abs(wh[window]).sum())
        estimated_wh += int(np.abs(wh[window & (flags == Quality.ESTIMATED)]).sum())
        if received is not None:
            received_wh[window] += wh_of(received)[0][window]
    missing += int((~covered).sum())
    return {
        "minutes": minutes,
        "starts": starts,
        "delivered_wh": delivered_wh,
        "received_wh": received_wh,
        "estimated_share": estimated_wh / total_wh if total_wh else 0.0,
        "missing_share": missing / t if t else 1.0,
    }


def assert_matches_reference(wants: list[Want]) -> list:
    loaded = load_determinants(wants)

    expected = {want.agreement_id: reference(want) for want in wants}
    assert sorted(loaded.without_intervals) == sorted(
        a for a, found in expected.items() if found is None
    )
    seen = []
    for grid in loaded.grids:
        for k, agreement_id in enumerate(grid.agreement_ids):
            found = expected[agreement_id]
            assert found is not None
            assert grid.interval_minutes == found["minutes"]
            assert np.array_equal(grid.starts, found["starts"])
            assert grid.delivered_wh.dtype == np.int64
            assert np.array_equal(grid.delivered_wh[k], found["delivered_wh"])
            assert np.array_equal(grid.received_wh[k], found["received_wh"])
            assert grid.estimated_share[k] == found["estimated_share"]
            assert grid.missing_share[k] == found["missing_share"]
            assert grid.usage_wh[k] == found["delivered_wh"].sum()
            assert grid.max_demand_w[k] == found["delivered_wh"].max() * (
                60 // grid.interval_minutes
            )
            seen.append(agreement_id)
    assert sorted(seen + loaded.without_intervals) == sorted(w.agreement_id for w in wants)
    return loaded.grids


@pytest.mark.django_db
class TestLoadDeterminants:
    def test_matches_a_plain_reading_across_exchanges_exports_gaps_and_dst(self):
        # given agreements on one March period (spring DST) and one across the fall change
        before = local(date(2026, 2, 1))
        whole_export = make_service_point()
        exporter = meter(received=True)
        install(exporter, whole_export, before)
        store_random(exporter.channels.get(number=1), date(2026, 2, 27), date(2026, 4, 2), seed=1)
        store_random(exporter.channels.get(number=2), date(2026, 2, 27), date(2026, 4, 2), seed=2)

        exchanged = make_service_point()
        old, new = meter(), meter(received=True)
        swap = local(date(2026, 3, 14), 12, 30)  # in the middle of an hour interval
        metering_operations.remove_meter(
            installation=install(old, exchanged, before),
            removed_at=swap,
            actor=SYSTEM,
            at=AT,
            reason="exchange",
        )
        install(new, exchanged, swap)
        store_random(old.channels.get(number=1), date(2026, 2, 27), date(2026, 4, 2), seed=3)
        store_random(new.channels.get(number=1), date(2026, 3, 14), date(2026, 4, 2), seed=4)
        store_random(new.channels.get(number=2), date(2026, 3, 14), date(2026, 4, 2), seed=5)

        gaps = make_service_point()
        gappy = meter()
        install(gappy, gaps, before)
        missing_days = {date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 20)}
        store_random(
            gappy.channels.get(number=1),
            date(2026, 2, 28),
            date(2026, 4, 1),
            seed=6,
            skip=missing_days,
        )

        late = make_service_point()
        late_meter = meter()
        install(late_meter, late, local(date(2026, 3, 20), 9))
        store_random(late_meter.channels.get(number=1), date(2026, 3, 20), date(2026, 4, 1), seed=7)

        fall = make_service_point()
        quarter = meter(minutes=15)
        install(quarter, fall, before)
        store_random(quarter.channels.get(number=1), date(2026, 10, 19), date(2026, 11, 21), seed=8)

        unmetered = make_service_point()
        wants = [
            Want(1, whole_export.pk, *MARCH),
            Want(2, exchanged.pk, *MARCH),
            Want(3, gaps.pk, *MARCH),
            Want(4, late.pk, *MARCH),
            Want(5, fall.pk, *FALL),
            Want(6, unmetered.pk, *MARCH),
        ]

        # when / then
        grids = assert_matches_reference(wants)

        assert [(g.interval_minutes, g.agreement_ids, g.has_received) for g in grids] == [
            (60, [1, 2, 3, 4], True),
            (15, [5], False),
        ]
        assert len(grids[0].starts) == 31 * 24 - 1  # spring: one 23-hour day
        assert len(grids[1].starts) == 31 * 96 + 4  # fall: one 25-hour day

    def test_matches_a_plain_reading_when_every_channel_has_every_day(self):
        points = [make_service_point() for _ in range(3)]
        for k, point in enumerate(points):
            found = meter()
            install(found, point, local(date(2026, 2, 1)))
            store_random(
                found.channels.get(number=1),
                date(2026, 2, 28),
                date(2026, 4, 1),
                seed=10 + k,
                estimated=k != 1,
            )
        # Members not in channel order: the rows are gathered, not sliced.
        wants = [Want(10 + k, points[k].pk, *MARCH) for k in (2, 0, 1)]

        assert_matches_reference(wants)

    def test_a_meter_with_no_data_is_all_missing(self):
        point = make_service_point()
        install(meter(), point, local(date(2026, 2, 1)))

        loaded = load_determinants([Want(1, point.pk, *MARCH)])

        (grid,) = loaded.grids
        assert grid.delivered_wh.sum() == 0
        assert grid.missing_share.tolist() == [1.0]
        assert grid.estimated_share.tolist() == [0.0]

    def test_loads_a_chunk_in_a_few_queries(self, django_assert_max_num_queries):
        points = [make_service_point() for _ in range(4)]
        for k, point in enumerate(points):
            found = meter(received=k == 0)
            install(found, point, local(date(2026, 2, 1)))
            store_random(found.channels.get(number=1), date(2026, 3, 1), date(2026, 4, 1), seed=k)
        wants = [Want(k, point.pk, *MARCH) for k, point in enumerate(points)]

        with django_assert_max_num_queries(3):
            load_determinants(wants)


def grid_of(delivered: np.ndarray, first: date, minutes: int = 60) -> Grid:
    start = np.datetime64(start_of_day(first).astimezone(UTC).replace(tzinfo=None), "m")
    n, t = delivered.shape
    return Grid(
        start_date=first,
        end_date=first,
        interval_minutes=minutes,
        agreement_ids=list(range(n)),
        starts=start + np.arange(t) * np.timedelta64(minutes, "m"),
        delivered_wh=delivered,
        received_wh=np.zeros_like(delivered),
        estimated_share=np.zeros(n),
        missing_share=np.zeros(n),
    )


class TestByPeriod:
    """wh_by_period and demand_by_period against the plain per-period mask."""

    @pytest.mark.parametrize(("first", "minutes"), [(MARCH[0], 60), (FALL[0], 15)])
    def test_match_the_per_period_mask_across_the_dst_days(self, first, minutes):
        rng = np.random.default_rng(7)
        t = 31 * 1440 // minutes
        grid = grid_of(rng.integers(-500, 5000, (40, t)), first, minutes)
        weekday, weekend = np.zeros((12, 24), dtype=int), np.zeros((12, 24), dtype=int)
        weekday[:, 7:16], weekday[:, 16:21], weekend[:, 16:21] = 1, 2, 1
        weekday[:, 3] = 5  # a period only on weekdays at 3 AM
        schedule = TouSchedule.of(weekday, weekend)
        which = tou_periods(grid.starts, schedule, utility_zone())

        for rows in (None, np.array([5, 1, 30, 30, 2])):
            delivered = grid.delivered_wh if rows is None else grid.delivered_wh[rows]
            periods, wh = grid.wh_by_period(schedule, rows=rows)
            _, w = grid.demand_by_period(schedule, rows=rows)

            assert periods == [0, 1, 2, 5]
            assert wh.dtype == w.dtype == np.int64
            for k, period in enumerate(periods):
                mask = which == period
                assert wh[:, k].tolist() == delivered[:, mask].sum(axis=1).tolist()
                assert (
                    w[:, k].tolist() == (delivered[:, mask].max(axis=1) * (60 // minutes)).tolist()
                )

    def test_a_period_with_no_interval_and_an_empty_grid_are_zero(self):
        weekday = np.zeros((12, 24), dtype=int)
        weekday[:, 12] = 1
        schedule = TouSchedule.of(weekday, np.zeros((12, 24), dtype=int))
        sunday = grid_of(np.arange(48).reshape(2, 24), date(2026, 3, 1))
        empty = grid_of(np.zeros((2, 0), dtype=np.int64), date(2026, 3, 1))

        assert sunday.wh_by_period(schedule)[1].tolist() == [[276, 0], [852, 0]]
        assert sunday.demand_by_period(schedule)[1].tolist() == [[23, 0], [47, 0]]
        assert empty.wh_by_period(schedule)[1].tolist() == [[0, 0], [0, 0]]
        assert empty.demand_by_period(schedule)[1].tolist() == [[0, 0], [0, 0]]
