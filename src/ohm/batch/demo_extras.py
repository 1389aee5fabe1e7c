"""What the demo builds after the city itself: financial history and meter data.

Meter data is the most expensive part (a meter-year is 365 day rows per channel), so it
goes to a sample of meters chosen to show every kind of shape: residential, commercial,
electric vehicles, rooftop solar, and consumption at an unserved premise.
"""

from __future__ import annotations

import random
from datetime import date

from ohm.agreements.models import ServiceAgreement
from ohm.metering.models import Meter

_PROFILE_BY_RATE = {"EV-TOU": "ev", "NEM": "solar", "A-1": "commercial", "A-10": "commercial"}


def pick_interval_meters(*, count: int, seed: int) -> tuple[list[Meter], dict[str, str]]:
    """Up to ``count`` installed AMI meters with their profile kinds: every EV and solar
    customer's meter first (they are few), then a random sample of the rest, plus one meter
    at a service point nobody is served at (use there is a sign of unauthorized usage)."""
    rng = random.Random(seed)
    served = (
        ServiceAgreement.objects.filter(
            status=ServiceAgreement.Status.ACTIVE,
            service_point__meter_installations__removed_at__isnull=True,
            service_point__meter_installations__meter__kind=Meter.Kind.AMI,
        )
        .values_list("service_point__meter_installations__meter_id", "rate_schedule__code")
        .order_by("service_point__meter_installations__meter_id")
    )
    profile_by_meter = {
        meter_id: _PROFILE_BY_RATE.get(code, "residential") for meter_id, code in served
    }
    special = [m for m, kind in profile_by_meter.items() if kind in ("ev", "solar")]
    rest = [m for m, kind in profile_by_meter.items() if kind not in ("ev", "solar")]
    rng.shuffle(special)
    rng.shuffle(rest)
    chosen = (special[: max(count // 5, 1)] + rest)[:count]
    profiles = {}
    meters = list(Meter.objects.filter(pk__in=chosen))
    for meter in meters:
        profiles[meter.serial] = profile_by_meter[meter.pk]
    unserved = (
        Meter.objects.filter(kind=Meter.Kind.AMI, installations__removed_at__isnull=True)
        .exclude(
            installations__service_point__service_agreements__status__in=[
                "active",
                "pending_start",
                "pending_stop",
            ]
        )
        .order_by("serial")
        .first()
    )
    if unserved is not None and count > 0:
        meters.append(unserved)
        profiles[unserved.serial] = "vacant_with_use"
    return meters, profiles


def build_demo_meter_data(*, count: int, seed: int, as_of: date, days: int = 395) -> dict:
    from ohm.batch.demo_reads import build_demo_interval_data

    meters, profiles = pick_interval_meters(count=count, seed=seed)
    if not meters:
        return {"meters": 0}
    return build_demo_interval_data(
        meters=meters, as_of=as_of, days=days, seed=seed, profiles=profiles
    )
