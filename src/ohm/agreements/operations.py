"""Starting and stopping service."""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from ohm.agreements.models import ServiceAgreement
from ohm.core import audit, identifiers
from ohm.core.localtime import localdate
from ohm.customers import operations as customer_operations
from ohm.customers.models import Account
from ohm.premises.models import ServicePoint
from ohm.rates.models import RateSchedule

OPEN_STATUSES = [
    ServiceAgreement.Status.PENDING_START,
    ServiceAgreement.Status.ACTIVE,
    ServiceAgreement.Status.PENDING_STOP,
]


@transaction.atomic
def start_service(
    *,
    account: Account,
    service_point: ServicePoint,
    rate_schedule: RateSchedule,
    start_date: date,
    actor,
    at: datetime,
) -> ServiceAgreement:
    """Open a service agreement. Service starting today or earlier is active at once and
    makes a pending account active; a later start waits for ``apply_due_service_changes``.

    :raises ValidationError: naming the field: a closed or final account, an inactive rate,
        a retired service point, or a service point someone else is already served at.
    """
    account = Account.objects.select_for_update().get(pk=account.pk)
    errors: dict[str, str] = {}
    if account.status in (Account.Status.CLOSED, Account.Status.FINAL):
        errors["account"] = f"{account} is {account.status}; open a new account to start service."
    if not rate_schedule.is_active:
        errors["rate_schedule"] = f"Rate {rate_schedule.code} is closed to new service."
    if service_point.status != ServicePoint.Status.ACTIVE:
        errors["service_point"] = f"{service_point} is {service_point.status}."
    elif ServiceAgreement.objects.filter(
        service_point=service_point, status__in=OPEN_STATUSES
    ).exists():
        errors["service_point"] = (
            f"{service_point} is already served; stop or transfer that service first."
        )
    if start_date < account.opened_date:
        errors["start_date"] = (
            f"Service cannot start before the account opened ({account.opened_date})."
        )
    if errors:
        raise ValidationError(errors)
    today = localdate(at)
    agreement = ServiceAgreement(
        number=identifiers.next_numbers("service_agreement", prefix="SA", width=8)[0],
        account=account,
        service_point=service_point,
        rate_schedule=rate_schedule,
        start_date=start_date,
        status=ServiceAgreement.Status.ACTIVE
        if start_date <= today
        else ServiceAgreement.Status.PENDING_START,
    )
    agreement.full_clean()
    agreement.save()
    _settle_account_status(account=account, actor=actor, at=at)
    audit.record(
        "agreements.service.started",
        subject=agreement,
        actor=actor,
        at=at,
        account_id=account.pk,
        after={
            "service_point": service_point.number,
            "rate": rate_schedule.code,
            "start_date": start_date,
        },
    )
    return agreement


@transaction.atomic
def stop_service(
    *, agreement: ServiceAgreement, end_date: date, actor, at: datetime, reason: str = ""
) -> ServiceAgreement:
    """Stop service on ``end_date`` (exclusive). When the account's last service has stopped,
    the account goes final (the final bill is the billing issue's); a later stop waits for
    ``apply_due_service_changes``."""
    agreement = ServiceAgreement.objects.select_for_update().get(pk=agreement.pk)
    if agreement.status not in OPEN_STATUSES:
        raise ValidationError(
            {"agreement": f"{agreement} is already {agreement.get_status_display().lower()}."}
        )
    if end_date <= agreement.start_date:
        raise ValidationError(
            {"end_date": f"Service must stop after it started ({agreement.start_date})."}
        )
    today = localdate(at)
    agreement.end_date = end_date
    agreement.status = (
        ServiceAgreement.Status.STOPPED
        if end_date <= today
        else ServiceAgreement.Status.PENDING_STOP
    )
    agreement.save(update_fields=["end_date", "status"])
    account = agreement.account
    _settle_account_status(account=account, actor=actor, at=at)
    audit.record(
        "agreements.service.stopped",
        subject=agreement,
        actor=actor,
        at=at,
        account_id=account.pk,
        after={"end_date": end_date},
        reason=reason,
    )
    return agreement


