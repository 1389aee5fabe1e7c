"""The utility's local time. Datetimes are stored aware in UTC; days, bill periods and
schedules are the utility's local days. Nothing here reads the clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from django.conf import settings


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def utility_zone() -> ZoneInfo:
    return _zone(settings.UTILITY_TIME_ZONE)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} is naive; Ohm takes only aware datetimes")


def localdate(moment: datetime) -> date:
    """The utility's calendar date at an aware instant."""
    _require_aware(moment)
    return moment.astimezone(utility_zone()).date()


def to_local(moment: datetime) -> datetime:
    _require_aware(moment)
    return moment.astimezone(utility_zone())


def start_of_day(day: date) -> datetime:
    """The instant (aware, UTC) at which local midnight begins ``day``."""
    return datetime.combine(day, time.min, tzinfo=utility_zone()).astimezone(UTC)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """``[start, end)`` of a local day: 23 hours on the spring DST change, 25 in the fall."""
    return start_of_day(day), start_of_day(day + timedelta(days=1))


def hours_in_day(day: date) -> float:
    start, end = day_bounds(day)
    return (end - start).total_seconds() / 3600
