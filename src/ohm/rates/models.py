"""Rate schedules and their effective-dated versions: tariffs as data.

A ``RateSchedule`` is what a service agreement is on ("E-1 Residential"); its prices live in
``RateVersion`` rows, each a URDB-shaped tariff document (``ohm.rates.tariff``) in force from
its ``effective_date`` until the next approved version's. A draft may be edited; an approved
version never is: a rate change is a new version, and a correction before it takes effect is
a withdrawal plus a new version.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class RateSchedule(models.Model):
    class CustomerClass(models.TextChoices):
        RESIDENTIAL = "residential", "Residential"
        SMALL_COMMERCIAL = "small_commercial", "Small commercial"
        LARGE_COMMERCIAL = "large_commercial", "Large commercial"
        MUNICIPAL = "municipal", "Municipal"
        LIGHTING = "lighting", "Street lighting"

    class Program(models.TextChoices):
        NONE = "", "None"
        EV = "ev", "Electric vehicle at the premise"
        NET_METERING = "net_metering", "Customer generation (net metering)"

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=120)
    customer_class = models.CharField(max_length=20, choices=CustomerClass.choices)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True, help_text="Open to new service agreements")
    # Eligibility beyond the customer class: what the service must have to be on this rate.
    requires_interval_meter = models.BooleanField(
        default=False,
        help_text="Time-of-use and demand rates price intervals: an interval (AMI) meter is needed",
    )
    required_program = models.CharField(
        max_length=20,
        choices=Program.choices,
        blank=True,
        default="",
        help_text="Open only to customers with this (e.g. an EV, or generation on site)",
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class RateVersion(models.Model):
    """One version of a schedule's prices, in force from ``effective_date`` (local date)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        APPROVED = "approved", "Approved"
        WITHDRAWN = "withdrawn", "Withdrawn"
        DISCARDED = "discarded", "Discarded"

    class Source(models.TextChoices):
        CONSOLE = "console", "Entered in the console"
        URDB = "urdb", "Imported from a URDB record"
        COPY = "copy", "Copied from an earlier version"
        DEMO = "demo", "Demo utility"

    schedule = models.ForeignKey(RateSchedule, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(help_text="1, 2, … within the schedule")
    effective_date = models.DateField(help_text="First local day these prices apply")
    #: The tariff document: URDB key names plus an optional "ohm" object (docs/rates.md).
    document = models.JSONField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    notes = models.TextField(blank=True, help_text="Why: resolution, rate case, what changed")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CONSOLE)
    source_label = models.CharField(
        max_length=300, blank=True, help_text="Where it came from, e.g. the URDB record's URI"
    )
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_by_label = models.CharField(max_length=150)
    updated_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    approved_by_label = models.CharField(max_length=150, blank=True)
    withdrawn_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["schedule", "-effective_date", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "number"], name="one_rate_version_number_per_schedule"
            ),
            models.UniqueConstraint(
                fields=["schedule", "effective_date"],
                condition=Q(status="approved"),
                name="one_approved_rate_version_per_schedule_and_date",
            ),
        ]
        permissions = [
            ("approve_rateversion", "Approve (publish) or withdraw a rate version"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule.code} v{self.number} from {self.effective_date.isoformat()}"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT
