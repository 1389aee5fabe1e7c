"""Foundation records: the audit trail and the per-role money limits."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import models


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditEventIsAppendOnly("audit events are never updated")

    def delete(self):
        raise AuditEventIsAppendOnly("audit events are never deleted")


class AuditEventIsAppendOnly(Exception):
    """Someone tried to change or remove an audit event."""


class AuditEvent(models.Model):
    """One write a person (or a named job) caused: who, when, what, before/after, why.

    Append-only: ``save`` of an existing row and ``delete`` raise.
    """

    event = models.CharField(
        max_length=100, db_index=True, help_text="Dotted name, e.g. customers.account.opened"
    )
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(
        max_length=150, help_text="Username, or the job's name for system writes"
    )
    subject_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subject_id = models.CharField(max_length=64, blank=True)
    subject_label = models.CharField(max_length=200, blank=True)
    account_id = models.BigIntegerField(
        null=True,
        blank=True,
        db_index=True,
        help_text="Customer account the write concerns, for the account history",
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["subject_type", "subject_id"])]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_label} {self.event} {self.subject_label}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AuditEventIsAppendOnly("audit events are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditEventIsAppendOnly("audit events are never deleted")


class RoleLimit(models.Model):
    """What a role may do on its own, in cents; above it a different person must approve."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="limits")
    adjust_limit_cents = models.BigIntegerField(default=0)
    refund_limit_cents = models.BigIntegerField(default=0)
    write_off_limit_cents = models.BigIntegerField(default=0)

    class Meta:
        permissions = [
            ("view_sensitive", "See unmasked dates of birth, SSN and tax ids"),
            ("use_api", "Call the REST API with a token"),
            ("view_audit", "See the audit trail"),
        ]

    def __str__(self) -> str:
        return f"limits for {self.group.name}"


class ApiToken(models.Model):
    """A bearer token for an integration. Only the SHA-256 of the token is stored."""

    name = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    prefix = models.CharField(max_length=8, help_text="First characters, to tell tokens apart")
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Sequence(models.Model):
    """A named counter for identifiers people read (account and premise numbers)."""

    name = models.CharField(max_length=40, primary_key=True)
    next_value = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.name} → {self.next_value}"


class ScheduledJob(models.Model):
    """When a recurring job last ran, so ``ohm schedule`` runs each one when it is due."""

    name = models.CharField(max_length=60, primary_key=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=10, blank=True)
    last_message = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.last_status or 'never run'})"


class BatchRun(models.Model):
    """One run of a batch job (bill run, read import, payment file, collection run) as chunks.

    Planning writes the run and every chunk in one transaction; each chunk then commits its
    work together with its own "done" mark (``ohm.core.batchrun``), so a run stopped at any
    point — even ``kill -9`` — and started again processes every item exactly once.
    """

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (resumable)"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(
        max_length=60, db_index=True, help_text="Dotted name, e.g. billing.bill_run"
    )
    key = models.CharField(
        max_length=200,
        blank=True,
        help_text="What the run is for, e.g. billing.bill_run:cycle=3:2026-05-04; one run per key",
    )
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PLANNED, db_index=True
    )
    total_items = models.PositiveIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    message = models.TextField(blank=True, help_text="The outcome, or the error that stopped it")
    result = models.JSONField(default=dict, blank=True, help_text="Counts summed over chunks")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=~models.Q(key=""), name="batch_run_one_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"run {self.pk} {self.kind} ({self.status})"


class BatchChunk(models.Model):
    """A slice of a run's items. ``status`` becomes done in the same transaction as the work."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(BatchRun, on_delete=models.CASCADE, related_name="chunks")
    sequence = models.PositiveIntegerField()
    items = models.JSONField(help_text="The item keys (ids or names) this chunk processes")
    item_count = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["run", "sequence"], name="batch_chunk_sequence")
        ]
        indexes = [models.Index(fields=["run", "status"], name="batch_chunk_run_status")]

    def __str__(self) -> str:
        return f"run {self.run_id} chunk {self.sequence} ({self.status})"
