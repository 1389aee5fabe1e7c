"""The bill cycle calendar: when each cycle is read, billed and due. Pure; imports no Django.

Twenty cycles spread a month's reading and billing over its business days: cycle *N* is read
on the *N*-th business day of each month (weekends and holidays skipped: US federal and
California state holidays from the ``holidays`` package), billed ``bill_lag_days`` business
days after the read, and due ``due_days`` calendar days after the bill date, moved forward to
the next business day when that falls on a weekend or holiday.

A bill period is the local days ``[previous read date, this read date)``: the meter is read
at the start of the read date, so the read day itself belongs to the next period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import holidays

CYCLES = range(1, 21)


class NoSuchCycle(ValueError):
    def __init__(self, number: int):
        super().__init__(f"Bill cycle {number} does not exist: cycles are 1 to 20.")


@cache
def _holidays(year: int) -> dict[date, str]:
    found = holidays.country_holidays("US", subdiv="CA", years=year)
    return dict(found.items())


def holiday_name(day: date) -> str | None:
    """The holiday's name (federal or California), or None on an ordinary day."""
    return _holidays(day.year).get(day)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and holiday_name(day) is None


def next_business_day(day: date) -> date:
    """``day`` itself when it is a business day, else the first business day after it."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def add_business_days(day: date, count: int) -> date:
    while count > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            count -= 1
    return day


def nth_business_day(year: int, month: int, n: int) -> date:
    """The ``n``-th business day of a month (1-based); past the month's last business day it
    runs on into the next month, so every cycle always has a date."""
    day = next_business_day(date(year, month, 1))
    return add_business_days(day, n - 1)


@dataclass(frozen=True)
class CycleRule:
    """How one cycle's dates fall. ``read_business_day`` is usually the cycle number."""

    number: int
    read_business_day: int
    bill_lag_days: int = 1
    due_days: int = 21

    def __post_init__(self) -> None:
        if self.number not in CYCLES:
            raise NoSuchCycle(self.number)
        if not 1 <= self.read_business_day <= 23:
            raise ValueError(f"read business day {self.read_business_day} is not 1 to 23")


@dataclass(frozen=True)
class CycleDates:
    cycle: int
    year: int
    month: int
    read_date: date
    bill_date: date
    due_date: date
    skipped: tuple[tuple[date, str], ...]  # holidays passed over on the way to the read date

    @property
    def label(self) -> str:
        return f"{self.year}-{self.month:02d}"


def due_date_for(bill_date: date, *, due_days: int) -> date:
    return next_business_day(bill_date + timedelta(days=due_days))


def dates_for_month(rule: CycleRule, year: int, month: int) -> CycleDates:
    read = nth_business_day(year, month, rule.read_business_day)
    bill = add_business_days(read, rule.bill_lag_days)
    skipped = []
    day = date(year, month, 1)
    while day <= read:
        name = holiday_name(day)
        if name is not None and day.weekday() < 5:
            skipped.append((day, name))
        day += timedelta(days=1)
    return CycleDates(
        cycle=rule.number,
        year=year,
        month=month,
        read_date=read,
        bill_date=bill,
        due_date=due_date_for(bill, due_days=rule.due_days),
        skipped=tuple(skipped),
    )


def calendar_for_year(rule: CycleRule, year: int) -> list[CycleDates]:
    return [dates_for_month(rule, year, month) for month in range(1, 13)]


def _months_back(year: int, month: int, count: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) - count
    return index // 12, index % 12 + 1


def latest_dates(rule: CycleRule, *, as_of: date) -> CycleDates:
    """The cycle's latest read on or before ``as_of`` (this month's, or last month's when
    this month's read date has not come yet)."""
    this = dates_for_month(rule, as_of.year, as_of.month)
    if this.read_date <= as_of:
        return this
    year, month = _months_back(as_of.year, as_of.month, 1)
    return dates_for_month(rule, year, month)


def previous_dates(dates: CycleDates, rule: CycleRule) -> CycleDates:
    year, month = _months_back(dates.year, dates.month, 1)
    return dates_for_month(rule, year, month)