@transaction.atomic
def cancel_pending_start(
    *, agreement: ServiceAgreement, actor, at: datetime, reason: str
) -> ServiceAgreement:
    agreement = ServiceAgreement.objects.select_for_update().get(pk=agreement.pk)
    if agreement.status != ServiceAgreement.Status.PENDING_START:
        raise ValidationError(
            {
                "agreement": "Only a start that has not happened yet can be cancelled; stop service instead."
            }
        )
    agreement.status = ServiceAgreement.Status.CANCELLED
    agreement.save(update_fields=["status"])
    audit.record(
        "agreements.service.cancelled",
        subject=agreement,
        actor=actor,
        at=at,
        account_id=agreement.account_id,
        reason=reason,
    )
    return agreement


def _settle_account_status(*, account: Account, actor, at: datetime) -> None:
    """Keep the account's status in step with its agreements: pending until some service is
    active, final once every service has stopped."""
    account.refresh_from_db(fields=["status"])
    agreements = ServiceAgreement.objects.filter(account=account)
    if account.status == Account.Status.PENDING:
        first_active = (
            agreements.filter(status=ServiceAgreement.Status.ACTIVE).order_by("start_date").first()
        )
        if first_active is not None:
            customer_operations.change_account_status(
                account=account,
                to_status=Account.Status.ACTIVE,
                effective_date=first_active.start_date,
                actor=actor,
                at=at,
                reason="service started",
            )
    elif (
        account.status == Account.Status.ACTIVE
        and not agreements.filter(status__in=OPEN_STATUSES).exists()
    ):
        last_stopped = (
            agreements.filter(status=ServiceAgreement.Status.STOPPED).order_by("-end_date").first()
        )
        if last_stopped is not None and last_stopped.end_date is not None:
            customer_operations.change_account_status(
                account=account,
                to_status=Account.Status.FINAL,
                effective_date=last_stopped.end_date,
                actor=actor,
                at=at,
                reason="last service stopped",
            )


def apply_due_service_changes(*, as_of_date: date, actor, at: datetime) -> dict[str, int]:
    """The daily roll: starts and stops dated on or before ``as_of_date`` take effect, and the
    accounts they belong to settle (pending -> active, active -> final). Each agreement is
    its own transaction, so a run stopped half-way is simply run again."""
    started = stopped = 0
    due_starts = ServiceAgreement.objects.filter(
        status=ServiceAgreement.Status.PENDING_START, start_date__lte=as_of_date
    )
    for pk in list(due_starts.values_list("pk", flat=True)):
        with transaction.atomic():
            agreement = ServiceAgreement.objects.select_for_update().get(pk=pk)
            if agreement.status != ServiceAgreement.Status.PENDING_START:
                continue
            agreement.status = ServiceAgreement.Status.ACTIVE
            agreement.save(update_fields=["status"])
            _settle_account_status(account=agreement.account, actor=actor, at=at)
            audit.record(
                "agreements.service.activated",
                subject=agreement,
                actor=actor,
                at=at,
                account_id=agreement.account_id,
                after={"start_date": agreement.start_date},
            )
            started += 1
    due_stops = ServiceAgreement.objects.filter(
        status=ServiceAgreement.Status.PENDING_STOP, end_date__lte=as_of_date
    )
    for pk in list(due_stops.values_list("pk", flat=True)):
        with transaction.atomic():
            agreement = ServiceAgreement.objects.select_for_update().get(pk=pk)
            if agreement.status != ServiceAgreement.Status.PENDING_STOP:
                continue
            agreement.status = ServiceAgreement.Status.STOPPED
            agreement.save(update_fields=["status"])
            _settle_account_status(account=agreement.account, actor=actor, at=at)
            audit.record(
                "agreements.service.stop_completed",
                subject=agreement,
                actor=actor,
                at=at,
                account_id=agreement.account_id,
                after={"end_date": agreement.end_date},
            )
            stopped += 1
    return {"started": started, "stopped": stopped}
