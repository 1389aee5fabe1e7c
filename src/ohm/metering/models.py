"""Meters and where they have been installed."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class Meter(models.Model):
    class Kind(models.TextChoices):
        AMI = "ami", "AMI (smart, two-way)"
        MANUAL = "manual", "Manual read"

    class Status(models.TextChoices):
        INVENTORY = "inventory", "In inventory"
        INSTALLED = "installed", "Installed"
        REMOVED = "removed", "Removed (awaiting test)"
        RETIRED = "retired", "Retired"

    serial = models.CharField(max_length=30, unique=True)
    make = models.CharField(max_length=40)
    model = models.CharField(max_length=40)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    form = models.CharField(max_length=6, blank=True, help_text="ANSI meter form, e.g. 2S, 12S, 16S")
    multiplier = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal(1), validators=[MinValueValidator(Decimal("0.0001"))], help_text="Register and interval values times this are the true energy (CT/PT ratio)")
    dials = models.PositiveSmallIntegerField(default=5, help_text="Register digits, for rollover")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.INVENTORY, db_index=True)
    purchased_date = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Meter {self.serial}"


class MeterChannel(models.Model):
    """One measured quantity of a meter: what it measures and how often."""

    class Measure(models.TextChoices):
        KWH_DELIVERED = "kwh_delivered", "kWh delivered"
        KWH_RECEIVED = "kwh_received", "kWh received (export)"
        KW_DEMAND = "kw_demand", "kW demand"

    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="channels")
    number = models.PositiveSmallIntegerField()
    measure = models.CharField(max_length=15, choices=Measure.choices)
    interval_minutes = models.PositiveSmallIntegerField(null=True, blank=True, help_text="15 or 60 for interval channels; empty for register only")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meter", "number"], name="unique_channel_number_per_meter"),
            models.CheckConstraint(condition=Q(interval_minutes__isnull=True) | Q(interval_minutes__in=[5, 15, 30, 60]), name="channel_interval_5_15_30_60"),
        ]
        ordering = ["meter", "number"]

    def __str__(self) -> str:
        every = f", {self.interval_minutes}-min" if self.interval_minutes else ""
        return f"ch {self.number}: {self.get_measure_display()}{every}"


class MeterInstallation(models.Model):
    """A meter at a service point for ``[installed_at, removed_at)``."""

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="installations")
    service_point = models.ForeignKey("premises.ServicePoint", on_delete=models.PROTECT, related_name="meter_installations")
    installed_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    install_reading = models.BigIntegerField(null=True, blank=True, help_text="Register dial reading at install")
    removal_reading = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meter"], condition=Q(removed_at__isnull=True), name="meter_installed_in_one_place"),
            models.UniqueConstraint(fields=["service_point"], condition=Q(removed_at__isnull=True), name="one_meter_per_service_point"),
        ]
        ordering = ["-installed_at"]

    def __str__(self) -> str:
        return f"{self.meter} at {self.service_point}"

    def clean(self) -> None:
        if self.removed_at and self.removed_at <= self.installed_at:
            raise ValidationError({"removed_at": "A meter must be removed after it was installed."})
