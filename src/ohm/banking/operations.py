"""Autopay enrolment: enrol, change the bank details, suspend, resume, cancel.

Every change is audited with the account number masked (the audit trail is read by more
people than may see a bank account). Changing the bank details restarts the prenote and
the refund cooling-off period (``bank_changed_at``); a correction the bank itself sends (a
notification of change) is applied by ``apply_bank_correction`` and restarts neither.
"""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ohm.banking import nacha
from ohm.banking.models import AccountType, AutopayEnrolment
from ohm.core import audit
from ohm.core.crypto import mask_tail
from ohm.customers.models import Account
from ohm.workqueue import operations as workqueue

Status = AutopayEnrolment.Status
Prenote = AutopayEnrolment.Prenote


def _label(actor) -> str:
    return getattr(actor, "username", "") or str(actor)


def _person(actor):
    return actor if getattr(actor, "pk", None) is not None else None


def clean_routing_number(value: str) -> str:
    routing = (value or "").strip().replace(" ", "").replace("-", "")
    if len(routing) != 9 or not routing.isdigit():
        raise ValidationError({"routing_number": "A routing number is nine digits."})
    if not nacha.is_valid_routing(routing):
        raise ValidationError(
            {
                "routing_number": f"{routing} is not a routing number: its check digit "
                f"should be {nacha.routing_check_digit(routing[:8])}."
            }
        )
    return routing


def clean_account_number(value: str) -> str:
    number = (value or "").strip().replace(" ", "").replace("-", "")
    if not number.isdigit() or not 4 <= len(number) <= 17:
        raise ValidationError(
            {"account_number": "A bank account number is 4 to 17 digits (no letters)."}
        )
    return number


def _clean_type(value: str) -> str:
    if value not in AccountType.values:
        raise ValidationError({"account_type": f"“{value}” is not checking or savings."})
    return value


def _clean_name(value: str) -> str:
    name = " ".join((value or "").split())
    if not name:
        raise ValidationError({"holder_name": "Give the name on the bank account."})
    if not name.isascii():
        raise ValidationError(
            {"holder_name": "Bank files take plain letters only (no accents or symbols)."}
        )
    return name[:22]


def _masked(enrolment: AutopayEnrolment) -> dict:
    return {
        "routing_number": enrolment.routing_number,
        "account_number": mask_tail(enrolment.account_number),
        "account_type": enrolment.account_type,
        "holder_name": enrolment.holder_name,
    }


def _lock(enrolment: AutopayEnrolment) -> AutopayEnrolment:
    return AutopayEnrolment.objects.select_for_update().get(pk=enrolment.pk)


@transaction.atomic
def enrol_autopay(
    *,
    account: Account,
    holder_name: str,
    routing_number: str,
    account_number: str,
    account_type: str,
    start_date: date,
    actor,
    at: datetime,
    prenote: bool = True,
) -> AutopayEnrolment:
    """Enrol the account: debits start with amounts due on or after ``start_date`` (and, with
    a prenote, once the prenote has had time to come back).

    :raises ValidationError: a routing number whose check digit is wrong, an account number
        that is not 4–17 digits, a cash-only or closed account, or autopay already live.
    """
    routing = clean_routing_number(routing_number)
    number = clean_account_number(account_number)
    kind = _clean_type(account_type)
    name = _clean_name(holder_name)
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.cash_only:
        raise ValidationError(
            {"account": "The account is cash-only after returned payments: no autopay."}
        )
    if account.status == Account.Status.CLOSED:
        raise ValidationError({"account": "The account is closed."})
    if AutopayEnrolment.objects.filter(account=account).exclude(status=Status.CANCELLED).exists():
        raise ValidationError(
            {"account": "Autopay is already set up on this account: change or cancel it."}
        )
    try:
        with transaction.atomic():
            enrolment = AutopayEnrolment.objects.create(
                account=account,
                holder_name=name,
                routing_number=routing,
                account_number=number,
                account_last4=number[-4:],
                account_type=kind,
                status=Status.ACTIVE,
                prenote_status=Prenote.PENDING if prenote else Prenote.NOT_REQUIRED,
                start_date=start_date,
                enrolled_at=at,
                enrolled_by=_person(actor),
                enrolled_by_label=_label(actor),
                bank_changed_at=at,
            )
    except IntegrityError as exc:
        raise ValidationError({"account": "Autopay is already set up on this account."}) from exc
    audit.record(
        "banking.autopay.enrolled",
        subject=enrolment,
        actor=actor,
        at=at,
        account_id=account.pk,
        after={**_masked(enrolment), "start_date": start_date, "prenote": prenote},
    )
    return enrolment


