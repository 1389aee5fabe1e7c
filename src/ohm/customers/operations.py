"""Writes to persons and accounts. Each is one transaction with its audit event."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ohm.core import audit, identifiers, validators
from ohm.core.localtime import localdate
from ohm.customers.models import (
    Account,
    AccountAlert,
    AccountPerson,
    Email,
    Interaction,
    InteractionReason,
    Person,
    Phone,
)

PERSON_FIELDS = [
    "kind",
    "first_name",
    "middle_name",
    "last_name",
    "suffix",
    "business_name",
    "preferred_language",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "identity_status",
    "identity_method",
]
SENSITIVE_PERSON_FIELDS = ["date_of_birth", "ssn_last4", "tax_id"]
ACCOUNT_FIELDS = [
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "bill_cycle",
    "medical_baseline",
    "life_support",
    "cash_only",
    "do_not_disconnect",
    "do_not_disconnect_reason",
    "do_not_disconnect_until",
    "paperless",
    "language",
    "notify_by_email",
    "notify_by_sms",
    "notify_by_mail",
]

#: Account status lifecycle. Closing a pending account cancels an application that never
#: started; a final account may be reinstated before it closes.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    Account.Status.PENDING: {Account.Status.ACTIVE, Account.Status.CLOSED},
    Account.Status.ACTIVE: {Account.Status.FINAL},
    Account.Status.FINAL: {Account.Status.ACTIVE, Account.Status.CLOSED},
    Account.Status.CLOSED: set(),
}


class StatusTransitionNotAllowed(ValidationError):
    def __init__(self, account: Account, to_status: str):
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[account.status])) or "none (closed is final)"
        super().__init__(
            {
                "status": f"An account cannot go from {account.status} to {to_status}; from {account.status} it may go to: {allowed}."
            }
        )


def _check_date_of_birth(value: str, *, at: datetime) -> None:
    if not value:
        return
    try:
        born = date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError({"date_of_birth": f"“{value}” is not a date (YYYY-MM-DD)."}) from exc
    if born >= localdate(at):  # the utility's day, not UTC's: evenings in UTC are tomorrow
        raise ValidationError({"date_of_birth": "The date of birth is not in the past."})
    if born.year < 1900:
        raise ValidationError({"date_of_birth": f"{born.year} is not a plausible year of birth."})


def _check_tax_id(value: str) -> None:
    digits = "".join(ch for ch in value if ch.isdigit())
    if value and len(digits) != 9:
        raise ValidationError({"tax_id": "A tax id (EIN) has nine digits, e.g. 12-3456789."})


@transaction.atomic
def create_person(
    *,
    actor,
    at: datetime,
    phones: list[dict[str, Any]] | None = None,
    emails: list[str] | None = None,
    **fields: Any,
) -> Person:
    """Create a person with phones (``{"number", "kind", "sms_consent"}``) and emails.

    :raises ValidationError: naming each bad field; nothing is written.
    """
    unknown = set(fields) - set(PERSON_FIELDS) - set(SENSITIVE_PERSON_FIELDS)
    if unknown:
        raise TypeError(f"create_person got unknown fields {sorted(unknown)}")
    _check_date_of_birth(fields.get("date_of_birth", ""), at=at)
    _check_tax_id(fields.get("tax_id", ""))
    person = Person(created_at=at, **fields)
    person.full_clean()
    person.save()
    for index, phone in enumerate(phones or []):
        _add_phone(person, is_primary=index == 0, **phone)
    for index, address in enumerate(emails or []):
        _add_email(person, address=address, is_primary=index == 0)
    audit.record(
        "customers.person.created",
        subject=person,
        actor=actor,
        at=at,
        after=audit.snapshot(person, PERSON_FIELDS),
    )
    return person


def _add_phone(
    person: Person,
    *,
    number: str,
    kind: str = Phone.Kind.MOBILE,
    is_primary: bool = False,
    sms_consent: bool = False,
) -> Phone:
    try:
        e164 = validators.normalize_phone(number)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from exc
    if is_primary:
        person.phones.update(is_primary=False)
    phone = Phone(
        person=person, number=e164, kind=kind, is_primary=is_primary, sms_consent=sms_consent
    )
    phone.full_clean()
    phone.save()
    return phone


def _add_email(person: Person, *, address: str, is_primary: bool = False) -> Email:
    if is_primary:
        person.emails.update(is_primary=False)
    email = Email(person=person, address=address.strip().lower(), is_primary=is_primary)
    try:
        email.full_clean()
    except ValidationError as exc:
        raise ValidationError({"email": [f"“{address}” is not an email address."]}) from exc
    email.save()
    return email


@transaction.atomic
def add_phone(
    *,
    person: Person,
    number: str,
    kind: str,
    is_primary: bool = False,
    sms_consent: bool = False,
    actor,
    at: datetime,
) -> Phone:
    is_primary = is_primary or not person.phones.exists()
    phone = _add_phone(
        person, number=number, kind=kind, is_primary=is_primary, sms_consent=sms_consent
    )
    audit.record(
        "customers.phone.added",
        subject=person,
        actor=actor,
        at=at,
        after={"number": phone.number, "kind": kind},
    )
    return phone


@transaction.atomic
def remove_phone(*, phone: Phone, actor, at: datetime, reason: str = "") -> None:
    person = phone.person
    audit.record(
        "customers.phone.removed",
        subject=person,
        actor=actor,
        at=at,
        before={"number": phone.number},
        reason=reason,
    )
    phone.delete()


@transaction.atomic
def add_email(
    *, person: Person, address: str, is_primary: bool = False, actor, at: datetime
) -> Email:
    is_primary = is_primary or not person.emails.exists()
    email = _add_email(person, address=address, is_primary=is_primary)
    audit.record(
        "customers.email.added",
        subject=person,
        actor=actor,
        at=at,
        after={"address": email.address},
    )
    return email


@transaction.atomic
def remove_email(*, email: Email, actor, at: datetime, reason: str = "") -> None:
    audit.record(
        "customers.email.removed",
        subject=email.person,
        actor=actor,
        at=at,
        before={"address": email.address},
        reason=reason,
    )
    email.delete()


@transaction.atomic
def update_person(
    *, person: Person, changes: dict[str, Any], actor, at: datetime, reason: str = ""
) -> Person:
    """Change a person's fields; sensitive ones are audited as changed, never by value."""
    unknown = set(changes) - set(PERSON_FIELDS) - set(SENSITIVE_PERSON_FIELDS)
    if unknown:
        raise TypeError(f"update_person got unknown fields {sorted(unknown)}")
    person = Person.objects.select_for_update().get(pk=person.pk)
    if "date_of_birth" in changes:
        _check_date_of_birth(changes["date_of_birth"], at=at)
    if "tax_id" in changes:
        _check_tax_id(changes["tax_id"])
    before = audit.snapshot(person, PERSON_FIELDS)
    sensitive_changed = [
        k for k in SENSITIVE_PERSON_FIELDS if k in changes and getattr(person, k) != changes[k]
    ]
    for name, value in changes.items():
        setattr(person, name, value)
    if (
        changes.get("identity_status") == Person.Identity.VERIFIED
        and before["identity_status"] != Person.Identity.VERIFIED
    ):
        person.identity_verified_at = at
    person.full_clean()
    person.save()
    old, new = audit.changed_fields(before, audit.snapshot(person, PERSON_FIELDS))
    for name in sensitive_changed:
        old[name], new[name] = "(hidden)", "(changed)"
    if old or new:
        audit.record(
            "customers.person.updated",
            subject=person,
            actor=actor,
            at=at,
            before=old,
            after=new,
            reason=reason,
        )
    return person


