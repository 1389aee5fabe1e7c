"""Premises and service points: where the utility delivers energy."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from ohm.core import validators


class Premise(models.Model):
    """A service address. ``address_key`` is the normalized address used to find duplicates."""

    class Type(models.TextChoices):
        SINGLE_FAMILY = "single_family", "Single-family home"
        MULTI_FAMILY = "multi_family", "Apartment / multi-family unit"
        MOBILE_HOME = "mobile_home", "Mobile home"
        COMMERCIAL = "commercial", "Commercial"
        INDUSTRIAL = "industrial", "Industrial"
        MUNICIPAL = "municipal", "Municipal / public"
        AGRICULTURAL = "agricultural", "Agricultural"

    class HeatSource(models.TextChoices):
        GAS = "gas", "Gas or other (basic)"
        ELECTRIC = "electric", "All-electric"

    #: Baseline territories as California utilities letter them; each has its own allowance.
    TERRITORIES = [(c, f"Territory {c}") for c in "PQRSTVWXYZ"]

    number = models.CharField(max_length=12, unique=True)
    address_line1 = models.CharField("street address", max_length=120)
    unit = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=80)
    state = models.CharField(max_length=2, default="CA", validators=[validators.validate_state])
    postal_code = models.CharField(
        "ZIP code", max_length=10, validators=[validators.validate_postal_code]
    )
    address_key = models.CharField(max_length=200, db_index=True, editable=False)
    premise_type = models.CharField(max_length=15, choices=Type.choices)
    baseline_territory = models.CharField(max_length=1, choices=TERRITORIES)
    heat_source = models.CharField(
        max_length=10, choices=HeatSource.choices, default=HeatSource.GAS
    )
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["address_key", "unit"], name="one_premise_per_address_and_unit"
            )
        ]

    def __str__(self) -> str:
        return self.one_line

    @property
    def one_line(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.address_line1}{unit}, {self.city}"


class ServicePoint(models.Model):
    """Where a meter measures delivery at a premise; the route orders reading and field work."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        RETIRED = "retired", "Retired"

    premise = models.ForeignKey(Premise, on_delete=models.PROTECT, related_name="service_points")
    number = models.CharField(max_length=12, unique=True)
    meter_location = models.CharField(
        max_length=120, blank=True, help_text="e.g. left side of garage"
    )
    route = models.CharField(max_length=10, db_index=True)
    read_sequence = models.PositiveIntegerField()
    energized = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    access_notes = models.CharField(max_length=200, blank=True, help_text="Gate codes, dogs, keys")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["route", "read_sequence"],
                condition=Q(status="active"),
                name="unique_active_read_sequence_per_route",
            ),
        ]

    def __str__(self) -> str:
        return f"Service point {self.number}"

    def clean(self) -> None:
        if self.status == self.Status.RETIRED and self.energized:
            raise ValidationError({"energized": "A retired service point cannot be energized."})
