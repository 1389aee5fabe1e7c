"""Reads of the work queues."""

from __future__ import annotations

from datetime import date

from django.db.models import Count, Q, QuerySet

from ohm.workqueue.models import WorkItem

OPEN = [WorkItem.Status.OPEN, WorkItem.Status.IN_PROGRESS, WorkItem.Status.WAITING]


def list_my_work(*, user) -> QuerySet[WorkItem]:
    return WorkItem.objects.filter(assignee=user, status__in=OPEN).select_related(
        "category", "team"
    )


def list_team_queue(*, team_ids: list[int], unassigned_only: bool = False) -> QuerySet[WorkItem]:
    rows = WorkItem.objects.filter(team_id__in=team_ids, status__in=OPEN).select_related(
        "category", "team", "assignee"
    )
    return rows.filter(assignee__isnull=True) if unassigned_only else rows


def list_account_work(*, account_id: int) -> QuerySet[WorkItem]:
    return (
        WorkItem.objects.filter(account_id=account_id)
        .select_related("category", "assignee")
        .order_by("-created_at")
    )


def summarize_queue(*, team_ids: list[int], as_of: date) -> dict[str, int]:
    return WorkItem.objects.filter(team_id__in=team_ids, status__in=OPEN).aggregate(
        open=Count("id"),
        unassigned=Count("id", filter=Q(assignee__isnull=True)),
        overdue=Count("id", filter=Q(due_date__lt=as_of)),
    )
