"""Validators for what people type: each error message names what is wrong and how to fix it."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError

from ohm.core.checkdigit import is_luhn_valid

US_STATES = {
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "DC",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "WA",
    "WV",
    "WI",
    "WY",
    "PR",
    "GU",
    "VI",
    "AS",
    "MP",
}
_ZIP = re.compile(r"^\d{5}(-\d{4})?$")


def normalize_phone(text: str) -> str:
    """A typed phone number to E.164 (+15105550123); US numbers need no country code.

    :raises ValidationError: when it is not a valid phone number.
    """
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"“{text}” is not a phone number.", code="invalid_phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            f"“{text}” is not a valid phone number (check the area code and the number of digits).",
            code="invalid_phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """+15105550123 -> (510) 555-0123 for US numbers, international format otherwise."""
    try:
        number = phonenumbers.parse(e164, "US")
    except phonenumbers.NumberParseException:
        return e164
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 1
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)


def validate_phone(value: str) -> None:
    normalize_phone(value)


def validate_postal_code(value: str) -> None:
    if not _ZIP.match(value or ""):
        raise ValidationError(
            f"“{value}” is not a ZIP code: use 5 digits or ZIP+4 (94501 or 94501-1234).",
            code="invalid_zip",
        )


def validate_state(value: str) -> None:
    if value not in US_STATES:
        raise ValidationError(
            f"“{value}” is not a US state code (two capital letters, e.g. CA).",
            code="invalid_state",
        )


def validate_account_number(value: str) -> None:
    digits = re.sub(r"\D", "", value or "")
    if len(digits) != 10:
        raise ValidationError(
            f"“{value}” is not an account number: account numbers have 10 digits.",
            code="invalid_account_number",
        )
    if not is_luhn_valid(digits):
        raise ValidationError(
            f"“{value}” fails the account number's check digit: a digit is mistyped or two are swapped.",
            code="invalid_check_digit",
        )


def validate_last4(value: str) -> None:
    if value and not re.fullmatch(r"\d{4}", value):
        raise ValidationError("Enter exactly the last four digits.", code="invalid_last4")
