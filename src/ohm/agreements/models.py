"""Service agreements: account × service point × rate, for ``[start_date, end_date)``."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class ServiceAgreement(models.Model):
    class Status(models.TextChoices):
        PENDING_START = "pending_start", "Pending start"
        ACTIVE = "active", "Active"
        PENDING_STOP = "pending_stop", "Pending stop"
        STOPPED = "stopped", "Stopped"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=12, unique=True)
    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, related_name="service_agreements"
    )
    service_point = models.ForeignKey(
        "premises.ServicePoint", on_delete=models.PROTECT, related_name="service_agreements"
    )
    rate_schedule = models.ForeignKey(
        "rates.RateSchedule", on_delete=models.PROTECT, related_name="service_agreements"
    )
    start_date = models.DateField()
    end_date = models.DateField(
        null=True, blank=True, help_text="Exclusive: the first day not served"
    )
    status = models.CharField(
        max_length=15, choices=Status.choices, default=Status.PENDING_START, db_index=True
    )

    class Meta:
        constraints = [
            # One open agreement per service point at a time: a new customer's start
            # waits for the old customer's stop (or a transfer stops it).
            models.UniqueConstraint(
                fields=["service_point"],
                condition=Q(status__in=["pending_start", "active", "pending_stop"]),
                name="one_open_agreement_per_service_point",
            ),
        ]
        ordering = ["-start_date"]

    def __str__(self) -> str:
        return f"SA {self.number}"

    def clean(self) -> None:
        if self.end_date and self.end_date <= self.start_date:
            raise ValidationError({"end_date": "Service must stop after it starts."})
