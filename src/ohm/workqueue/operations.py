"""Raising, assigning, working and closing work items."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models, transaction

from ohm.core import audit
from ohm.core.localtime import localdate
from ohm.workqueue.models import WorkCategory, WorkItem, WorkItemNote


class NothingToAssign(LookupError):
    """No open, unassigned item in the person's teams."""


def add_business_days(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def _label(actor) -> str:
    return getattr(actor, "username", "") or str(actor)


@transaction.atomic
def raise_work_item(
    *,
    category_code: str,
    title: str,
    actor,
    at: datetime,
    description: str = "",
    subject: models.Model | None = None,
    account_id: int | None = None,
    account_number: str = "",
    priority: int | None = None,
    due_date: date | None = None,
) -> WorkItem:
    """Put a piece of work in the owning team's queue."""
    category = WorkCategory.objects.filter(code=category_code).select_related("team").first()
    if category is None:
        raise ValidationError({"category": f"“{category_code}” is not a work category."})
    if not title.strip():
        raise ValidationError({"title": "Say what needs doing."})
    item = WorkItem(
        category=category,
        title=title.strip(),
        description=description,
        priority=priority or category.default_priority,
        team=category.team,
        account_id=account_id,
        account_number=account_number,
        due_date=due_date or add_business_days(localdate(at), category.due_days),
        created_at=at,
        created_by_label=_label(actor),
    )
    if subject is not None:
        item.subject = subject
    item.full_clean()
    item.save()
    audit.record(
        "workqueue.item.raised",
        subject=item,
        actor=actor,
        at=at,
        account_id=account_id,
        after={"category": category_code, "title": title},
    )
    return item


@transaction.atomic
def assign_work_item(*, item: WorkItem, assignee, actor, at: datetime) -> WorkItem:
    item = WorkItem.objects.select_for_update().get(pk=item.pk)
    if item.is_closed:
        raise ValidationError(
            {"status": f"Item #{item.pk} is {item.status}; it cannot be assigned."}
        )
    if assignee is not None and not assignee.groups.filter(pk=item.team_id).exists():
        raise ValidationError(
            {"assignee": f"{assignee.username} is not on the {item.team.name} team."}
        )
    before = item.assignee.username if item.assignee else None
    item.assignee = assignee
    if assignee is not None and item.status == WorkItem.Status.OPEN:
        item.status = WorkItem.Status.IN_PROGRESS
    item.save(update_fields=["assignee", "status"])
    audit.record(
        "workqueue.item.assigned",
        subject=item,
        actor=actor,
        at=at,
        account_id=item.account_id,
        before={"assignee": before},
        after={"assignee": assignee.username if assignee else None},
    )
    return item


@transaction.atomic
def assign_next_work_item(*, user, at: datetime, team: Group | None = None) -> WorkItem:
    """Give ``user`` the most urgent unassigned open item of their teams (or of ``team``).

    Two people pressing "assign next" at once never get the same item: the row is locked
    (``SKIP LOCKED`` on PostgreSQL; SQLite serializes writers).
    """
    teams = [team] if team is not None else list(user.groups.all())
    candidates = (
        WorkItem.objects.select_for_update(skip_locked=True)
        .filter(team__in=teams, status=WorkItem.Status.OPEN, assignee__isnull=True)
        .order_by("priority", "due_date", "id")
    )
    item = candidates.first()
    if item is None:
        raise NothingToAssign()
    item.assignee = user
    item.status = WorkItem.Status.IN_PROGRESS
    item.save(update_fields=["assignee", "status"])
    audit.record(
        "workqueue.item.assigned",
        subject=item,
        actor=user,
        at=at,
        account_id=item.account_id,
        after={"assignee": user.username, "how": "assign next"},
    )
    return item


@transaction.atomic
def add_work_note(*, item: WorkItem, text: str, actor, at: datetime) -> WorkItemNote:
    if not text.strip():
        raise ValidationError({"text": "A note cannot be empty."})
    note = WorkItemNote.objects.create(
        item=item,
        text=text.strip(),
        author=actor if getattr(actor, "pk", None) else None,
        author_label=_label(actor),
        created_at=at,
    )
    audit.record(
        "workqueue.item.noted", subject=item, actor=actor, at=at, account_id=item.account_id
    )
    return note


@transaction.atomic
def set_work_status(
    *, item: WorkItem, status: str, actor, at: datetime, resolution: str = ""
) -> WorkItem:
    """Move an item between open, in progress and waiting, or close it (done/cancelled) with a resolution."""
    item = WorkItem.objects.select_for_update().get(pk=item.pk)
    if status not in WorkItem.Status.values:
        raise ValidationError({"status": f"“{status}” is not a work item status."})
    if item.is_closed:
        raise ValidationError({"status": f"Item #{item.pk} is already {item.status}."})
    closing = status in (WorkItem.Status.DONE, WorkItem.Status.CANCELLED)
    if closing and not resolution.strip():
        raise ValidationError({"resolution": "Say how the item was resolved."})
    before = item.status
    item.status = status
    if closing:
        item.closed_at, item.resolution = at, resolution.strip()
    item.save(update_fields=["status", "closed_at", "resolution"])
    audit.record(
        "workqueue.item.status_changed",
        subject=item,
        actor=actor,
        at=at,
        account_id=item.account_id,
        before={"status": before},
        after={"status": status},
        reason=resolution,
    )
    return item
