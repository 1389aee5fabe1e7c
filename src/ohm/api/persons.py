"""Persons: contact details, language and identity status; sensitive fields masked by role."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest
from ninja import Router

from ohm.api.accounts import mailing_address
from ohm.api.auth import require_perm
from ohm.api.errors import NotFound
from ohm.api.schemas import ERRORS, PersonOut
from ohm.core.crypto import mask_all, mask_tail
from ohm.customers.models import AccountPerson, Person

router = Router(tags=["persons"])

VIEW_PERSON = "customers.view_person"
VIEW_SENSITIVE = "core.view_sensitive"


def _sensitive(value: str, *, shown: bool, mask) -> str | None:
    if not value:
        return None
    return value if shown else mask(value)


@router.get("/persons/{person_id}", response={200: PersonOut, **ERRORS}, summary="Get a person")
def get_person(request: HttpRequest, person_id: int):
    """A person with phones (E.164), emails, language, identity status and current account
    roles. Date of birth, SSN last four and tax id are masked unless the user has
    ``core.view_sensitive``."""
    require_perm(request, VIEW_PERSON, "view persons")
    current_roles = AccountPerson.objects.filter(end_date__isnull=True).select_related("account")
    person = (
        Person.objects.prefetch_related(
            "phones",
            "emails",
            Prefetch("account_roles", queryset=current_roles, to_attr="current_roles"),
        )
        .filter(pk=person_id)
        .first()
    )
    if person is None:
        raise NotFound(f"No person {person_id}.")
    shown = request.user.has_perm(VIEW_SENSITIVE)
    return {
        "id": person.pk,
        "kind": person.kind,
        "name": person.display_name,
        "first_name": person.first_name,
        "middle_name": person.middle_name,
        "last_name": person.last_name,
        "suffix": person.suffix,
        "business_name": person.business_name,
        "preferred_language": person.preferred_language,
        "identity_status": person.identity_status,
        "identity_verified_at": person.identity_verified_at,
        "identity_method": person.identity_method,
        "mailing_address": mailing_address(person),
        "phones": [
            {
                "number": phone.number,
                "kind": phone.kind,
                "is_primary": phone.is_primary,
                "sms_consent": phone.sms_consent,
            }
            for phone in sorted(person.phones.all(), key=lambda p: (not p.is_primary, p.pk))
        ],
        "emails": [
            {"address": email.address, "is_primary": email.is_primary}
            for email in sorted(person.emails.all(), key=lambda e: (not e.is_primary, e.pk))
        ],
        "date_of_birth": _sensitive(person.date_of_birth, shown=shown, mask=mask_all),
        "ssn_last4": _sensitive(person.ssn_last4, shown=shown, mask=mask_all),
        "tax_id": _sensitive(person.tax_id, shown=shown, mask=mask_tail),
        "sensitive_masked": not shown,
        "accounts": [
            {"number": link.account.number, "role": link.role}
            for link in sorted(person.current_roles, key=lambda link: link.account.number)
        ],
    }