@transaction.atomic
def change_bank_details(
    *,
    enrolment: AutopayEnrolment,
    routing_number: str,
    account_number: str,
    account_type: str,
    actor,
    at: datetime,
    holder_name: str | None = None,
    reason: str = "",
    prenote: bool = True,
) -> AutopayEnrolment:
    """New bank details from the customer: a new prenote, and refunds to this bank account
    wait out the cooling-off period from ``at``."""
    enrolment = _lock(enrolment)
    if enrolment.status == Status.CANCELLED:
        raise ValidationError({"status": "This autopay was cancelled: enrol again."})
    before = _masked(enrolment)
    enrolment.routing_number = clean_routing_number(routing_number)
    enrolment.account_number = clean_account_number(account_number)
    enrolment.account_last4 = enrolment.account_number[-4:]
    enrolment.account_type = _clean_type(account_type)
    if holder_name is not None:
        enrolment.holder_name = _clean_name(holder_name)
    enrolment.bank_changed_at = at
    enrolment.prenote_status = Prenote.PENDING if prenote else Prenote.NOT_REQUIRED
    enrolment.prenote_sent_date = None
    enrolment.save()
    audit.record(
        "banking.autopay.bank_changed",
        subject=enrolment,
        actor=actor,
        at=at,
        account_id=enrolment.account_id,
        before=before,
        after=_masked(enrolment),
        reason=reason,
    )
    return enrolment


@transaction.atomic
def apply_bank_correction(
    *, enrolment: AutopayEnrolment, corrections: dict[str, str], code: str, actor, at: datetime
) -> AutopayEnrolment:
    """Apply a bank's notification of change (C01–C07): the corrected routing number,
    account number or account type (from the transaction code). Audited; no new prenote and
    no cooling-off, because the bank — not a caller — supplied the details."""
    enrolment = _lock(enrolment)
    before = _masked(enrolment)
    if "routing_number" in corrections:
        enrolment.routing_number = clean_routing_number(corrections["routing_number"])
    if "account_number" in corrections:
        enrolment.account_number = clean_account_number(corrections["account_number"])
        enrolment.account_last4 = enrolment.account_number[-4:]
    code_text = corrections.get("transaction_code", "")
    if code_text:
        kind = nacha.TRANSACTION_CODES.get(int(code_text)) if code_text.isdigit() else None
        if kind is None or kind[0] not in AccountType.values:
            raise ValidationError(
                {"transaction_code": f"{code_text} is not a checking or savings code."}
            )
        enrolment.account_type = kind[0]
    enrolment.save()
    audit.record(
        "banking.autopay.bank_corrected",
        subject=enrolment,
        actor=actor,
        at=at,
        account_id=enrolment.account_id,
        before=before,
        after=_masked(enrolment),
        reason=f"Notification of change {code}: {nacha.CHANGE_CODES.get(code, '')}",
    )
    return enrolment


def _set_status(
    enrolment: AutopayEnrolment, status: str, *, reason: str, actor, at: datetime, event: str
) -> AutopayEnrolment:
    enrolment = _lock(enrolment)
    if enrolment.status == Status.CANCELLED:
        raise ValidationError({"status": "This autopay was cancelled already."})
    before = enrolment.status
    enrolment.status = status
    enrolment.status_reason = reason[:200]
    enrolment.status_changed_at = at
    enrolment.save(update_fields=["status", "status_reason", "status_changed_at"])
    audit.record(
        event,
        subject=enrolment,
        actor=actor,
        at=at,
        account_id=enrolment.account_id,
        before={"status": before},
        after={"status": status},
        reason=reason,
    )
    return enrolment


@transaction.atomic
def suspend_autopay(*, enrolment: AutopayEnrolment, reason: str, actor, at: datetime):
    """Stop debiting until someone resumes it (no debit goes into a file while suspended)."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why autopay is suspended."})
    return _set_status(
        enrolment,
        Status.SUSPENDED,
        reason=reason,
        actor=actor,
        at=at,
        event="banking.autopay.suspended",
    )


@transaction.atomic
def resume_autopay(*, enrolment: AutopayEnrolment, reason: str, actor, at: datetime):
    account = Account.objects.get(pk=enrolment.account_id)
    if account.cash_only:
        raise ValidationError({"account": "The account is cash-only: autopay cannot resume."})
    return _set_status(
        enrolment, Status.ACTIVE, reason=reason, actor=actor, at=at, event="banking.autopay.resumed"
    )


@transaction.atomic
def cancel_autopay(*, enrolment: AutopayEnrolment, reason: str, actor, at: datetime):
    """End the authorization. Debits already in a released file still settle."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why autopay is cancelled."})
    return _set_status(
        enrolment,
        Status.CANCELLED,
        reason=reason,
        actor=actor,
        at=at,
        event="banking.autopay.cancelled",
    )


def raise_autopay_problem(
    *, enrolment: AutopayEnrolment, title: str, description: str, actor, at: datetime
):
    """A work item for a CSR: tell the customer, get new bank details."""
    account = Account.objects.only("pk", "number").get(pk=enrolment.account_id)
    return workqueue.raise_work_item(
        category_code="autopay_problem",
        title=title[:200],
        description=description,
        subject=enrolment,
        account_id=account.pk,
        account_number=account.number,
        actor=actor,
        at=at,
    )
