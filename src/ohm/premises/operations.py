"""Writes to premises and service points."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ohm.core import audit, identifiers
from ohm.premises.addresses import address_key
from ohm.premises.models import Premise, ServicePoint

PREMISE_FIELDS = [
    "address_line1",
    "unit",
    "city",
    "state",
    "postal_code",
    "premise_type",
    "baseline_territory",
    "heat_source",
]


class DuplicatePremise(ValidationError):
    def __init__(self, existing: Premise):
        super().__init__(
            {
                "address_line1": f"This address is already premise {existing.number} ({existing.one_line})."
            }
        )
        self.existing = existing


@transaction.atomic
def create_premise(*, actor, at: datetime, **fields: Any) -> Premise:
    """:raises DuplicatePremise: when the normalized address and unit already exist."""
    key = address_key(fields.get("address_line1", ""), fields.get("city", ""))
    unit = (fields.get("unit") or "").strip().upper()
    existing = Premise.objects.filter(address_key=key, unit=unit).first()
    if existing:
        raise DuplicatePremise(existing)
    premise = Premise(
        number=identifiers.next_numbers("premise", prefix="P", width=8)[0],
        created_at=at,
        address_key=key,
        **{**fields, "unit": unit},
    )
    premise.full_clean()
    premise.save()
    audit.record(
        "premises.premise.created",
        subject=premise,
        actor=actor,
        at=at,
        after=audit.snapshot(premise, PREMISE_FIELDS),
    )
    return premise


@transaction.atomic
def update_premise(
    *, premise: Premise, changes: dict[str, Any], actor, at: datetime, reason: str = ""
) -> Premise:
    premise = Premise.objects.select_for_update().get(pk=premise.pk)
    before = audit.snapshot(premise, PREMISE_FIELDS)
    for name, value in changes.items():
        if name not in PREMISE_FIELDS:
            raise TypeError(f"update_premise cannot change {name}")
        setattr(premise, name, value)
    # Normalized as create_premise does, so an edit cannot slip past the duplicate check.
    premise.unit = (premise.unit or "").strip().upper()
    premise.address_key = address_key(premise.address_line1, premise.city)
    existing = (
        Premise.objects.filter(address_key=premise.address_key, unit=premise.unit)
        .exclude(pk=premise.pk)
        .first()
    )
    if existing:
        raise DuplicatePremise(existing)
    premise.full_clean()
    premise.save()
    old, new = audit.changed_fields(before, audit.snapshot(premise, PREMISE_FIELDS))
    if old or new:
        audit.record(
            "premises.premise.updated",
            subject=premise,
            actor=actor,
            at=at,
            before=old,
            after=new,
            reason=reason,
        )
    return premise


@transaction.atomic
def add_service_point(
    *,
    premise: Premise,
    route: str,
    read_sequence: int,
    meter_location: str = "",
    access_notes: str = "",
    actor,
    at: datetime,
) -> ServicePoint:
    if ServicePoint.objects.filter(
        route=route, read_sequence=read_sequence, status=ServicePoint.Status.ACTIVE
    ).exists():
        raise ValidationError(
            {
                "read_sequence": f"Route {route} already has a service point at sequence {read_sequence}."
            }
        )
    point = ServicePoint(
        premise=premise,
        number=identifiers.next_numbers("service_point", prefix="SP", width=8)[0],
        route=route,
        read_sequence=read_sequence,
        meter_location=meter_location,
        access_notes=access_notes,
    )
    point.full_clean()
    point.save()
    audit.record(
        "premises.service_point.added",
        subject=point,
        actor=actor,
        at=at,
        after={"premise": premise.number, "route": route, "read_sequence": read_sequence},
    )
    return point


@transaction.atomic
def set_energized(
    *, service_point: ServicePoint, energized: bool, actor, at: datetime, reason: str
) -> ServicePoint:
    """Record that the service point was energized or de-energized (field or remote switch)."""
    point = ServicePoint.objects.select_for_update().get(pk=service_point.pk)
    if point.energized == energized:
        return point
    point.energized = energized
    point.full_clean()
    point.save(update_fields=["energized"])
    audit.record(
        "premises.service_point.energized" if energized else "premises.service_point.deenergized",
        subject=point,
        actor=actor,
        at=at,
        before={"energized": not energized},
        after={"energized": energized},
        reason=reason,
    )
    return point
