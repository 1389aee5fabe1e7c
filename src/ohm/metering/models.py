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
    form = models.CharField(
        max_length=6, blank=True, help_text="ANSI meter form, e.g. 2S, 12S, 16S"
    )
    multiplier = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal("0.0001"))],
        help_text="Register and interval values times this are the true energy (CT/PT ratio)",
    )
    dials = models.PositiveSmallIntegerField(default=5, help_text="Register digits, for rollover")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.INVENTORY, db_index=True
    )
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
    interval_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="15 or 60 for interval channels; empty for register only"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["meter", "number"], name="unique_channel_number_per_meter"
            ),
            models.CheckConstraint(
                condition=Q(interval_minutes__isnull=True)
                | Q(interval_minutes__in=[5, 15, 30, 60]),
                name="channel_interval_5_15_30_60",
            ),
        ]
        ordering = ["meter", "number"]

    def __str__(self) -> str:
        every = f", {self.interval_minutes}-min" if self.interval_minutes else ""
        return f"ch {self.number}: {self.get_measure_display()}{every}"


class MeterInstallation(models.Model):
    """A meter at a service point for ``[installed_at, removed_at)``."""

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="installations")
    service_point = models.ForeignKey(
        "premises.ServicePoint", on_delete=models.PROTECT, related_name="meter_installations"
    )
    installed_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    install_reading = models.BigIntegerField(
        null=True, blank=True, help_text="Register dial reading at install"
    )
    removal_reading = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["meter"],
                condition=Q(removed_at__isnull=True),
                name="meter_installed_in_one_place",
            ),
            models.UniqueConstraint(
                fields=["service_point"],
                condition=Q(removed_at__isnull=True),
                name="one_meter_per_service_point",
            ),
        ]
        ordering = ["-installed_at"]

    def __str__(self) -> str:
        return f"{self.meter} at {self.service_point}"

    def clean(self) -> None:
        if self.removed_at and self.removed_at <= self.installed_at:
            raise ValidationError({"removed_at": "A meter must be removed after it was installed."})


class Quality:
    """Per-interval quality flags stored in ``IntervalDay.flags`` (one uint8 each)."""

    MISSING = 0
    ACTUAL = 1
    ESTIMATED = 2
    EDITED = 3
    LABELS = {MISSING: "missing", ACTUAL: "actual", ESTIMATED: "estimated", EDITED: "edited"}


class IntervalDay(models.Model):
    """One channel's interval values for one UTC day: the interval store.

    ``values`` is little-endian float32, ``1440 / interval_minutes`` of them (24 hourly, 96
    quarter-hourly), interval *i* covering ``[day 00:00Z + i·interval, + interval)``; each is
    the channel's quantity in that interval with the meter multiplier already applied (kWh
    for energy channels, kW average for demand channels). ``flags`` is one uint8 per
    interval (``Quality``). A missing interval has value 0 and flag MISSING.

    Versions: an edit, an estimate or a late read writes a new row with ``version + 1`` and
    marks the old one not current; the old row is kept with who/why of the new one.
    """

    # No index of its own: the unique (channel, day, version) index serves every lookup by
    # channel, and each index costs time on every row an import writes.
    channel = models.ForeignKey(
        MeterChannel, on_delete=models.PROTECT, related_name="interval_days", db_index=False
    )
    day = models.DateField(help_text="The UTC date the intervals fall in")
    interval_minutes = models.PositiveSmallIntegerField()
    values = models.BinaryField()
    flags = models.BinaryField()
    version = models.PositiveIntegerField(default=1)
    is_current = models.BooleanField(default=True)
    recorded_at = models.DateTimeField()
    source = models.CharField(max_length=60, help_text="import:<id>, vee, edit, headend, demo")
    actor_label = models.CharField(max_length=150, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    # What import-time VEE carries from one day to the next, so a day is judged against the
    # channel's history without reading that history back (see ``ohm.metering.ingest.checks``).
    vee_level = models.FloatField(
        null=True,
        blank=True,
        help_text="The channel's usual high interval value as of this day's end (spike yardstick)",
    )
    vee_zero_run = models.PositiveIntegerField(
        null=True, blank=True, help_text="Actual zero intervals in a row at this day's end"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "day"],
                condition=Q(is_current=True),
                name="one_current_interval_day",
            ),
            models.UniqueConstraint(
                fields=["channel", "day", "version"], name="unique_interval_day_version"
            ),
        ]
        # (channel, day, version) is unique, so its index already serves lookups by channel and
        # day. A day's current rows for many channels (an import, the day before it) come from
        # this one: a range of one day, not every stored day of each channel.
        indexes = [
            models.Index(
                fields=["day", "channel"],
                condition=Q(is_current=True),
                name="interval_day_current_by_day",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.day} v{self.version}"


class RegisterRead(models.Model):
    """A cumulative register reading as the dials show it (before the multiplier)."""

    class ReadType(models.TextChoices):
        AMI = "ami", "AMI"
        FIELD = "field", "Field read"
        CUSTOMER = "customer", "Customer read"
        ESTIMATED = "estimated", "Estimated"

    channel = models.ForeignKey(
        MeterChannel, on_delete=models.PROTECT, related_name="register_reads"
    )
    read_at = models.DateTimeField()
    reading = models.DecimalField(
        max_digits=14,
        decimal_places=3,
        help_text="Dial reading; the difference of two, times the multiplier, is the energy (mind rollover at 10^dials)",
    )
    read_type = models.CharField(max_length=10, choices=ReadType.choices)
    version = models.PositiveIntegerField(default=1)
    is_current = models.BooleanField(default=True)
    recorded_at = models.DateTimeField()
    source = models.CharField(max_length=60)
    actor_label = models.CharField(max_length=150, blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "read_at"],
                condition=Q(is_current=True),
                name="one_current_register_read",
            ),
        ]
        indexes = [models.Index(fields=["channel", "read_at"], name="register_read_channel_at")]
        ordering = ["channel", "read_at"]

    def __str__(self) -> str:
        return f"{self.channel} {self.read_at:%Y-%m-%d %H:%M} {self.reading}"


