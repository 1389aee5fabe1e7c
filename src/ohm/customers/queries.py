"""Reads of persons and accounts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.db.models import Q, QuerySet

from ohm.core import validators
from ohm.customers.models import Account, AccountAlert, AccountPerson, Interaction, Person


class AccountNotFound(LookupError):
    pass


def get_account(*, number: str) -> Account:
    """The account with this number (punctuation ignored).

    :raises django.core.exceptions.ValidationError: if the check digit is wrong.
    :raises AccountNotFound: if no account has it.
    """
    validators.validate_account_number(number)
    digits = re.sub(r"\D", "", number)
    try:
        return Account.objects.get(number=digits)
    except Account.DoesNotExist as exc:
        raise AccountNotFound(digits) from exc


def list_current_account_persons(*, account: Account, as_of: date) -> QuerySet[AccountPerson]:
    return (
        account.account_persons.filter(start_date__lte=as_of)
        .filter(Q(end_date__isnull=True) | Q(end_date__gt=as_of))
        .select_related("person")
        .prefetch_related("person__phones", "person__emails")
        .order_by("role", "id")
    )


def get_main_person(*, account: Account) -> Person | None:
    link = (
        account.account_persons.filter(role=AccountPerson.Role.MAIN, end_date__isnull=True)
        .select_related("person")
        .first()
    )
    return link.person if link else None


@dataclass(frozen=True)
class Banner:
    kind: str
    label: str
    note: str
    severity: str  # "danger" or "warning" or "info"


_SEVERITY: dict[str, str] = {
    AccountAlert.Kind.LIFE_SUPPORT: "danger",
    AccountAlert.Kind.SAFETY: "danger",
    AccountAlert.Kind.BANKRUPTCY: "danger",
    AccountAlert.Kind.FRAUD: "danger",
    AccountAlert.Kind.CASH_ONLY: "warning",
    AccountAlert.Kind.DISPUTE: "warning",
}


def list_banners(*, account: Account, as_of: date) -> list[Banner]:
    """What a CSR must see first: current alerts plus the flags that act like alerts."""
    banners: list[Banner] = []
    if account.life_support:
        banners.append(
            Banner(
                "life_support", "Life support", "Life-support equipment at the premise.", "danger"
            )
        )
    if account.do_not_disconnect and (
        account.do_not_disconnect_until is None or account.do_not_disconnect_until >= as_of
    ):
        until = (
            f" until {account.do_not_disconnect_until:%b %-d, %Y}"
            if account.do_not_disconnect_until
            else ""
        )
        banners.append(
            Banner(
                "do_not_disconnect",
                "Do not disconnect",
                f"{account.do_not_disconnect_reason}{until}",
                "danger",
            )
        )
    if account.cash_only:
        banners.append(Banner("cash_only", "Cash only", "Checks and ACH are refused.", "warning"))
    if account.medical_baseline:
        banners.append(Banner("medical", "Medical baseline", "Extra baseline allowance.", "info"))
    # An alert of the same kind as a flag adds its note to the flag's banner, not a second banner.
    by_kind = {b.kind: i for i, b in enumerate(banners)}
    for alert in list_current_alerts(account=account, as_of=as_of):
        if alert.kind in by_kind:
            flag = banners[by_kind[alert.kind]]
            if alert.note:
                banners[by_kind[alert.kind]] = Banner(
                    flag.kind, flag.label, alert.note, flag.severity
                )
            continue
        banners.append(
            Banner(
                alert.kind, alert.get_kind_display(), alert.note, _SEVERITY.get(alert.kind, "info")
            )
        )
    return banners


def list_current_alerts(*, account: Account, as_of: date) -> QuerySet[AccountAlert]:
    return (
        account.alerts.filter(start_date__lte=as_of)
        .filter(Q(end_date__isnull=True) | Q(end_date__gt=as_of))
        .order_by("start_date")
    )


def list_interactions(*, account: Account, channel: str | None = None) -> QuerySet[Interaction]:
    rows = account.interactions.select_related("reason", "actor", "person")
    return rows.filter(channel=channel) if channel else rows


def list_accounts_of_person(*, person: Person) -> QuerySet[Account]:
    return (
        Account.objects.filter(account_persons__person=person).distinct().order_by("-opened_date")
    )
