"""Work items and their notes. Later issues raise exceptions and approvals here."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class WorkCategory(models.Model):
    """Kinds of work with the team that owns them and how soon they are due."""

    code = models.CharField(max_length=40, unique=True)
    label = models.CharField(max_length=100)
    team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="work_categories")
    default_priority = models.PositiveSmallIntegerField(default=3)
    due_days = models.PositiveSmallIntegerField(default=3, help_text="Business days to resolve")

    class Meta:
        ordering = ["label"]
        verbose_name_plural = "work categories"

    def __str__(self) -> str:
        return self.label


class WorkItem(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        WAITING = "waiting", "Waiting on customer"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    class Priority(models.IntegerChoices):
        URGENT = 1, "1 — urgent"
        HIGH = 2, "2 — high"
        NORMAL = 3, "3 — normal"
        LOW = 4, "4 — low"

    category = models.ForeignKey(WorkCategory, on_delete=models.PROTECT, related_name="items")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="work_items")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="work_items",
    )
    # What the work is about: any record, and the customer account when there is one.
    subject_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subject_id = models.CharField(max_length=64, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    account_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    account_number = models.CharField(max_length=10, blank=True)
    due_date = models.DateField()
    created_at = models.DateTimeField()
    created_by_label = models.CharField(max_length=150)
    closed_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["team", "status", "priority", "due_date"])]
        ordering = ["priority", "due_date", "id"]
        permissions = [("assign_workitem", "Assign work items to others")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_closed(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.CANCELLED)


class WorkItemNote(models.Model):
    item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    author_label = models.CharField(max_length=150)
    text = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note on #{self.item_id}"
