"""Demo interval data: realistic shapes, the anomalies the demo needs, the same every time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from ohm.batch.demo_reads import build_demo_interval_data
from ohm.core.audit import SystemActor
from ohm.core.localtime import utility_zone
from ohm.metering import operations as metering_operations
from ohm.metering.models import IntervalDay, MeterEvent
from ohm.metering.store import load_intervals
from ohm.metering.usage import local_times

AT = datetime(2026, 3, 1, tzinfo=UTC)
AS_OF = date(2026, 3, 1)

pytestmark = pytest.mark.django_db


def make_meters(count: int, prefix: str = "DM"):
    return [
        metering_operations.register_meter(
            serial=f"{prefix}{k:07d}",
            make="Itron",
            model="Riva",
            kind="ami",
            actor=SystemActor("test"),
            at=AT,
        )
        for k in range(count)
    ]


def hourly_by_local_hour(meter, days: int) -> np.ndarray:
    series = load_intervals(
        channel=meter.channels.get(number=1), start_at=AT - timedelta(days=days), end_at=AT
    )
    hours = local_times(series.starts, utility_zone())
    hour = (hours - hours.astype("datetime64[D]")).astype(np.int64) // 60
    return np.bincount(hour, weights=series.values, minlength=24)


class TestBuildDemoIntervalData:
    def test_writes_a_day_row_per_channel_day_with_evening_peaks(self):
        meters = make_meters(4)

        summary = build_demo_interval_data(meters=meters, as_of=AS_OF, days=30, seed=3)

        assert summary["channel_days"] == 4 * 30
        assert IntervalDay.objects.count() == 4 * 30
        by_hour = hourly_by_local_hour(meters[0], 30)
        assert by_hour[19] > 2 * by_hour[3]

    def test_is_the_same_for_the_same_seed(self):
        first, second = make_meters(2, "DA"), make_meters(2, "DB")

        build_demo_interval_data(meters=first, as_of=AS_OF, days=5, seed=9)
        build_demo_interval_data(meters=second, as_of=AS_OF, days=5, seed=9)

        a = load_intervals(
            channel=first[1].channels.get(number=1), start_at=AT - timedelta(days=5), end_at=AT
        )
        b = load_intervals(
            channel=second[1].channels.get(number=1), start_at=AT - timedelta(days=5), end_at=AT
        )
        np.testing.assert_array_equal(a.values, b.values)

    def test_solar_exports_at_midday_on_the_received_channel(self):
        meters = make_meters(2, "DS")

        build_demo_interval_data(
            meters=meters,
            as_of=date(2025, 7, 1),
            days=20,
            seed=1,
            profiles={meters[0].serial: "solar", meters[1].serial: "ev"},
        )

        end = datetime(2025, 7, 1, tzinfo=UTC)
        received = load_intervals(
            channel=meters[0].channels.get(number=2), start_at=end - timedelta(days=20), end_at=end
        )
        assert received.values.sum() > 10
        ev = load_intervals(
            channel=meters[1].channels.get(number=1), start_at=end - timedelta(days=20), end_at=end
        )
        assert ev.values.max() > 5  # a 7.2 kW charger running a whole hour

    def test_gives_a_few_meters_gaps_spikes_and_tamper(self):
        meters = make_meters(20, "DT")

        summary = build_demo_interval_data(meters=meters, as_of=AS_OF, days=30, seed=2)

        assert len(summary["gaps"]) == len(summary["spikes"]) == len(summary["tamper"]) == 1
        assert (
            MeterEvent.objects.filter(kind="tamper", meter__serial__in=summary["tamper"]).count()
            == 1
        )
        gap = next(m for m in meters if m.serial == summary["gaps"][0])
        series = load_intervals(
            channel=gap.channels.get(number=1), start_at=AT - timedelta(days=30), end_at=AT
        )
        assert (series.flags == 0).sum() > 0
