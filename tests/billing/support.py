"""Billing test records: tariffs as documents, approved versions, served accounts with hourly
interval data for local days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from ohm.core.audit import SystemActor
from ohm.core.localtime import utility_zone
from ohm.metering.models import MeterChannel, Quality
from ohm.metering.store import DayVector, save_interval_days
from ohm.rates.models import RateSchedule, RateVersion
from tests.factories import make_served_account

SYSTEM = SystemActor("tests")
RECORDED = datetime(2026, 1, 1, tzinfo=UTC)


def flat_tariff(
    *, fixed: str = "10.00", price: str = "0.10", tax: str | None = "7.5", tiers=None
) -> dict:
    """Fixed monthly charge, one energy period (optionally tiered by kWh/month), a tax on
    fixed + energy."""
    period = tiers or [{"rate": price}]
    document = {
        "name": "Test flat",
        "fixedchargefirstmeter": fixed,
        "fixedchargeunits": "$/month",
        "energyratestructure": [period],
        "energyweekdayschedule": [[0] * 24 for _ in range(12)],
        "energyweekendschedule": [[0] * 24 for _ in range(12)],
    }
    if tax:
        document["ohm"] = {
            "taxes": [
                {
                    "code": "UUT",
                    "description": "Utility users tax",
                    "percent": tax,
                    "base": ["fixed", "energy"],
                }
            ]
        }
    return document


def approve(schedule: RateSchedule, effective: date, document: dict, number: int = 1):
    at = datetime.combine(effective, time(8), tzinfo=UTC)
    return RateVersion.objects.create(
        schedule=schedule,
        number=number,
        effective_date=effective,
        document=document,
        status=RateVersion.Status.APPROVED,
        created_at=at,
        created_by_label="tests",
        updated_at=at,
        approved_at=at,
        approved_by_label="tests",
    )


def delivered_channel(account) -> MeterChannel:
    agreement = account.service_agreements.get()
    installation = agreement.service_point.meter_installations.get()
    return installation.meter.channels.get(measure=MeterChannel.Measure.KWH_DELIVERED)


def store_local_days(
    channel: MeterChannel,
    first: date,
    last: date,
    *,
    kwh: float = 1.0,
    flag: int = Quality.ACTUAL,
    per_day: dict[date, float] | None = None,
) -> None:
    """Intervals of ``kwh`` for every local day in ``[first, last)`` (stored by UTC day,
    whole UTC days around them; ``per_day`` overrides the value of some local days)."""
    zone = utility_zone()
    minutes = channel.interval_minutes
    n = 1440 // minutes
    start_utc = datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC).date()
    end_utc = datetime.combine(last, time.min, tzinfo=zone).astimezone(UTC).date()
    vectors = []
    day = start_utc
    while day <= end_utc:
        values = np.zeros(n, dtype=np.float32)
        flags = np.full(n, flag, dtype=np.uint8)
        for k in range(n):
            moment = datetime.combine(day, time.min, tzinfo=UTC) + timedelta(minutes=k * minutes)
            local_day = moment.astimezone(zone).date()
            if first <= local_day < last:
                values[k] = (per_day or {}).get(local_day, kwh)
            else:
                flags[k] = Quality.MISSING
        vectors.append(DayVector(channel.pk, day, minutes, values, flags))
        day += timedelta(days=1)
    save_interval_days(days=vectors, recorded_at=RECORDED, source="test")


def served_with_rate(document: dict | None = None, *, rate_code: str = "T-FLAT", **account):
    """An account served from 2026-03-01 on ``rate_code``, whose first approved version
    (from 2025-01-01) is ``document``."""
    result = make_served_account(rate_code=rate_code, **account)
    schedule = RateSchedule.objects.get(code=rate_code)
    if not schedule.versions.exists():
        approve(schedule, date(2025, 1, 1), document or flat_tariff())
    return result


def served_from(start: date, document: dict | None = None, *, rate_code: str = "T-FLAT", cycle=1):
    """An account of ``cycle`` whose service starts on ``start`` (meter installed the day
    before), on ``rate_code`` (first approved version from 2025-01-01: ``document``)."""
    from ohm.agreements import operations as agreement_operations
    from ohm.metering import operations as metering_operations
    from tests.factories import make_account, make_meter, make_rate, make_service_point

    at = datetime.combine(start, time(12), tzinfo=UTC)
    account = make_account(cycle=cycle, opened=start)
    point = make_service_point()
    metering_operations.install_meter(
        meter=make_meter(),
        service_point=point,
        installed_at=at - timedelta(days=1),
        actor=SYSTEM,
        at=at,
    )
    schedule = make_rate(rate_code)
    if not schedule.versions.exists():
        approve(schedule, date(2025, 1, 1), document or flat_tariff())
    agreement_operations.start_service(
        account=account,
        service_point=point,
        rate_schedule=schedule,
        start_date=start,
        actor=SYSTEM,
        at=at,
    )
    account.refresh_from_db()
    return account
