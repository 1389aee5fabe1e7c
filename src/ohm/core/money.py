"""Money: integer cents everywhere, Decimal for unit prices, and the one rounding point.

Every stored amount is an ``int`` of cents. Prices and unrounded charges are ``Decimal``.
``to_cents`` is the only place in Ohm that turns a Decimal into cents: half-up to the cent,
once per bill line; a total is the sum of rounded lines. This module imports no Django.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
_AMOUNT = re.compile(
    r"^\s*(?P<sign>[-+])?\$?\s*(?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?:\.(?P<frac>\d{0,2}))?\s*$"
)


class InvalidAmount(ValueError):
    """A typed amount that is not dollars and at most two decimal places."""


def to_cents(amount: Decimal) -> int:
    """Dollars (unrounded Decimal) to integer cents, rounding half away from zero to the cent."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"to_cents takes a Decimal, not {type(amount).__name__}")
    # Quantize the amount itself: dividing by CENT first rounds to the context precision
    # (28 digits, half-even) and then rounds again, so 0.00499…9 (30 digits) became 1 cent.
    return int(amount.quantize(CENT, rounding=ROUND_HALF_UP).scaleb(2))


def to_dollars(cents: int) -> Decimal:
    """Integer cents to an exact Decimal of dollars (two places)."""
    return (Decimal(int(cents)) * CENT).quantize(CENT)


def parse_amount(text: str) -> int:
    """A person's typed dollar amount ("1,234.50", "$12", "-3.5") to cents; refuses sub-cents.

    :raises InvalidAmount: with a message a form can show as it is.
    """
    match = _AMOUNT.match(text or "")
    if not match or (match["int"] is None and not match["frac"]):
        raise InvalidAmount(f"“{text}” is not an amount in dollars and cents, e.g. 125.40.")
    whole = int((match["int"] or "0").replace(",", ""))
    frac = (match["frac"] or "").ljust(2, "0")
    cents = whole * 100 + int(frac or 0)
    return -cents if match["sign"] == "-" else cents


def format_cents(cents: int, *, sign: bool = True) -> str:
    """12345 -> "$123.45"; -500 -> "-$5.00" (credit shown with a minus)."""
    cents = int(cents)
    text = f"${abs(cents) // 100:,}.{abs(cents) % 100:02d}"
    return f"-{text}" if cents < 0 and sign else text


def decimal_from_text(text: str) -> Decimal:
    """A stored price string to Decimal, refusing NaN and infinities."""
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise InvalidAmount(f"“{text}” is not a number.") from exc
    if not value.is_finite():
        raise InvalidAmount(f"“{text}” is not a finite number.")
    return value
