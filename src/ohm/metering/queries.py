"""Reads of meters and installations."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from ohm.metering.models import Meter, MeterInstallation


def get_installed_meter(*, service_point_id: int, at: datetime) -> Meter | None:
    installation = (
        MeterInstallation.objects.filter(service_point_id=service_point_id, installed_at__lte=at)
        .filter(Q(removed_at__isnull=True) | Q(removed_at__gt=at))
        .select_related("meter")
        .first()
    )
    return installation.meter if installation else None


def list_installations(*, service_point_ids: list[int]):
    return (
        MeterInstallation.objects.filter(service_point_id__in=service_point_ids)
        .select_related("meter")
        .prefetch_related("meter__channels")
    )