@transaction.atomic
def open_account(
    *,
    main_person: Person,
    bill_cycle: int,
    opened_date: date,
    actor,
    at: datetime,
    mailing_address: dict[str, str] | None = None,
    number: str | None = None,
    **preferences: Any,
) -> Account:
    """Open a pending account for ``main_person``; mail goes to their address unless given.

    The account becomes active when service starts on it.
    """
    address = mailing_address or {
        "address_line1": main_person.address_line1,
        "address_line2": main_person.address_line2,
        "city": main_person.city,
        "state": main_person.state,
        "postal_code": main_person.postal_code,
    }
    unknown = set(preferences) - set(ACCOUNT_FIELDS)
    if unknown:
        raise TypeError(f"open_account got unknown fields {sorted(unknown)}")
    preferences.setdefault("language", main_person.preferred_language)
    account = Account(
        number=number or identifiers.next_account_numbers()[0],
        status=Account.Status.PENDING,
        bill_cycle=bill_cycle,
        opened_date=opened_date,
        created_at=at,
        **address,
        **preferences,
    )
    account.full_clean()
    account.save()
    AccountPerson.objects.create(
        account=account, person=main_person, role=AccountPerson.Role.MAIN, start_date=opened_date
    )
    audit.record(
        "customers.account.opened",
        subject=account,
        actor=actor,
        at=at,
        account_id=account.pk,
        after={"number": account.number, "main_person": main_person.pk, "bill_cycle": bill_cycle},
    )
    return account


