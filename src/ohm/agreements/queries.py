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
    return ServiceAgreement.objects.filter(service_point__premise_id=premise_id).select_related("account", "rate_schedule", "service_point").order_by("-start_date")
