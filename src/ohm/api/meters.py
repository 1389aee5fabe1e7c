"""Meters: nameplate, channels and where the meter is installed now."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from ohm.api.auth import require_perm
from ohm.api.errors import NotFound
from ohm.api.schemas import ERRORS, MeterOut
from ohm.metering.models import Meter, MeterInstallation

router = Router(tags=["meters"])

VIEW_METER = "metering.view_meter"


@router.get("/meters/{serial}", response={200: MeterOut, **ERRORS}, summary="Get a meter")
def get_meter(request: HttpRequest, serial: str):
    """A meter by serial number (exact), with its channels and current installation."""
    require_perm(request, VIEW_METER, "view meters")
    meter = Meter.objects.prefetch_related("channels").filter(serial=serial.strip()).first()
    if meter is None:
        raise NotFound(f"No meter {serial}.")
    installation = (
        MeterInstallation.objects.filter(meter=meter, removed_at__isnull=True)
        .select_related("service_point__premise")
        .first()
    )
    return {
        "serial": meter.serial,
        "make": meter.make,
        "model": meter.model,
        "kind": meter.kind,
        "form": meter.form,
        "multiplier": str(meter.multiplier),
        "dials": meter.dials,
        "status": meter.status,
        "purchased_date": meter.purchased_date,
        "channels": [
            {
                "number": channel.number,
                "measure": channel.measure,
                "interval_minutes": channel.interval_minutes,
            }
            for channel in meter.channels.all()
        ],
        "installation": None
        if installation is None
        else {
            "service_point": installation.service_point.number,
            "premise_number": installation.service_point.premise.number,
            "premise_address": installation.service_point.premise.one_line,
            "installed_at": installation.installed_at,
            "install_reading": installation.install_reading,
        },
    }
