"""Usage for billing and charts: local days across DST, TOU periods, demand, estimated share."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from ohm.core.audit import SystemActor
from ohm.metering import operations as metering_operations
from ohm.metering import usage
from ohm.metering.models import MeterChannel, Quality
from ohm.metering.store import DayVector, save_interval_days
from tests.factories import make_service_point

PACIFIC = ZoneInfo("America/Los_Angeles")
SYSTEM = SystemActor("tests")
AT = datetime(2026, 12, 1, tzinfo=UTC)
SPRING, FALL = date(2026, 3, 8), date(2026, 11, 1)  # 23 and 25 local hours; both Sundays
_serials = iter(range(1, 10_000))


def quarter_hour_meter(received: bool = False):
    channels = [(1, MeterChannel.Measure.KWH_DELIVERED, 15)] + (
        [(2, MeterChannel.Measure.KWH_RECEIVED, 15)] if received else []
    )
    return metering_operations.register_meter(
        serial=f"UQ{next(_serials):06d}",
        make="Itron",
        model="Riva",
        kind="ami",
        channels=channels,
        actor=SYSTEM,
        at=AT,
    )


def store(channel, first: date, days: int, value=1.0, flag=Quality.ACTUAL):
    n = 1440 // channel.interval_minutes
    vectors = [
        DayVector(
            channel.pk,
            first + timedelta(days=k),
            channel.interval_minutes,
            np.full(n, value, dtype=np.float32),
            np.full(n, flag, dtype=np.uint8),
        )
        for k in range(days)
    ]
    save_interval_days(days=vectors, recorded_at=AT, source="test")


def local(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=PACIFIC)


def schedule(
    weekday_hours: dict[int, int] | None = None, weekend_hours: dict[int, int] | None = None
):
    weekday, weekend = np.zeros((12, 24), dtype=int), np.zeros((12, 24), dtype=int)
    for hour, period in (weekday_hours or {}).items():
        weekday[:, hour] = period
    for hour, period in (weekend_hours or {}).items():
        weekend[:, hour] = period
    return weekday, weekend


@pytest.mark.django_db
class TestDailyUsage:
    def test_sums_the_23_and_25_hours_of_the_dst_days(self):
        meter = quarter_hour_meter(received=True)
        store(meter.channels.get(number=1), date(2026, 3, 6), 5)
        store(meter.channels.get(number=1), date(2026, 10, 30), 5)
        store(meter.channels.get(number=2), date(2026, 10, 30), 5, value=0.25)

        spring = usage.daily_usage(
            meter=meter,
            start_date=SPRING - timedelta(days=1),
            end_date=SPRING + timedelta(days=2),
            tz=PACIFIC,
        )
        fall = usage.daily_usage(
            meter=meter, start_date=FALL, end_date=FALL + timedelta(days=1), tz=PACIFIC
        )

        assert [(d.local_date, d.delivered_kwh) for d in spring] == [
            (date(2026, 3, 7), 96.0),
            (SPRING, 92.0),
            (date(2026, 3, 9), 96.0),
        ]
        assert [(d.local_date, d.delivered_kwh, d.received_kwh) for d in fall] == [
            (FALL, 100.0, 25.0)
        ]

    def test_counts_each_interval_in_exactly_one_local_day(self):
        meter = quarter_hour_meter()
        channel = meter.channels.get(number=1)
        n = 96
        for k in range(6):
            day = date(2026, 10, 29) + timedelta(days=k)
            save_interval_days(
                days=[
                    DayVector(
                        channel.pk,
                        day,
                        15,
                        np.arange(k * n, (k + 1) * n, dtype=np.float32),
                        np.ones(n, dtype=np.uint8),
                    )
                ],
                recorded_at=AT,
                source="test",
            )

        days = usage.daily_usage(
            meter=meter, start_date=date(2026, 10, 30), end_date=date(2026, 11, 3), tz=PACIFIC
        )

        starts = [
            datetime(2026, 10, 29, tzinfo=UTC) + timedelta(minutes=15 * i) for i in range(6 * n)
        ]
        expected = {}
        for i, start in enumerate(starts):
            expected.setdefault(start.astimezone(PACIFIC).date(), 0.0)
            expected[start.astimezone(PACIFIC).date()] += i
        assert [d.delivered_kwh for d in days] == [expected[d.local_date] for d in days]

    def test_reports_the_estimated_share_of_each_day(self):
        meter = quarter_hour_meter()
        channel = meter.channels.get(number=1)
        flags = np.ones(96, dtype=np.uint8)
        flags[:24] = Quality.ESTIMATED
        save_interval_days(
            days=[
                DayVector(channel.pk, date(2026, 3, 3), 15, np.ones(96, dtype=np.float32), flags)
            ],
            recorded_at=AT,
            source="test",
        )

        (day,) = usage.daily_usage(
            meter=meter, start_date=date(2026, 3, 3), end_date=date(2026, 3, 4), tz=UTC
        )

        assert day.estimated_share == pytest.approx(0.25)


@pytest.mark.django_db
class TestHourlyUsage:
    def test_gives_25_hours_on_the_fall_change_with_1_am_twice(self):
        meter = quarter_hour_meter()
        store(meter.channels.get(number=1), date(2026, 10, 31), 3)

        hours = usage.hourly_usage(
            meter=meter, start_at=local(FALL), end_at=local(FALL + timedelta(days=1)), tz=PACIFIC
        )

        assert len(hours) == 25
        assert [h.local_start.hour for h in hours[:4]] == [0, 1, 1, 2]
        assert hours[2].start_at - hours[1].start_at == timedelta(hours=1)
        assert {h.delivered_kwh for h in hours} == {4.0}


@pytest.mark.django_db
class TestEnergyByTouPeriod:
    def test_places_intervals_by_local_hour_across_both_dst_changes(self):
        meter = quarter_hour_meter()
        channel = meter.channels.get(number=1)
        store(channel, date(2026, 3, 7), 3)
        store(channel, date(2026, 10, 31), 3)
        weekday, weekend = schedule(weekend_hours={1: 1, 2: 2, 16: 3, 17: 3, 18: 3, 19: 3, 20: 3})

        spring = usage.energy_by_tou_period(
            channel=channel,
            start_at=local(SPRING),
            end_at=local(SPRING + timedelta(days=1)),
            weekday_schedule=weekday,
            weekend_schedule=weekend,
            tz=PACIFIC,
        )
        fall = usage.energy_by_tou_period(
            channel=channel,
            start_at=local(FALL),
            end_at=local(FALL + timedelta(days=1)),
            weekday_schedule=weekday,
            weekend_schedule=weekend,
            tz=PACIFIC,
        )

        assert spring == {0: 68.0, 1: 4.0, 2: 0.0, 3: 20.0}
        assert fall == {0: 68.0, 1: 8.0, 2: 4.0, 3: 20.0}

    def test_uses_the_weekday_schedule_on_weekdays_and_the_month_of_local_time(self):
        meter = metering_operations.register_meter(
            serial="UH000001",
            make="Itron",
            model="Riva",
            kind="ami",
            interval_minutes=60,
            actor=SYSTEM,
            at=AT,
        )
        channel = meter.channels.get(number=1)
        store(channel, date(2026, 6, 30), 3, value=2.0)
        weekday, weekend = schedule()
        weekday[6, 16:21] = 1  # July peak only: June 30 (a Tuesday) local stays off-peak

        result = usage.energy_by_tou_period(
            channel=channel,
            start_at=local(date(2026, 6, 30)),
            end_at=local(date(2026, 7, 2)),
            weekday_schedule=weekday,
            weekend_schedule=weekend,
            tz=PACIFIC,
        )

        assert result == {0: 2.0 * 24 + 2.0 * 19, 1: 2.0 * 5}

    def test_refuses_a_schedule_of_the_wrong_shape(self):
        with pytest.raises(ValueError, match="12 × 24"):
            usage.TouSchedule.of(np.zeros((24, 12)), np.zeros((12, 24)))


@pytest.mark.django_db
class TestMaxDemandKw:
    def test_is_the_highest_interval_average_kw_per_period(self):
        meter = quarter_hour_meter()
        channel = meter.channels.get(number=1)
        values = np.full(96, 0.5, dtype=np.float32)
        values[10] = 2.5  # 02:30 UTC on Tuesday → Monday 18:30 local: peak
        values[60] = 1.0  # 15:00 UTC → 07:00 local: off-peak
        save_interval_days(
            days=[DayVector(channel.pk, date(2026, 3, 3), 15, values, np.ones(96, dtype=np.uint8))],
            recorded_at=AT,
            source="test",
        )
        tou = usage.TouSchedule.of(*schedule(weekday_hours={16: 1, 17: 1, 18: 1, 19: 1, 20: 1}))
        period = {
            "start_at": datetime(2026, 3, 3, tzinfo=UTC),
            "end_at": datetime(2026, 3, 4, tzinfo=UTC),
        }

        by_period = usage.max_demand_kw(channel=channel, schedule=tou, tz=PACIFIC, **period)
        overall = usage.max_demand_kw(channel=channel, **period)

        assert by_period == {0: 4.0, 1: 10.0}
        assert overall == {0: 10.0}


@pytest.mark.django_db
class TestEstimatedShare:
    def test_is_the_estimated_energy_over_all_energy_and_edits_count_as_measured(self):
        meter = quarter_hour_meter()
        channel = meter.channels.get(number=1)
        flags = np.full(96, Quality.ACTUAL, dtype=np.uint8)
        flags[:10], flags[10:20], flags[20:30] = Quality.ESTIMATED, Quality.EDITED, Quality.MISSING
        values = np.where(flags == Quality.MISSING, 0, 1).astype(np.float32)
        save_interval_days(
            days=[DayVector(channel.pk, date(2026, 3, 3), 15, values, flags)],
            recorded_at=AT,
            source="test",
        )

        share = usage.estimated_share(
            channel=channel,
            start_at=datetime(2026, 3, 3, tzinfo=UTC),
            end_at=datetime(2026, 3, 4, tzinfo=UTC),
        )

        assert share == pytest.approx(10 / 86)


@pytest.mark.django_db
class TestLoadMany:
    def test_loads_many_channels_into_one_matrix_in_one_query(self, django_assert_max_num_queries):
        meters = [quarter_hour_meter() for _ in range(3)]
        channels = [m.channels.get(number=1) for m in meters]
        for k, channel in enumerate(channels[:2]):
            store(channel, date(2026, 3, 3), 2, value=k + 1.0)

        with django_assert_max_num_queries(2):
            matrix = usage.load_many(
                [c.pk for c in channels],
                datetime(2026, 3, 3, 12, tzinfo=UTC),
                datetime(2026, 3, 4, 12, tzinfo=UTC),
            )

        assert matrix.values.shape == (3, 96)
        assert matrix.values.sum(axis=1).tolist() == [96.0, 192.0, 0.0]
        assert (matrix.flags[2] == Quality.MISSING).all()

    def test_splits_many_channels_by_tou_period(self):
        meters = [quarter_hour_meter() for _ in range(2)]
        channels = [m.channels.get(number=1) for m in meters]
        for channel in channels:
            store(channel, date(2026, 3, 7), 3)
        weekday, weekend = schedule(weekend_hours={2: 1})
        matrix = usage.load_many(
            [c.pk for c in channels], local(SPRING), local(SPRING + timedelta(days=1))
        )

        periods, totals = usage.energy_by_tou_period_many(
            matrix, usage.TouSchedule.of(weekday, weekend), tz=PACIFIC
        )

        assert periods == [0, 1]
        assert totals.tolist() == [[92.0, 0.0], [92.0, 0.0]]

    def test_refuses_channels_of_different_lengths(self):
        quarter = quarter_hour_meter().channels.get(number=1)
        hourly = metering_operations.register_meter(
            serial="UH000002",
            make="Itron",
            model="Riva",
            kind="ami",
            interval_minutes=60,
            actor=SYSTEM,
            at=AT,
        ).channels.get(number=1)

        with pytest.raises(ValueError, match="one length"):
            usage.load_many([quarter.pk, hourly.pk], AT, AT + timedelta(days=1))


@pytest.mark.django_db
class TestListUsageChannels:
    def test_splits_a_period_at_a_meter_exchange(self):
        point = make_service_point()
        old, new = quarter_hour_meter(), quarter_hour_meter()
        start, swap, end = (
            datetime(2026, 3, 1, 8, tzinfo=UTC),
            datetime(2026, 3, 15, 8, tzinfo=UTC),
            datetime(2026, 4, 1, 7, tzinfo=UTC),
        )
        installation = metering_operations.install_meter(
            meter=old,
            service_point=point,
            installed_at=datetime(2026, 1, 1, tzinfo=UTC),
            actor=SYSTEM,
            at=AT,
        )
        metering_operations.remove_meter(
            installation=installation, removed_at=swap, actor=SYSTEM, at=AT, reason="exchange"
        )
        metering_operations.install_meter(
            meter=new, service_point=point, installed_at=swap, actor=SYSTEM, at=AT
        )

        found = usage.list_usage_channels(service_point_id=point.pk, start_at=start, end_at=end)

        assert [(c.meter_id, s, e) for c, s, e in found] == [
            (old.pk, start, swap),
            (new.pk, swap, end),
        ]
