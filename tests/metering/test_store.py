from datetime import UTC, date, datetime

import numpy as np
import pytest

from ohm.metering.models import IntervalDay, Quality
from ohm.metering.store import DayVector, load_intervals, save_interval_days
from tests.factories import make_meter

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
