"""Money policies as pure functions: the late fee, when a hand charge falls due, and which
limit an operation is measured against. No Django here, so they are cheap to test."""

from __future__ import annotations

from datetime import date, timedelta

#: Charges posted by hand (debit adjustments, fees) fall due this many days after their
#: effective date: the same grace a bill gives, so a fee is never past due the day it posts.
CHARGE_DUE_DAYS = 21

#: Which role limit (``ohm.core.permissions.limit_cents``) each request kind is measured by.
LIMIT_KIND = {
    "adjustment": "adjust",
    "transfer": "adjust",
    "write_off": "write_off",
    "write_off_reversal": "write_off",
}


def charge_due_date(effective_date: date) -> date:
    return effective_date + timedelta(days=CHARGE_DUE_DAYS)


def late_fee_cents(
    *,
    past_due_cents: int,
    rate_basis_points: int,
    minimum_past_due_cents: int,
    floor_cents: int,
    cap_cents: int | None,
) -> int:
    """The late fee on ``past_due_cents``: 0 below the minimum, else the rate's share rounded
    half up to the cent, raised to the floor and held to the cap."""
    if past_due_cents <= 0 or past_due_cents < minimum_past_due_cents:
        return 0
    # Integer arithmetic: basis points of cents, half up, without a Decimal round trip.
    fee = (past_due_cents * rate_basis_points + 5_000) // 10_000
    fee = max(fee, floor_cents)
    if cap_cents is not None:
        fee = min(fee, cap_cents)
    return max(fee, 0)
