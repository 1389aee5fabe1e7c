"""Identifiers people read aloud and type: drawn from named sequences, some with check digits."""

from __future__ import annotations

from django.db import transaction

from ohm.core.checkdigit import with_luhn_digit
from ohm.core.models import Sequence


@transaction.atomic
def reserve(name: str, *, count: int = 1, start: int = 1) -> int:
    """Reserve ``count`` consecutive values of sequence ``name``; return the first."""
    seq = Sequence.objects.select_for_update().filter(name=name).first()
    if seq is None:
        seq = Sequence.objects.create(name=name, next_value=start)
        seq = Sequence.objects.select_for_update().get(name=name)
    first = seq.next_value
    Sequence.objects.filter(name=name).update(next_value=first + count)
    return first


ACCOUNT_BODY_START = 100_000_000  # nine-digit body, so account numbers are ten digits


def account_number_for(body: int) -> str:
    return with_luhn_digit(f"{body:09d}")


def next_account_numbers(count: int = 1) -> list[str]:
    first = reserve("account", count=count, start=ACCOUNT_BODY_START)
    return [account_number_for(first + i) for i in range(count)]


def next_numbers(name: str, *, prefix: str, width: int, count: int = 1) -> list[str]:
    """Plain numbered ids such as premise P0001234 or service point SP0001234."""
    first = reserve(name, count=count, start=1)
    # One %-template mapped over the range: no Python frame per number (a bill run asks for
    # thousands at once).
    template = f"{prefix.replace('%', '%%')}%0{width}d"
    return list(map(template.__mod__, range(first, first + count)))
