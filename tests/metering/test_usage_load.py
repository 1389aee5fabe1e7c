"""usage.load_many: the matrix a bill run's chunk reads, by the fast path (every channel has
every day) and the general one (days missing, channels without rows)."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from django.db import connection

from ohm.core.audit import SystemActor
from ohm.metering import operations as metering_operations
from ohm.metering import usage
from ohm.metering.models import MeterChannel, Quality
from ohm.metering.store import DayVector, load_intervals, save_interval_days

SYSTEM = SystemActor("tests")
AT = datetime(2026, 12, 1, tzinfo=UTC)
START, END = datetime(2026, 3, 2, 8, tzinfo=UTC), datetime(2026, 3, 6, 8, tzinfo=UTC)
_serials = iter(range(1, 10_000))


def hourly_channel():
    return metering_operations.register_meter(
        serial=f"LM{next(_serials):06d}",
        make="Itron",
        model="Riva",
        kind="ami",
        channels=[(1, MeterChannel.Measure.KWH_DELIVERED, 60)],
        actor=SYSTEM,
        at=AT,
    ).channels.get(number=1)


def store_days(channel, days: list[date], seed: int) -> None:
    rng = np.random.default_rng(seed)
    save_interval_days(
        days=[
            DayVector(
                channel.pk,
                day,
                60,
                rng.uniform(-1, 3, 24).astype(np.float32),
                rng.choice([Quality.MISSING, Quality.ACTUAL, Quality.ESTIMATED], 24).astype(
                    np.uint8
                ),
            )
            for day in days
        ],
        recorded_at=AT,
        source="test",
    )


def every_day(first: date, last: date) -> list[date]:
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def assert_rows_are_the_store(matrix, channels) -> None:
    for k, channel in enumerate(channels):
        series = load_intervals(channel=channel, start_at=START, end_at=END)
        assert np.array_equal(matrix.starts, series.starts)
        assert np.array_equal(matrix.values[k], series.values)
        assert np.array_equal(matrix.flags[k], series.flags)


@pytest.mark.django_db
class TestLoadMany:
    def test_reads_channels_with_every_day(self):
        channels = [hourly_channel() for _ in range(3)]
        for k, channel in enumerate(channels):
            store_days(channel, every_day(date(2026, 3, 2), date(2026, 3, 6)), seed=k)

        matrix = usage.load_many([c.pk for c in reversed(channels)], START, END)

        assert matrix.values.dtype == np.float64
        assert matrix.channel_ids.tolist() == sorted(c.pk for c in channels)
        assert_rows_are_the_store(matrix, sorted(channels, key=lambda c: c.pk))

    def test_reads_channels_missing_days_and_channels_without_rows(self):
        channels = [hourly_channel() for _ in range(3)]
        days = every_day(date(2026, 3, 2), date(2026, 3, 6))
        store_days(channels[0], days, seed=1)
        store_days(channels[1], [d for d in days if d.day not in (3, 4)], seed=2)

        matrix = usage.load_many([c.pk for c in channels], START, END)

        assert_rows_are_the_store(matrix, channels)
        assert (matrix.flags[2] == Quality.MISSING).all()
        assert (matrix.values[2] == 0).all()

    def test_keeps_the_stored_float32_when_asked(self, django_assert_num_queries):
        channels = [hourly_channel() for _ in range(2)]
        for k, channel in enumerate(channels):
            store_days(channel, every_day(date(2026, 3, 1), date(2026, 3, 7)), seed=k)
        wide = usage.load_many([c.pk for c in channels], START, END)

        with django_assert_num_queries(1):
            narrow = usage.load_many(
                [c.pk for c in channels], START, END, interval_minutes=60, dtype=np.float32
            )

        assert narrow.values.dtype == np.float32
        assert np.array_equal(narrow.values.astype(np.float64), wide.values)
        assert np.array_equal(narrow.flags, wide.flags)

    def test_refuses_rows_of_another_length_than_the_caller_says(self):
        channel = hourly_channel()
        store_days(channel, [date(2026, 3, 2)], seed=1)

        with pytest.raises(ValueError, match="values long"):
            usage.load_many([channel.pk], START, END, interval_minutes=15)


@pytest.mark.django_db
class TestLoadRows:
    def test_makes_any_rows_in_any_order_as_the_matrix_has_them(self):
        channels = [hourly_channel() for _ in range(4)]
        days = every_day(date(2026, 3, 2), date(2026, 3, 6))
        store_days(channels[0], days, seed=1)
        store_days(channels[1], [d for d in days if d.day != 4], seed=2)
        store_days(channels[3], days, seed=3)
        ids = sorted(c.pk for c in channels)
        matrix = usage.load_many(ids, START, END)

        stored = usage.load_rows(ids, START, END, interval_minutes=60)

        assert np.array_equal(stored.starts, matrix.starts)
        for index in ([0, 1, 2, 3], [3, 0], [1], [2, 3, 1, 0, 0]):
            values, flags = stored.rows(index)
            assert values.dtype == np.float32
            assert np.array_equal(values, matrix.values[index])
            assert np.array_equal(flags, matrix.flags[index])


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's query plan")
def test_the_day_rows_query_seeks_each_channel_by_the_current_rows_index():
    channel = hourly_channel()
    store_days(channel, [date(2026, 3, 2)], seed=1)
    seen = []

    def capture(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        usage.load_many([channel.pk], START, END, interval_minutes=60)
    ((sql, params),) = [(s, p) for s, p in seen if "group_concat" in s]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())

    assert "USING INDEX one_current_interval_day (channel_id" in plan
    assert "interval_day_current_by_day" not in plan
