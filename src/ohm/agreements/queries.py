"""Reads of service agreements and what an account is served at."""

from __future__ import annotations

from django.db.models import QuerySet

from ohm.agreements.models import ServiceAgreement


def list_agreements(*, account_id: int) -> QuerySet[ServiceAgreement]:
    return (
        ServiceAgreement.objects.filter(account_id=account_id)
        .select_related("service_point__premise", "rate_schedule")
        .order_by("status", "-start_date")
    )


def list_agreements_at_premise(*, premise_id: int) -> QuerySet[ServiceAgreement]:
    return (
        ServiceAgreement.objects.filter(service_point__premise_id=premise_id)
        .select_related("account", "rate_schedule", "service_point")
        .order_by("-start_date")
    )


def account_for_service_point(service_point_id: int, start_at, end_at) -> int | None:
    """The account served at a service point during ``[start_at, end_at)`` (the latest agreement
    overlapping it), or None when nobody was served — VEE's ``account_lookup``."""
    from ohm.core.localtime import localdate

    start_date, end_date = localdate(start_at), localdate(end_at)
    agreement = (
        ServiceAgreement.objects.filter(service_point_id=service_point_id, start_date__lt=end_date)
        .exclude(status__in=[ServiceAgreement.Status.CANCELLED])
        .exclude(end_date__isnull=False, end_date__lte=start_date)
        .order_by("-start_date")
        .first()
    )
    return agreement.account_id if agreement else None
