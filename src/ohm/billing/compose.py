"""Putting a bill together from rated lines: GL roles, the journal lines, the account summary
and the exception checks. Pure; imports no Django.

Cents everywhere; the rating engine has already rounded each line once (``ohm.core.money``
rule), and a bill's new charges are the sum of its lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol

#: Where each component of a bill line goes in the books (roles of ``ohm/ledger/chart.py``).
#: A discount is contra-revenue; surcharges and taxes are collected for others (payable).
GL_ROLE_BY_COMPONENT = {
    "fixed": "revenue_customer_charge",
    "customer_charge": "revenue_customer_charge",
    "energy": "revenue_energy",
    "adjustment": "revenue_energy",
    "net_metering": "revenue_energy",
    "demand_flat": "revenue_demand",
    "demand_tou": "revenue_demand",
    "minimum": "revenue_minimum",
    "discount": "revenue_other",
    "surcharge": "tax_state_surcharge",
    "tax": "tax_uut",
}
RECEIVABLES = "receivables"
#: Components whose lines are credits by nature: a negative amount there is no exception.
CREDIT_COMPONENTS = frozenset({"discount", "net_metering"})
PERCENTS = frozenset({"tax", "surcharge"})
#: A bill is "estimated" when at least this share of its energy was estimated by VEE.
ESTIMATED_BILL_SHARE = 0.05


def gl_role(component: str) -> str:
    return GL_ROLE_BY_COMPONENT.get(component, "revenue_other")


@dataclass(frozen=True)
class Line:
    """One bill line as stored: Decimal quantity and price as given by the rating engine."""

    component: str
    description: str
    quantity: Decimal
    unit: str
    price: Decimal
    amount_cents: int
    clause: str

    @property
    def gl_role(self) -> str:
        return gl_role(self.component)


class Priced(Protocol):
    """A bill line as the checks and the journal see it: the rating engine's lines, stored
    lines and ``Line`` all are."""

    @property
    def component(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def amount_cents(self) -> int: ...


@dataclass(frozen=True)
class SegmentFacts:
    """What the checks need to know about one agreement's part of the bill."""

    agreement_id: int
    days: int
    usage_wh: int
    estimated_share: float
    missing_share: float
    rated: bool  # False when no rate version covered the period
    premise_active: bool = True
    lines: tuple[Priced, ...] = ()


@dataclass(frozen=True)
class History:
    """The account's recent issued bills: Wh and days over the last 12 months, and how many
    estimated bills in a row it has had (up to the latest)."""

    usage_wh: int = 0
    days: int = 0
    estimated_streak: int = 0

    @property
    def wh_per_day(self) -> float | None:
        return self.usage_wh / self.days if self.days else None


@dataclass(frozen=True)
class Rules:
    """Active exception rules and their thresholds (``BillExceptionRule``)."""

    thresholds: Mapping[str, Decimal | None] = field(default_factory=dict)

    def on(self, code: str) -> bool:
        return code in self.thresholds

    def threshold(self, code: str, default: str) -> Decimal:
        value = self.thresholds.get(code)
        return value if value is not None else Decimal(default)


@dataclass(frozen=True)
class Exception_:
    code: str
    message: str


