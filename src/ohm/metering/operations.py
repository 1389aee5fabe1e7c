"""Writes to meters and their installations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from ohm.core import audit
from ohm.metering.models import Meter, MeterChannel, MeterInstallation
from ohm.premises.models import ServicePoint

#: What a new meter measures unless told otherwise, by kind.
DEFAULT_CHANNELS: dict[str, list[tuple[int, str, int | None]]] = {
    Meter.Kind.AMI: [
        (1, MeterChannel.Measure.KWH_DELIVERED, 60),
        (2, MeterChannel.Measure.KWH_RECEIVED, 60),
    ],
    Meter.Kind.MANUAL: [(1, MeterChannel.Measure.KWH_DELIVERED, None)],
}


@transaction.atomic
def register_meter(
    *,
    serial: str,
    make: str,
    model: str,
    kind: str,
    actor,
    at: datetime,
    multiplier: Decimal = Decimal(1),
    form: str = "2S",
    dials: int = 5,
    interval_minutes: int | None = None,
    channels: list[tuple[int, str, int | None]] | None = None,
) -> Meter:
    """Add a meter to inventory with its channels (AMI: delivered and received energy)."""
    serial = serial.strip().upper()
    if Meter.objects.filter(serial=serial).exists():
        raise ValidationError({"serial": f"Meter {serial} is already registered."})
    meter = Meter(
        serial=serial,
        make=make,
        model=model,
        kind=kind,
        form=form,
        multiplier=multiplier,
        dials=dials,
    )
    meter.full_clean()
    meter.save()
    specs = channels or [
        (n, m, (interval_minutes or every) if every else None)
        for n, m, every in DEFAULT_CHANNELS[kind]
    ]
    rows = [
        MeterChannel(meter=meter, number=n, measure=m, interval_minutes=every)
        for n, m, every in specs
    ]
    for row in rows:
        try:
            row.full_clean()
        except ValidationError as exc:
            raise ValidationError(
                {"channels": [f"Channel {row.number}: {message}" for message in exc.messages]}
            ) from exc
    if len({row.number for row in rows}) != len(rows):
        raise ValidationError({"channels": "Two channels have the same number."})
    MeterChannel.objects.bulk_create(rows)
    audit.record(
        "metering.meter.registered",
        subject=meter,
        actor=actor,
        at=at,
        after={"serial": serial, "kind": kind, "multiplier": multiplier},
    )
    return meter


@transaction.atomic
def install_meter(
    *,
    meter: Meter,
    service_point: ServicePoint,
    installed_at: datetime,
    install_reading: int | None = None,
    actor,
    at: datetime,
) -> MeterInstallation:
    meter = Meter.objects.select_for_update().get(pk=meter.pk)
    if meter.status not in (Meter.Status.INVENTORY, Meter.Status.REMOVED):
        raise ValidationError(
            {
                "meter": f"{meter} is {meter.get_status_display().lower()}; only a meter in inventory can be installed."
            }
        )
    current = (
        MeterInstallation.objects.filter(service_point=service_point, removed_at__isnull=True)
        .select_related("meter")
        .first()
    )
    if current:
        raise ValidationError(
            {
                "service_point": f"{service_point} already has {current.meter}; remove it first (or exchange)."
            }
        )
    # Installation history must not overlap: a meter goes in only after it (and the point's
    # previous meter) came out, or reads would be counted at two places or twice at one.
    overlapping = MeterInstallation.objects.filter(removed_at__gt=installed_at).filter(
        Q(meter=meter) | Q(service_point=service_point)
    )
    if overlapping.exists():
        latest = overlapping.order_by("-removed_at").first()
        assert latest is not None  # exists() just said there is one
        raise ValidationError(
            {
                "installed_at": f"{latest.meter} was at {latest.service_point} until {latest.removed_at:%Y-%m-%d %H:%M}; install after that."
            }
        )
    installation = MeterInstallation(
        meter=meter,
        service_point=service_point,
        installed_at=installed_at,
        install_reading=install_reading,
    )
    installation.full_clean()
    installation.save()
    meter.status = Meter.Status.INSTALLED
    meter.save(update_fields=["status"])
    audit.record(
        "metering.meter.installed",
        subject=meter,
        actor=actor,
        at=at,
        after={"service_point": service_point.number, "installed_at": installed_at},
    )
    return installation


@transaction.atomic
def remove_meter(
    *,
    installation: MeterInstallation,
    removed_at: datetime,
    removal_reading: int | None = None,
    actor,
    at: datetime,
    reason: str,
) -> MeterInstallation:
    installation = MeterInstallation.objects.select_for_update().get(pk=installation.pk)
    if installation.removed_at is not None:
        raise ValidationError(
            {
                "meter": f"{installation.meter} was already removed on {installation.removed_at:%Y-%m-%d}."
            }
        )
    installation.removed_at = removed_at
    installation.removal_reading = removal_reading
    installation.full_clean()
    installation.save(update_fields=["removed_at", "removal_reading"])
    Meter.objects.filter(pk=installation.meter_id).update(status=Meter.Status.REMOVED)
    audit.record(
        "metering.meter.removed",
        subject=installation.meter,
        actor=actor,
        at=at,
        before={"service_point": installation.service_point.number},
        reason=reason,
    )
    return installation
