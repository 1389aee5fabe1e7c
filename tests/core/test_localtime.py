from datetime import UTC, date, datetime, timedelta

import pytest

from ohm.core.localtime import day_bounds, hours_in_day, localdate, start_of_day, to_local
from ohm.core.periods import InvalidPeriod, Period


class TestDayBounds:
    def test_spring_forward_day_has_23_hours(self):
        start, end = day_bounds(date(2026, 3, 8))

        assert end - start == timedelta(hours=23)
        assert start == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
        assert end == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)

    def test_fall_back_day_has_25_hours(self):
        start, end = day_bounds(date(2026, 11, 1))

        assert end - start == timedelta(hours=25)
        assert hours_in_day(date(2026, 11, 1)) == 25

    def test_an_ordinary_day_has_24_hours(self):
        assert hours_in_day(date(2026, 3, 3)) == 24

    def test_days_follow_one_another_without_gaps(self):
        assert day_bounds(date(2026, 3, 7))[1] == start_of_day(date(2026, 3, 8))


class TestLocaldate:
    def test_is_the_previous_day_until_midnight_pacific(self):
        assert localdate(datetime(2026, 1, 15, 7, 59, tzinfo=UTC)) == date(2026, 1, 14)
        assert localdate(datetime(2026, 1, 15, 8, 0, tzinfo=UTC)) == date(2026, 1, 15)

    def test_uses_daylight_time_in_summer(self):
        assert localdate(datetime(2026, 7, 15, 6, 59, tzinfo=UTC)) == date(2026, 7, 14)
        assert localdate(datetime(2026, 7, 15, 7, 0, tzinfo=UTC)) == date(2026, 7, 15)

    @pytest.mark.parametrize("convert", [localdate, to_local])
    def test_refuses_a_naive_datetime(self, convert):
        with pytest.raises(ValueError, match="naive"):
            convert(datetime(2026, 1, 15, 8, 0))


class TestPeriod:
    def test_contains_its_start_but_not_its_end(self):
        period = Period(date(2026, 3, 1), date(2026, 4, 1))

        assert period.contains(date(2026, 3, 1))
        assert period.contains(date(2026, 3, 31))
        assert not period.contains(date(2026, 4, 1))
        assert not period.contains(date(2026, 2, 28))

    def test_an_open_period_contains_everything_after_its_start(self):
        period = Period(date(2026, 3, 1))

        assert period.is_open
        assert period.contains(date(2099, 1, 1))
        assert not period.contains(date(2026, 2, 28))

    @pytest.mark.parametrize(
        ("a", "b", "overlap"),
        [
            ((date(2026, 1, 1), date(2026, 2, 1)), (date(2026, 2, 1), date(2026, 3, 1)), False),
            ((date(2026, 1, 1), date(2026, 2, 2)), (date(2026, 2, 1), date(2026, 3, 1)), True),
            ((date(2026, 1, 1), None), (date(2025, 1, 1), date(2026, 1, 1)), False),
            ((date(2026, 1, 1), None), (date(2025, 1, 1), date(2026, 1, 2)), True),
            ((date(2026, 1, 1), None), (date(2030, 1, 1), None), True),
            ((date(2026, 1, 1), date(2026, 1, 2)), (date(2020, 1, 1), None), True),
        ],
    )
    def test_overlaps_only_when_they_share_a_moment(self, a, b, overlap):
        first, second = Period(*a), Period(*b)

        assert first.overlaps(second) is overlap
        assert second.overlaps(first) is overlap

    @pytest.mark.parametrize("end", [date(2026, 3, 1), date(2026, 2, 1)])
    def test_refuses_an_end_not_after_its_start(self, end):
        with pytest.raises(InvalidPeriod):
            Period(date(2026, 3, 1), end)