def check_bill(
    *, segments: Sequence[SegmentFacts], history: History, is_estimated: bool, rules: Rules
) -> list[Exception_]:
    """Every active rule the bill breaks, in a billing analyst's words."""
    found: list[Exception_] = []
    usage = sum(s.usage_wh for s in segments)
    days = sum(s.days for s in segments)
    lines = [line for s in segments for line in s.lines]
    if rules.on("missing_rate"):
        for s in segments:
            if not s.rated:
                found.append(
                    Exception_(
                        "missing_rate",
                        f"Agreement {s.agreement_id}: no approved rate version covers the period.",
                    )
                )
    if rules.on("missing_reads"):
        limit = float(rules.threshold("missing_reads", "0.1"))
        for s in segments:
            if s.missing_share > limit:
                found.append(
                    Exception_(
                        "missing_reads",
                        f"Agreement {s.agreement_id}: {s.missing_share:.0%} of the period's "
                        f"intervals have no reading (limit {limit:.0%}).",
                    )
                )
    average = history.wh_per_day
    per_day = usage / days if days else 0.0
    reads_missing = any(s.missing_share > 0.5 for s in segments)  # usage unknown, not zero
    if (
        rules.on("zero_usage")
        and usage == 0
        and not reads_missing
        and any(s.premise_active for s in segments)
    ):
        found.append(Exception_("zero_usage", "No usage in the period at an active premise."))
    if average and usage > 0:
        high = rules.threshold("high_usage", "3")
        low = rules.threshold("low_usage", "0.2")
        if rules.on("high_usage") and per_day > float(high) * average:
            found.append(
                Exception_(
                    "high_usage",
                    f"{per_day / 1000:.1f} kWh/day is {per_day / average:.1f}× the 12-month "
                    f"average of {average / 1000:.1f} kWh/day (limit {high}×).",
                )
            )
        if rules.on("low_usage") and per_day < float(low) * average:
            found.append(
                Exception_(
                    "low_usage",
                    f"{per_day / 1000:.1f} kWh/day is {per_day / average:.2f}× the 12-month "
                    f"average of {average / 1000:.1f} kWh/day (limit {low}×).",
                )
            )
    if rules.on("estimated_streak") and is_estimated:
        limit_n = int(rules.threshold("estimated_streak", "3"))
        streak = history.estimated_streak + 1
        if streak >= limit_n:
            found.append(
                Exception_(
                    "estimated_streak",
                    f"Estimated {streak} bills in a row (limit {limit_n}): get an actual read.",
                )
            )
    if rules.on("negative_line"):
        # A tax or surcharge on a net credit (net metering) is a credit too.
        credit_base = sum(line.amount_cents for line in lines if line.component not in PERCENTS) < 0
        for line in lines:
            allowed = CREDIT_COMPONENTS | (PERCENTS if credit_base else frozenset())
            if line.amount_cents < 0 and line.component not in allowed:
                found.append(
                    Exception_(
                        "negative_line",
                        f"“{line.description}” is {line.amount_cents / 100:.2f}, below zero.",
                    )
                )
    if rules.on("implausible_total"):
        limit_cents = int(rules.threshold("implausible_total", "5000") * 100)
        total = sum(line.amount_cents for line in lines)
        if total > limit_cents:
            found.append(
                Exception_(
                    "implausible_total",
                    f"New charges of ${total / 100:,.2f} exceed ${limit_cents / 100:,.2f}.",
                )
            )
    return found


@dataclass(frozen=True)
class EntryLine:
    role: str
    amount_cents: int  # debit positive, credit negative
    agreement_id: int | None = None


def journal_lines(segment_lines: Mapping[int, Sequence[Priced]]) -> list[EntryLine]:
    """The bill's entry: one receivable debit per agreement (its charges), and a credit per
    GL role (summed over the bill). Lines sum to zero; zero lines are left out."""
    return journal_lines_of_totals(
        {agreement_id: gl_totals(lines) for agreement_id, lines in segment_lines.items()}
    )


def gl_totals(lines: Sequence[Priced]) -> tuple[int, dict[str, int]]:
    """An agreement's lines as (charges, credit per GL role — negative cents)."""
    charges = 0
    credits: dict[str, int] = {}
    for line in lines:
        role = gl_role(line.component)
        charges += line.amount_cents
        credits[role] = credits.get(role, 0) - line.amount_cents
    return charges, credits


def journal_lines_of_totals(
    totals: Mapping[int, tuple[int, Mapping[str, int]]],
) -> list[EntryLine]:
    """``journal_lines`` from each agreement's ``gl_totals``."""
    out: list[EntryLine] = []
    by_role: dict[str, int] = {}
    for agreement_id, (charges, credits) in totals.items():
        if charges:
            out.append(EntryLine(RECEIVABLES, charges, agreement_id))
        for role, cents in credits.items():
            by_role[role] = by_role.get(role, 0) + cents
    out.extend(EntryLine(role, cents) for role, cents in sorted(by_role.items()) if cents)
    assert sum(line.amount_cents for line in out) == 0
    return out


@dataclass(frozen=True)
class Summary:
    previous_balance_cents: int
    payments_cents: int
    adjustments_cents: int
    new_charges_cents: int

    @property
    def total_due_cents(self) -> int:
        return (
            self.previous_balance_cents
            + self.payments_cents
            + self.adjustments_cents
            + self.new_charges_cents
        )


PAYMENT_KINDS = frozenset(
    {"payment", "payment_applied", "payment_reversal", "returned_payment", "payment_transfer"}
)


def summarize(
    *,
    opening_cents: int,
    activity: Sequence[tuple[str, int]],
    new_charges_cents: int,
) -> Summary:
    """The account summary: the balance after the last bill, then what happened since by
    kind (payments, everything else as adjustments), then this bill's charges."""
    payments = sum(cents for kind, cents in activity if kind in PAYMENT_KINDS)
    adjustments = sum(cents for kind, cents in activity if kind not in PAYMENT_KINDS)
    return Summary(opening_cents, payments, adjustments, new_charges_cents)


def first_and_final(
    *, start_date: date, agreement_start: date, end_date: date, agreement_end: date | None
) -> tuple[bool, bool]:
    """A first bill starts on the service start; a final bill ends on the service stop."""
    return start_date == agreement_start, agreement_end is not None and end_date >= agreement_end
