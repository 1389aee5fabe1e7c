"""Filters that turn stored values into what a CSR reads: phones, account numbers, cents,
local times, and masks for sensitive fields."""

from __future__ import annotations

import re
from datetime import datetime

from django import template

from ohm.core import crypto, localtime, money, validators

register = template.Library()


@register.filter
def phone(e164: str) -> str:
    return validators.format_phone(e164) if e164 else ""


@register.filter
def account_number(number: str) -> str:
    """0123456789 -> 0123-45678-9, the way numbers are printed on bills and read aloud."""
    digits = re.sub(r"\D", "", number or "")
    if len(digits) != 10:
        return number
    return f"{digits[:4]}-{digits[4:9]}-{digits[9:]}"


@register.filter
def cents(amount_cents: int | None) -> str:
    return "" if amount_cents is None else money.format_cents(amount_cents)


@register.filter
def local(moment: datetime | None) -> datetime | None:
    """An aware datetime in the utility's zone, for display with the ``date`` filter."""
    return localtime.to_local(moment) if moment else moment


@register.filter
def masked_tail(value: str, can_see: bool) -> str:
    """The value itself for a role that may see it, else only its last four characters."""
    return value if can_see else crypto.mask_tail(value)


@register.filter
def masked(value: str, can_see: bool) -> str:
    return value if can_see else crypto.mask_all(value)
