"""The cycle calendar skips weekends and holidays (US federal and California)."""

from datetime import date

import pytest

from ohm.billing import calendar


def rule(n: int, **kw) -> calendar.CycleRule:
    return calendar.CycleRule(number=n, read_business_day=n, **kw)


class TestCalendar:
    def test_cycle_one_skips_new_years_day_and_the_weekend(self):
        dates = calendar.dates_for_month(rule(1), 2027, 1)

        # Jan 1, 2027 is a Friday holiday; the 2nd and 3rd a weekend.
        assert dates.read_date == date(2027, 1, 4)
        assert dates.skipped == ((date(2027, 1, 1), "New Year's Day"),)
        assert dates.bill_date == date(2027, 1, 5)

    def test_skips_california_holidays_too(self):
        # César Chávez Day, March 31, 2026 (a Tuesday), is a California state holiday.
        assert calendar.holiday_name(date(2026, 3, 31)) is not None
        assert not calendar.is_business_day(date(2026, 3, 31))
        dates = calendar.dates_for_month(rule(20, bill_lag_days=2), 2026, 3)
        assert dates.read_date == date(2026, 3, 27)
        assert dates.bill_date == date(2026, 4, 1)  # Monday 30th, then past Tuesday the 31st

    def test_due_date_moves_past_a_weekend(self):
        # Bill date Thursday 2026-04-02 + 21 days = Thursday 04-23; 2026-05-28 + 21 = Thursday.
        assert calendar.due_date_for(date(2026, 4, 2), due_days=21) == date(2026, 4, 23)
        # 2026-06-27 (Saturday) moves to Monday the 29th.
        assert calendar.due_date_for(date(2026, 6, 6), due_days=21) == date(2026, 6, 29)

    def test_latest_dates_uses_last_month_before_this_months_read(self):
        assert calendar.latest_dates(rule(10), as_of=date(2026, 5, 4)).month == 4
        assert calendar.latest_dates(rule(1), as_of=date(2026, 5, 4)).month == 5

    @pytest.mark.parametrize("cycle", list(calendar.CYCLES))
    def test_every_cycle_reads_on_a_business_day_every_month(self, cycle):
        for row in calendar.calendar_for_year(rule(cycle), 2026):
            assert calendar.is_business_day(row.read_date)
            assert calendar.is_business_day(row.bill_date)
            assert calendar.is_business_day(row.due_date)
            assert row.read_date < row.bill_date < row.due_date

    def test_refuses_cycle_21(self):
        with pytest.raises(calendar.NoSuchCycle):
            rule(21)
