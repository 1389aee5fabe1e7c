"""Premises: the service address, its service points and the meters installed there now."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest
from ninja import Router

from ohm.api.auth import require_perm
from ohm.api.errors import NotFound
from ohm.api.schemas import ERRORS, PremiseOut
from ohm.core import clock
from ohm.metering.models import MeterInstallation
from ohm.premises.models import Premise, ServicePoint

router = Router(tags=["premises"])

VIEW_PREMISE = "premises.view_premise"


@router.get("/premises/{number}", response={200: PremiseOut, **ERRORS}, summary="Get a premise")
def get_premise(request: HttpRequest, number: str):
    """A premise (e.g. ``P00000012``) with its service points and each one's installed meter."""
    require_perm(request, VIEW_PREMISE, "view premises")
    now = clock.now()
    installed = MeterInstallation.objects.filter(
        removed_at__isnull=True, installed_at__lte=now
    ).select_related("meter")
    points = ServicePoint.objects.order_by("number").prefetch_related(
        Prefetch("meter_installations", queryset=installed, to_attr="current_installations")
    )
    premise = (
        Premise.objects.prefetch_related(Prefetch("service_points", queryset=points))
        .filter(number=number.strip().upper())
        .first()
    )
    if premise is None:
        raise NotFound(f"No premise {number}.")
    return {
        "number": premise.number,
        "address_line1": premise.address_line1,
        "unit": premise.unit,
        "city": premise.city,
        "state": premise.state,
        "postal_code": premise.postal_code,
        "one_line": premise.one_line,
        "premise_type": premise.premise_type,
        "baseline_territory": premise.baseline_territory,
        "heat_source": premise.heat_source,
        "latitude": None if premise.latitude is None else str(premise.latitude),
        "longitude": None if premise.longitude is None else str(premise.longitude),
        "service_points": [_service_point(point) for point in premise.service_points.all()],
    }


def _service_point(point: ServicePoint) -> dict:
    current = point.current_installations  # type: ignore[attr-defined]  # Prefetch to_attr
    installation = current[0] if current else None
    return {
        "number": point.number,
        "meter_location": point.meter_location,
        "route": point.route,
        "read_sequence": point.read_sequence,
        "energized": point.energized,
        "status": point.status,
        "access_notes": point.access_notes,
        "meter": None
        if installation is None
        else {
            "serial": installation.meter.serial,
            "make": installation.meter.make,
            "model": installation.meter.model,
            "kind": installation.meter.kind,
            "installed_at": installation.installed_at,
        },
    }
