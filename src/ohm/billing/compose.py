"""Putting a bill together from rated lines: GL roles, the journal lines, the account summary
and the exception checks. Pure; imports no Django.

Cents everywhere; the rating engine has already rounded each line once (``ohm.core.money``
rule), and a bill's new charges are the sum of its lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol

import numpy as np

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


@dataclass(frozen=True, slots=True)
class SegmentFacts:
    """What the checks need to know about one agreement's part of the bill: its usage and,
    of its lines, their sum, the sum of those not a percentage of the others (taxes,
    surcharges), and the lines below zero (``line_facts``)."""

    agreement_id: int
    days: int
    usage_wh: int
    estimated_share: float
    missing_share: float
    rated: bool  # False when no rate version covered the period
    premise_active: bool = True
    charges_cents: int = 0
    base_cents: int = 0  # the lines that are not taxes or surcharges
    negative_lines: tuple[Priced, ...] = ()


def line_facts(lines: Sequence[Priced]) -> dict:
    """``SegmentFacts``' figures of a segment's lines: charges, base and negative lines."""
    return {
        "charges_cents": sum(line.amount_cents for line in lines),
        "base_cents": sum(line.amount_cents for line in lines if line.component not in PERCENTS),
        "negative_lines": tuple(line for line in lines if line.amount_cents < 0),
    }


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


@dataclass(frozen=True)
class SegmentColumns:
    """The segments of *n* bills as columns, for checking a whole chunk at once: segment *j*
    belongs to bill ``bill[j]`` (0 … n-1), and a bill's segments are in order."""

    bill: np.ndarray  # int [m]
    agreement_id: list[int]
    days: np.ndarray  # int [m]
    usage_wh: np.ndarray  # int [m]
    estimated_share: np.ndarray  # float [m]
    missing_share: np.ndarray  # float [m]
    rated: np.ndarray  # bool [m]
    premise_active: np.ndarray  # bool [m]
    charges_cents: np.ndarray  # int [m]
    base_cents: np.ndarray  # int [m]
    negative_lines: list[tuple[Priced, ...]]

    @classmethod
    def of(cls, segments: Sequence[SegmentFacts], bill: Sequence[int]) -> SegmentColumns:
        def column(name: str, dtype) -> np.ndarray:
            return np.array([getattr(s, name) for s in segments], dtype=dtype)

        return cls(
            bill=np.asarray(bill, dtype=np.int64),
            agreement_id=[s.agreement_id for s in segments],
            days=column("days", np.int64),
            usage_wh=column("usage_wh", np.int64),
            estimated_share=column("estimated_share", np.float64),
            missing_share=column("missing_share", np.float64),
            rated=column("rated", bool),
            premise_active=column("premise_active", bool),
            charges_cents=column("charges_cents", np.int64),
            base_cents=column("base_cents", np.int64),
            negative_lines=[s.negative_lines for s in segments],
        )


@dataclass(frozen=True)
class HistoryColumns:
    """``History`` of *n* bills' accounts as columns."""

    usage_wh: np.ndarray  # int [n]
    days: np.ndarray  # int [n]
    estimated_streak: np.ndarray  # int [n]

    @classmethod
    def of(cls, histories: Sequence[History]) -> HistoryColumns:
        return cls(
            np.array([h.usage_wh for h in histories], dtype=np.int64),
            np.array([h.days for h in histories], dtype=np.int64),
            np.array([h.estimated_streak for h in histories], dtype=np.int64),
        )


def check_bill(
    *, segments: Sequence[SegmentFacts], history: History, is_estimated: bool, rules: Rules
) -> list[Exception_]:
    """Every active rule the bill breaks, in a billing analyst's words (``check_bills`` for
    one bill)."""
    return check_bills(
        SegmentColumns.of(segments, [0] * len(segments)),
        HistoryColumns.of([history]),
        np.array([is_estimated]),
        rules,
    )[0]


