"""Accounts: one account as a CSR's account page shows it, and a filtered, paged list."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.http import HttpRequest
from ninja import Query, Router

from ohm.agreements.queries import list_agreements
from ohm.api.auth import require_perm
from ohm.api.errors import NotFound, invalid, invalid_from_django
from ohm.api.schemas import ERRORS, AccountOut, AccountPageOut
from ohm.core import clock, validators
from ohm.core.localtime import localdate
from ohm.customers import queries as customer_queries
from ohm.customers.models import Account, AccountPerson

router = Router(tags=["accounts"])

VIEW_ACCOUNT = "customers.view_account"
MAX_PAGE = 200


def mailing_address(record) -> dict:
    return {
        "address_line1": record.address_line1,
        "address_line2": record.address_line2,
        "city": record.city,
        "state": record.state,
        "postal_code": record.postal_code,
        "lines": record.mailing_lines,
    }


@router.get("/accounts/{number}", response={200: AccountOut, **ERRORS}, summary="Get an account")
def get_account(request: HttpRequest, number: str):
    """An account with its status, cycle, mailing address, flags, preferences, current
    persons, service agreements and the banners a CSR sees first. ``number`` may carry
    punctuation (``1000-00001-7``); its check digit is verified."""
    require_perm(request, VIEW_ACCOUNT, "view accounts")
    try:
        validators.validate_account_number(number)
    except DjangoValidationError as exc:
        raise invalid_from_django("path", "number", exc) from exc
    try:
        account = customer_queries.get_account(number=number)
    except customer_queries.AccountNotFound as exc:
        raise NotFound(f"No account {re.sub(r'[^0-9]', '', number)}.") from exc
    today = localdate(clock.now())
    persons = customer_queries.list_current_account_persons(account=account, as_of=today)
    return {
        "number": account.number,
        "formatted_number": account.formatted_number,
        "status": account.status,
        "bill_cycle": account.bill_cycle,
        "opened_date": account.opened_date,
        "final_date": account.final_date,
        "closed_date": account.closed_date,
        "mailing_address": mailing_address(account),
        "flags": {
            "medical_baseline": account.medical_baseline,
            "life_support": account.life_support,
            "cash_only": account.cash_only,
            "do_not_disconnect": account.do_not_disconnect,
            "do_not_disconnect_reason": account.do_not_disconnect_reason,
            "do_not_disconnect_until": account.do_not_disconnect_until,
        },
        "preferences": {
            "paperless": account.paperless,
            "language": account.language,
            "notify_by_email": account.notify_by_email,
            "notify_by_sms": account.notify_by_sms,
            "notify_by_mail": account.notify_by_mail,
        },
        "persons": [
            {
                "id": link.person_id,
                "name": link.person.display_name,
                "role": link.role,
                "role_label": link.get_role_display(),
                "start_date": link.start_date,
            }
            for link in persons
        ],
        "agreements": [
            {
                "number": sa.number,
                "status": sa.status,
                "service_point": sa.service_point.number,
                "premise_number": sa.service_point.premise.number,
                "premise_address": sa.service_point.premise.one_line,
                "rate_code": sa.rate_schedule.code,
                "start_date": sa.start_date,
                "end_date": sa.end_date,
            }
            for sa in list_agreements(account_id=account.pk)
        ],
        "banners": [
            {"kind": b.kind, "label": b.label, "note": b.note, "severity": b.severity}
            for b in customer_queries.list_banners(account=account, as_of=today)
        ],
    }


@router.get("/accounts", response={200: AccountPageOut, **ERRORS}, summary="List accounts")
def list_accounts(
    request: HttpRequest,
    status: str | None = Query(None, description="pending, active, final or closed"),
    cycle: int | None = Query(None, ge=1, le=20, description="Bill cycle, 1 to 20"),
    limit: int = Query(50, ge=1, le=MAX_PAGE, description=f"Page size, at most {MAX_PAGE}"),
    offset: int = Query(0, ge=0),
):
    """Accounts in account-number order, optionally only one status or bill cycle."""
    require_perm(request, VIEW_ACCOUNT, "view accounts")
    accounts = Account.objects.order_by("number")
    if status:
        if status not in Account.Status.values:
            allowed = ", ".join(Account.Status.values)
            raise invalid("query", "status", f"“{status}” is not an account status: use {allowed}.")
        accounts = accounts.filter(status=status)
    if cycle is not None:
        accounts = accounts.filter(bill_cycle=cycle)
    main_links = AccountPerson.objects.filter(
        role=AccountPerson.Role.MAIN, end_date__isnull=True
    ).select_related("person")
    page = accounts.prefetch_related(
        Prefetch("account_persons", queryset=main_links, to_attr="main_links")
    )[offset : offset + limit]
    return {
        "count": accounts.count(),
        "limit": limit,
        "offset": offset,
        "items": [
            {
                "number": account.number,
                "status": account.status,
                "bill_cycle": account.bill_cycle,
                "name": account.main_links[0].person.display_name if account.main_links else "",
                "opened_date": account.opened_date,
            }
            for account in page
        ],
    }