class MeterEvent(models.Model):
    class Kind(models.TextChoices):
        TAMPER = "tamper", "Tamper"
        POWER_OUTAGE = "power_outage", "Power outage"
        POWER_RESTORE = "power_restore", "Power restored"
        LAST_GASP = "last_gasp", "Last gasp"
        REVERSE_ENERGY = "reverse_energy", "Reverse energy flow"
        COMM_FAILURE = "comm_failure", "Communication failure"
        SWITCH_OPENED = "switch_opened", "Remote switch opened (disconnected)"
        SWITCH_CLOSED = "switch_closed", "Remote switch closed (connected)"

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=60)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["meter", "kind", "occurred_at"], name="unique_meter_event"
            )
        ]
        indexes = [models.Index(fields=["meter", "-occurred_at"], name="meter_event_latest")]
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.meter} {self.get_kind_display()} {self.occurred_at:%Y-%m-%d %H:%M}"


class ReadImport(models.Model):
    """One file of reads brought in by ``ohm reads import``; its SHA-256 makes a re-import a no-op."""

    class Format(models.TextChoices):
        CSV = "csv", "Ohm interval CSV"
        GREENBUTTON = "greenbutton", "Green Button (ESPI XML)"
        CMEP = "cmep", "CMEP MEPMD01"

    class Status(models.TextChoices):
        RUNNING = "running", "Running (or interrupted: run it again to resume)"
        LOADED = "loaded", "Loaded"
        REJECTED = "rejected", "Nothing could be loaded"

    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, unique=True)
    format = models.CharField(max_length=12, choices=Format.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    time_zone = models.CharField(
        max_length=60, blank=True, help_text="The zone local times in the file were read in (CMEP)"
    )
    meter_serial = models.CharField(
        max_length=30, blank=True, help_text="The meter a Green Button file was imported for"
    )
    records_read = models.PositiveIntegerField(default=0)
    intervals_loaded = models.PositiveIntegerField(default=0)
    days_inserted = models.PositiveIntegerField(default=0)
    days_versioned = models.PositiveIntegerField(default=0)
    days_unchanged = models.PositiveIntegerField(default=0)
    register_reads_loaded = models.PositiveIntegerField(default=0)
    exception_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Import #{self.pk} {self.file_name}"


class ReadException(models.Model):
    """A read from an import that did not load (or loaded with a note), with where and why."""

    read_import = models.ForeignKey(ReadImport, on_delete=models.CASCADE, related_name="exceptions")
    line = models.PositiveIntegerField(null=True, blank=True, help_text="1-based line in the file")
    meter_ref = models.CharField(
        max_length=60, blank=True, help_text="The meter as the file names it"
    )
    channel_ref = models.CharField(max_length=30, blank=True)
    code = models.CharField(
        max_length=30,
        db_index=True,
        help_text="Short reason, for counting: malformed, unknown_meter, conflict, ...",
    )
    reason = models.CharField(max_length=300)
    raw = models.TextField(blank=True)
    loaded = models.BooleanField(
        default=False,
        help_text="The read loaded; this is a note about it (e.g. an unknown quality code)",
    )
    resolved = models.BooleanField(default=False)

    class Meta:
        ordering = ["read_import", "line", "pk"]

    def __str__(self) -> str:
        return f"import #{self.read_import_id} line {self.line}: {self.reason}"
