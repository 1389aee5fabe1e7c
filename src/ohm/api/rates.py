"""Rates (read-only): schedules, their effective-dated versions (as stored and as URDB
records), and an account's rate comparison over its last 12 months."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from ninja import Router, Schema

from ohm.agreements import queries as agreement_queries
from ohm.agreements import rate_comparison
from ohm.api.auth import require_perm
from ohm.api.errors import NotFound, invalid_from_django
from ohm.api.schemas import ERRORS
from ohm.core import clock, validators
from ohm.core.localtime import localdate
from ohm.core.money import to_dollars
from ohm.customers import queries as customer_queries
from ohm.rates import queries
from ohm.rates.models import RateSchedule, RateVersion

router = Router(tags=["rates"])

VIEW_RATES = "rates.view_rateschedule"
VIEW_VERSIONS = "rates.view_rateversion"
VIEW_ACCOUNT = "customers.view_account"


class VersionSummaryOut(Schema):
    number: int
    effective_date: date
    status: str
    source: str
    source_label: str
    notes: str
    approved_by: str
    in_effect: bool


class ScheduleOut(Schema):
    code: str
    name: str
    customer_class: str
    description: str
    is_active: bool
    requires_interval_meter: bool
    required_program: str
    version_in_effect: int | None
    versions: list[VersionSummaryOut]


class VersionOut(VersionSummaryOut):
    schedule: str
    document: dict[str, Any]
    urdb: dict[str, Any]


class ComparisonRateOut(Schema):
    code: str
    name: str
    current: bool
    problem: str
    month_dollars: list[str | None]
    difference_dollars: list[str | None]
    year_dollars: str
    year_difference_dollars: str | None


class ComparisonMonthOut(Schema):
    month: str
    delivered_kwh: float
    received_kwh: float
    estimated_share: float
    has_data: bool


class AgreementComparisonOut(Schema):
    agreement: str
    service_point: str
    current_rate: str
    interval_minutes: int | None
    note: str
    months: list[ComparisonMonthOut]
    rates: list[ComparisonRateOut]
    ineligible: dict[str, str]


class AccountComparisonOut(Schema):
    account: str
    as_of: date
    agreements: list[AgreementComparisonOut]


def _schedule(code: str) -> RateSchedule:
    try:
        return queries.get_schedule(code=code)
    except queries.ScheduleNotFound as exc:
        raise NotFound(str(exc)) from exc


def _summary(version: RateVersion, in_effect: RateVersion | None) -> dict:
    return {
        "number": version.number,
        "effective_date": version.effective_date,
        "status": version.status,
        "source": version.source,
        "source_label": version.source_label,
        "notes": version.notes,
        "approved_by": version.approved_by_label,
        "in_effect": in_effect is not None and in_effect.pk == version.pk,
    }


def _in_effect(schedule: RateSchedule, today: date) -> RateVersion | None:
    try:
        return queries.get_version_in_effect(schedule=schedule, on_date=today)
    except queries.NoVersionInEffect:
        return None


def _schedule_out(schedule: RateSchedule, today: date) -> dict:
    current = _in_effect(schedule, today)
    return {
        "code": schedule.code,
        "name": schedule.name,
        "customer_class": schedule.customer_class,
        "description": schedule.description,
        "is_active": schedule.is_active,
        "requires_interval_meter": schedule.requires_interval_meter,
        "required_program": schedule.required_program,
        "version_in_effect": current.number if current else None,
        "versions": [_summary(v, current) for v in queries.list_versions(schedule=schedule)],
    }


@router.get("/rates", response={200: list[ScheduleOut], **ERRORS}, summary="List rate schedules")
def list_rate_schedules(request: HttpRequest):
    """Every rate schedule with its eligibility and version history (latest first)."""
    require_perm(request, VIEW_RATES, "view rates")
    today = localdate(clock.now())
    return [_schedule_out(s, today) for s in queries.list_schedules()]


@router.get("/rates/{code}", response={200: ScheduleOut, **ERRORS}, summary="Get a rate schedule")
def get_rate_schedule(request: HttpRequest, code: str):
    require_perm(request, VIEW_RATES, "view rates")
    return _schedule_out(_schedule(code), localdate(clock.now()))


@router.get(
    "/rates/{code}/versions/{number}",
    response={200: VersionOut, **ERRORS},
    summary="Get a rate version",
)
def get_rate_version(request: HttpRequest, code: str, number: int):
    """One version: its stored tariff document (decimal strings, with the ``ohm``
    extensions, docs/rates.md) and the same tariff as a URDB record (JSON numbers)."""
    require_perm(request, VIEW_VERSIONS, "view rate versions")
    schedule = _schedule(code)
    try:
        version = queries.get_version(schedule=schedule, number=number)
    except RateVersion.DoesNotExist as exc:
        raise NotFound(f"{schedule.code} has no version {number}.") from exc
    current = _in_effect(schedule, localdate(clock.now()))
    return {
        **_summary(version, current),
        "schedule": schedule.code,
        "document": version.document,
        "urdb": queries.export_urdb(version),
    }


def _dollars(cents: int | None) -> str | None:
    return None if cents is None else str(to_dollars(cents))


def _comparison_out(comparison: rate_comparison.RateComparison) -> dict:
    agreement = comparison.agreement
    return {
        "agreement": agreement.number,
        "service_point": agreement.service_point.number,
        "current_rate": agreement.rate_schedule.code,
        "interval_minutes": comparison.interval_minutes,
        "note": comparison.note,
        "months": [
            {
                "month": m.start_date.strftime("%Y-%m"),
                "delivered_kwh": round(m.delivered_kwh, 3),
                "received_kwh": round(m.received_kwh, 3),
                "estimated_share": round(m.estimated_share, 4),
                "has_data": m.has_data,
            }
            for m in comparison.months
        ],
        "rates": [
            {
                "code": o.schedule.code,
                "name": o.schedule.name,
                "current": o.is_current,
                "problem": o.problem,
                "month_dollars": [_dollars(c) for c in o.month_cents],
                "difference_dollars": [_dollars(d) for d in comparison.difference_cents(o)],
                "year_dollars": str(to_dollars(o.total_cents)),
                "year_difference_dollars": None
                if o.is_current
                else _dollars(comparison.year_difference_cents(o)),
            }
            for o in comparison.options
        ],
        "ineligible": {e.schedule.code: e.reason for e in comparison.ineligible},
    }


@router.get(
    "/accounts/{number}/rate-comparison",
    response={200: AccountComparisonOut, **ERRORS},
    summary="Compare rates for an account",
)
def get_rate_comparison(request: HttpRequest, number: str):
    """What the last 12 whole months would have cost under the current rate and every rate
    each open service agreement is eligible for, from its own interval data; differences
    are the rate minus the current one (negative: the customer would have saved)."""
    require_perm(request, VIEW_ACCOUNT, "view accounts")
    require_perm(request, VIEW_RATES, "view rates")
    try:
        validators.validate_account_number(number)
    except DjangoValidationError as exc:
        raise invalid_from_django("path", "number", exc) from exc
    try:
        account = customer_queries.get_account(number=number)
    except customer_queries.AccountNotFound as exc:
        raise NotFound(f"No account {re.sub(r'[^0-9]', '', number)}.") from exc
    today = localdate(clock.now())
    agreements = [
        a
        for a in agreement_queries.list_agreements(account_id=account.pk).select_related("account")
        if a.status in ("active", "pending_stop")
    ]
    return {
        "account": account.number,
        "as_of": today,
        "agreements": [
            _comparison_out(rate_comparison.compare_rates(agreement=a, as_of=today))
            for a in agreements
        ],
    }