def _per_bill(bill: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Each bill's sum of its segments' ``values`` (same dtype; in segment order)."""
    out = np.zeros(n, dtype=values.dtype)
    np.add.at(out, bill, values)
    return out


def sum_of_bill(segments: SegmentColumns, values, n: int) -> np.ndarray:
    """Each of the *n* bills' sum of a value of its segments."""
    return _per_bill(segments.bill, np.asarray(values), n)


def any_of_bill(segments: SegmentColumns, flags, n: int) -> np.ndarray:
    """Whether any of each bill's segments has ``flags`` set."""
    return _per_bill(segments.bill, np.asarray(flags, dtype=bool), n)


def estimated_bills(segments: SegmentColumns, n: int) -> np.ndarray:
    """Which of the *n* bills are estimated: VEE estimated at least
    ``ESTIMATED_BILL_SHARE`` of their energy."""
    usage = _per_bill(segments.bill, segments.usage_wh, n)
    estimated_wh = _per_bill(segments.bill, segments.usage_wh * segments.estimated_share, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = estimated_wh / np.where(usage != 0, usage, 1)
    return (usage != 0) & (share >= ESTIMATED_BILL_SHARE)


def check_bills(
    segments: SegmentColumns, history: HistoryColumns, is_estimated: np.ndarray, rules: Rules
) -> list[list[Exception_]]:
    """Every active rule each of *n* bills breaks, in a billing analyst's words: the rules
    evaluated as column operations over the bills, the words made for the bills that break
    one. A bill's exceptions come in rule order, then segment and line order."""
    n = len(history.usage_wh)
    found: list[list[Exception_]] = [[] for _ in range(n)]
    bill = segments.bill
    if rules.on("missing_rate"):
        for j in np.flatnonzero(~segments.rated).tolist():
            found[bill[j]].append(
                Exception_(
                    "missing_rate",
                    f"Agreement {segments.agreement_id[j]}: no approved rate version covers "
                    "the period.",
                )
            )
    if rules.on("missing_reads"):
        limit = float(rules.threshold("missing_reads", "0.1"))
        for j in np.flatnonzero(segments.missing_share > limit).tolist():
            share = float(segments.missing_share[j])
            found[bill[j]].append(
                Exception_(
                    "missing_reads",
                    f"Agreement {segments.agreement_id[j]}: {share:.0%} of the period's "
                    f"intervals have no reading (limit {limit:.0%}).",
                )
            )
    usage = _per_bill(bill, segments.usage_wh, n)
    days = _per_bill(bill, segments.days, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_day = np.where(days != 0, usage / np.where(days != 0, days, 1), 0.0)
        has_average = history.days != 0
        average = np.where(
            has_average, history.usage_wh / np.where(has_average, history.days, 1), 0.0
        )
    reads_missing = _per_bill(bill, segments.missing_share > 0.5, n)  # usage unknown, not zero
    active = _per_bill(bill, segments.premise_active, n)
    if rules.on("zero_usage"):
        for i in np.flatnonzero((usage == 0) & ~reads_missing & active).tolist():
            found[i].append(
                Exception_("zero_usage", "No usage in the period at an active premise.")
            )
    compared = (average != 0) & (usage > 0)
    if rules.on("high_usage"):
        high = rules.threshold("high_usage", "3")
        for i in np.flatnonzero(compared & (per_day > float(high) * average)).tolist():
            mine, past = float(per_day[i]), float(average[i])
            found[i].append(
                Exception_(
                    "high_usage",
                    f"{mine / 1000:.1f} kWh/day is {mine / past:.1f}× the 12-month "
                    f"average of {past / 1000:.1f} kWh/day (limit {high}×).",
                )
            )
    if rules.on("low_usage"):
        low = rules.threshold("low_usage", "0.2")
        for i in np.flatnonzero(compared & (per_day < float(low) * average)).tolist():
            mine, past = float(per_day[i]), float(average[i])
            found[i].append(
                Exception_(
                    "low_usage",
                    f"{mine / 1000:.1f} kWh/day is {mine / past:.2f}× the 12-month "
                    f"average of {past / 1000:.1f} kWh/day (limit {low}×).",
                )
            )
    if rules.on("estimated_streak"):
        limit_n = int(rules.threshold("estimated_streak", "3"))
        streak = history.estimated_streak + 1
        for i in np.flatnonzero(is_estimated & (streak >= limit_n)).tolist():
            found[i].append(
                Exception_(
                    "estimated_streak",
                    f"Estimated {int(streak[i])} bills in a row (limit {limit_n}): get an "
                    "actual read.",
                )
            )
    if rules.on("negative_line"):
        # A tax or surcharge on a net credit (net metering) is a credit too.
        credit_base = _per_bill(bill, segments.base_cents, n) < 0
        for j, lines in enumerate(segments.negative_lines):
            if not lines:
                continue
            i = bill[j]
            allowed = CREDIT_COMPONENTS | (PERCENTS if credit_base[i] else frozenset())
            for line in lines:
                if line.amount_cents < 0 and line.component not in allowed:
                    found[i].append(
                        Exception_(
                            "negative_line",
                            f"“{line.description}” is {line.amount_cents / 100:.2f}, below zero.",
                        )
                    )
    if rules.on("implausible_total"):
        limit_cents = int(rules.threshold("implausible_total", "5000") * 100)
        total = _per_bill(bill, segments.charges_cents, n)
        for i in np.flatnonzero(total > limit_cents).tolist():
            found[i].append(
                Exception_(
                    "implausible_total",
                    f"New charges of ${int(total[i]) / 100:,.2f} exceed ${limit_cents / 100:,.2f}.",
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


@dataclass(frozen=True, slots=True)
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
    activity: Iterable[tuple[str, int]],
    new_charges_cents: int,
) -> Summary:
    """The account summary: the balance after the last bill, then what happened since by
    kind (payments, everything else as adjustments), then this bill's charges."""
    payments = adjustments = 0
    for kind, cents in activity:
        if kind in PAYMENT_KINDS:
            payments += cents
        else:
            adjustments += cents
    return Summary(opening_cents, payments, adjustments, new_charges_cents)


def first_and_final(
    *, start_date: date, agreement_start: date, end_date: date, agreement_end: date | None
) -> tuple[bool, bool]:
    """A first bill starts on the service start; a final bill ends on the service stop."""
    return start_date == agreement_start, agreement_end is not None and end_date >= agreement_end
