"""How credits apply to open charges, and the aging that follows. Pure: no Django.

Rule: a customer's credits (payments, credit adjustments, reversals of charges) apply to
open receivable debits in this order — regular charges, then arrangement installments,
then deposit charges — and within each, oldest due date first. Applying the total of
credits is the same as applying them one by one, so the open items at any date follow from
the lines alone; nothing about application is stored.

Buckets count days since the charge's effective (bill) date: current 0–30, 31–60, 61–90,
91–120, over 120. Past due is the open amount whose due date is before the as-of date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

CATEGORY_ORDER = {"charge": 0, "arrangement": 1, "deposit": 2}
BUCKETS = ("current", "31_60", "61_90", "91_120", "over_120")
BUCKET_LABELS = {
    "current": "Current",
    "31_60": "31–60",
    "61_90": "61–90",
    "91_120": "91–120",
    "over_120": "Over 120",
}


@dataclass(frozen=True)
class ReceivableLine:
    """A receivable line of one customer: ``amount_cents`` > 0 a charge, < 0 a credit."""

    line_id: int
    amount_cents: int
    effective_date: date
    due_date: date | None
    category: str = "charge"


@dataclass(frozen=True)
class OpenItem:
    line_id: int
    effective_date: date
    due_date: date
    category: str
    original_cents: int
    open_cents: int


@dataclass
class Aging:
    as_of: date
    balance_cents: int = 0
    past_due_cents: int = 0
    credit_cents: int = 0  # unapplied credit (positive number) when credits exceed charges
    buckets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))
    open_items: list[OpenItem] = field(default_factory=list)

    @property
    def current_cents(self) -> int:
        """Owed but not yet past due."""
        return max(self.balance_cents, 0) - self.past_due_cents


def bucket_for(*, charged: date, as_of: date) -> str:
    days = (as_of - charged).days
    if days <= 30:
        return "current"
    if days <= 60:
        return "31_60"
    if days <= 90:
        return "61_90"
    if days <= 120:
        return "91_120"
    return "over_120"


def age(lines: Iterable[ReceivableLine], *, as_of: date) -> Aging:
    """Open items and aging of one customer's receivable lines with effective date <= as_of."""
    charges: list[ReceivableLine] = []
    credit_total = 0
    for line in lines:
        if line.effective_date > as_of:
            continue
        if line.amount_cents > 0:
            charges.append(line)
        else:
            credit_total += -line.amount_cents
    charges.sort(
        key=lambda c: (
            CATEGORY_ORDER.get(c.category, 0),
            c.due_date or c.effective_date,
            c.effective_date,
            c.line_id,
        )
    )
    result = Aging(as_of=as_of)
    result.balance_cents = sum(c.amount_cents for c in charges) - credit_total
    remaining_credit = credit_total
    for charge in charges:
        applied = min(charge.amount_cents, remaining_credit)
        remaining_credit -= applied
        open_cents = charge.amount_cents - applied
        if open_cents == 0:
            continue
        due = charge.due_date or charge.effective_date
        result.open_items.append(
            OpenItem(
                charge.line_id,
                charge.effective_date,
                due,
                charge.category,
                charge.amount_cents,
                open_cents,
            )
        )
        result.buckets[bucket_for(charged=charge.effective_date, as_of=as_of)] += open_cents
        if due < as_of:
            result.past_due_cents += open_cents
    result.credit_cents = remaining_credit
    return result
