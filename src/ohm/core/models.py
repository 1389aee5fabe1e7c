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
