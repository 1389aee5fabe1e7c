from datetime import UTC, date, datetime

import numpy as np
import pytest

from ohm.metering import usage
from ohm.metering.models import IntervalDay, Quality
from ohm.metering.store import (
    DayVector,
    day_number,
    fetch_current_days,
    load_intervals,
    save_interval_days,
)
from tests.factories import make_meter
from tests.metering.test_usage import quarter_hour_meter

AT = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def hourly_day(channel, day, value=1.0, flag=Quality.ACTUAL):
    return DayVector(channel.pk, day, 60, np.full(24, value), np.full(24, flag, dtype=np.uint8))


@pytest.mark.django_db
class TestIntervalStore:
    def test_round_trips_a_day_and_fills_days_never_received_with_missing(self):
        channel = make_meter().channels.get(number=1)
        save_interval_days(
            days=[hourly_day(channel, date(2026, 3, 1), 0.5)], recorded_at=AT, source="test"
        )

        series = load_intervals(
            channel=channel,
            start_at=datetime(2026, 3, 1, tzinfo=UTC),
            end_at=datetime(2026, 3, 3, tzinfo=UTC),
        )

        assert len(series.values) == 48
        assert series.total == pytest.approx(12.0)
        assert (series.flags[24:] == Quality.MISSING).all()

    def test_rewriting_the_same_day_changes_nothing_and_a_changed_day_is_versioned(self):
        channel = make_meter().channels.get(number=1)
        save_interval_days(
            days=[hourly_day(channel, date(2026, 3, 1))], recorded_at=AT, source="test"
        )

        same = save_interval_days(
            days=[hourly_day(channel, date(2026, 3, 1))], recorded_at=AT, source="test"
        )
        edited = save_interval_days(
            days=[hourly_day(channel, date(2026, 3, 1), 2.0, Quality.EDITED)],
            recorded_at=AT,
            source="edit",
            reason="meter test",
        )

        assert same == {"inserted": 0, "versioned": 0, "unchanged": 1}
        assert edited == {"inserted": 0, "versioned": 1, "unchanged": 0}
        rows = IntervalDay.objects.filter(channel=channel).order_by("version")
        assert [(r.version, r.is_current) for r in rows] == [(1, False), (2, True)]

    def test_a_window_in_local_time_cuts_inside_utc_days(self):
        channel = make_meter().channels.get(number=1)
        save_interval_days(
            days=[hourly_day(channel, date(2026, 3, 1)), hourly_day(channel, date(2026, 3, 2))],
            recorded_at=AT,
            source="test",
        )

        series = load_intervals(
            channel=channel,
            start_at=datetime(2026, 3, 1, 8, tzinfo=UTC),
            end_at=datetime(2026, 3, 2, 8, tzinfo=UTC),
        )

        assert len(series.values) == 24
        assert str(series.starts[0]) == "2026-03-01T08:00"

    def test_estimated_share_counts_estimated_intervals_only_as_usage_does(self):
        # given a day with 10 estimated, 10 edited, 10 missing and 66 actual intervals of 1 kWh
        channel = quarter_hour_meter().channels.get(number=1)
        flags = np.full(96, Quality.ACTUAL, dtype=np.uint8)
        flags[:10], flags[10:20], flags[20:30] = Quality.ESTIMATED, Quality.EDITED, Quality.MISSING
        values = np.where(flags == Quality.MISSING, 0, 1).astype(np.float32)
        save_interval_days(
            days=[DayVector(channel.pk, date(2026, 3, 3), 15, values, flags)],
            recorded_at=AT,
            source="test",
        )
        window = {
            "start_at": datetime(2026, 3, 3, tzinfo=UTC),
            "end_at": datetime(2026, 3, 4, tzinfo=UTC),
        }

        series = load_intervals(channel=channel, **window)

        # then the edited intervals are an analyst's figures, not estimates, in both
        assert series.estimated_share == pytest.approx(10 / 86)
        assert series.estimated_share == usage.estimated_share(channel=channel, **window)


@pytest.mark.django_db
class TestFetchCurrentDays:
    def test_finds_the_current_rows_of_dense_and_scattered_channels(self):
        channels = [make_meter().channels.get(number=1) for _ in range(3)]
        for c in channels:
            save_interval_days(
                days=[hourly_day(c, date(2026, 3, 1)), hourly_day(c, date(2026, 3, 2), 2.0)],
                recorded_at=AT,
                source="test",
            )
        save_interval_days(
            days=[hourly_day(channels[0], date(2026, 3, 2), 3.0)], recorded_at=AT, source="edit"
        )

        dense = fetch_current_days(
            channel_ids=[c.pk for c in channels],
            first_day=date(2026, 3, 2),
            last_day=date(2026, 3, 2),
        )
        scattered = fetch_current_days(
            channel_ids=[channels[0].pk, channels[2].pk, 10**9],
            first_day=date(2026, 3, 1),
            last_day=date(2026, 3, 2),
        )

        day = day_number(date(2026, 3, 2))
        assert set(dense) == {(c.pk, day) for c in channels}
        assert dense[(channels[0].pk, day)].version == 2
        assert float(dense[(channels[0].pk, day)].values[0]) == 3.0
        assert len(scattered) == 4