@transaction.atomic
def change_account_status(
    *, account: Account, to_status: str, effective_date: date, actor, at: datetime, reason: str = ""
) -> Account:
    """Move an account along its lifecycle; refuses any move ``ALLOWED_TRANSITIONS`` lacks."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    if to_status not in ALLOWED_TRANSITIONS.get(account.status, set()):
        raise StatusTransitionNotAllowed(account, to_status)
    if effective_date < account.opened_date:
        raise ValidationError(
            {
                "effective_date": f"{effective_date} is before the account opened ({account.opened_date})."
            }
        )
    before = account.status
    account.status = to_status
    if to_status == Account.Status.FINAL:
        account.final_date = effective_date
    elif to_status == Account.Status.CLOSED:
        account.closed_date = effective_date
    elif to_status == Account.Status.ACTIVE:
        account.final_date = None
    account.save(update_fields=["status", "final_date", "closed_date"])
    audit.record(
        "customers.account.status_changed",
        subject=account,
        actor=actor,
        at=at,
        account_id=account.pk,
        before={"status": before},
        after={"status": to_status, "effective_date": effective_date},
        reason=reason,
    )
    return account


@transaction.atomic
def update_account(
    *, account: Account, changes: dict[str, Any], actor, at: datetime, reason: str = ""
) -> Account:
    """Change the mailing address, bill cycle, flags or preferences (not number or status)."""
    unknown = set(changes) - set(ACCOUNT_FIELDS)
    if unknown:
        raise TypeError(f"update_account cannot change {sorted(unknown)}")
    account = Account.objects.select_for_update().get(pk=account.pk)
    before = audit.snapshot(account, ACCOUNT_FIELDS)
    for name, value in changes.items():
        setattr(account, name, value)
    if not account.do_not_disconnect:
        account.do_not_disconnect_reason, account.do_not_disconnect_until = "", None
    account.full_clean()
    account.save()
    old, new = audit.changed_fields(before, audit.snapshot(account, ACCOUNT_FIELDS))
    if old or new:
        audit.record(
            "customers.account.updated",
            subject=account,
            actor=actor,
            at=at,
            account_id=account.pk,
            before=old,
            after=new,
            reason=reason,
        )
    return account


@transaction.atomic
def add_account_person(
    *, account: Account, person: Person, role: str, start_date: date, actor, at: datetime
) -> AccountPerson:
    """Add a person to an account in a role; a new main customer replaces the old one."""
    if role not in AccountPerson.Role.values:
        raise ValidationError({"role": f"“{role}” is not a role on an account."})
    if account.account_persons.filter(person=person, role=role, end_date__isnull=True).exists():
        raise ValidationError(
            {
                "person": f"{person} is already {AccountPerson.Role(role).label.lower()} on this account."
            }
        )
    if role == AccountPerson.Role.MAIN:
        current = account.account_persons.filter(role=role, end_date__isnull=True)
        # Ending the old main customer on the new one's start must leave it a real period.
        if current.filter(start_date__gte=start_date).exists():
            raise ValidationError(
                {"start_date": "The new main customer must start after the current one started."}
            )
        current.update(end_date=start_date)
    link = AccountPerson.objects.create(
        account=account, person=person, role=role, start_date=start_date
    )
    audit.record(
        "customers.account_person.added",
        subject=account,
        actor=actor,
        at=at,
        account_id=account.pk,
        after={"person": person.pk, "role": role},
    )
    return link


@transaction.atomic
def end_account_person(
    *, link: AccountPerson, end_date: date, actor, at: datetime, reason: str = ""
) -> AccountPerson:
    if link.role == AccountPerson.Role.MAIN:
        raise ValidationError(
            {"role": "An account always has a main customer: add the new main customer instead."}
        )
    if end_date <= link.start_date:
        raise ValidationError({"end_date": "The role must end after it started."})
    link.end_date = end_date
    link.save(update_fields=["end_date"])
    audit.record(
        "customers.account_person.ended",
        subject=link.account,
        actor=actor,
        at=at,
        account_id=link.account_id,
        before={"person": link.person_id, "role": link.role},
        reason=reason,
    )
    return link


@transaction.atomic
def add_alert(
    *,
    account: Account,
    kind: str,
    note: str,
    start_date: date,
    end_date: date | None = None,
    actor,
    at: datetime,
) -> AccountAlert:
    alert = AccountAlert(
        account=account,
        kind=kind,
        note=note,
        start_date=start_date,
        end_date=end_date,
        created_by=actor if getattr(actor, "pk", None) else None,
        created_at=at,
    )
    alert.full_clean()
    alert.save()
    audit.record(
        "customers.alert.added",
        subject=account,
        actor=actor,
        at=at,
        account_id=account.pk,
        after={"kind": kind, "note": note},
    )
    return alert


@transaction.atomic
def end_alert(
    *, alert: AccountAlert, end_date: date, actor, at: datetime, reason: str = ""
) -> AccountAlert:
    if end_date <= alert.start_date:
        raise ValidationError({"end_date": "The alert must end after it starts."})
    alert.end_date = end_date
    alert.save(update_fields=["end_date"])
    audit.record(
        "customers.alert.ended",
        subject=alert.account,
        actor=actor,
        at=at,
        account_id=alert.account_id,
        before={"kind": alert.kind},
        reason=reason,
    )
    return alert


class UnknownInteractionReason(ValidationError):
    def __init__(self, code: str):
        super().__init__({"reason": f"“{code}” is not an interaction reason."})


@transaction.atomic
def log_interaction(
    *,
    account: Account,
    channel: str,
    reason_code: str,
    note: str,
    actor,
    occurred_at: datetime,
    person: Person | None = None,
    direction: str = Interaction.Direction.INBOUND,
) -> Interaction:
    reason = InteractionReason.objects.filter(code=reason_code, is_active=True).first()
    if reason is None:
        raise UnknownInteractionReason(reason_code)
    interaction = Interaction(
        account=account,
        person=person,
        channel=channel,
        direction=direction,
        reason=reason,
        note=note.strip(),
        actor=actor if getattr(actor, "pk", None) else None,
        occurred_at=occurred_at,
    )
    interaction.full_clean()
    interaction.save()
    audit.record(
        "customers.interaction.logged",
        subject=account,
        actor=actor,
        at=occurred_at,
        account_id=account.pk,
        after={"channel": channel, "reason": reason_code},
    )
    return interaction
