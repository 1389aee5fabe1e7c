"""“Why is my bill so high?” — a bill's change against another bill, decomposed. Pure; imports
no Django (``queries.explain_bill`` gathers the facts).

The change in new charges splits exactly (to the cent, the rest named) into:

* days — more or fewer days in the period, at the other bill's usage per day and price;
* usage — more or less energy per day, at the other bill's price;
* price — the average price per kWh moved: a rate change, or usage reaching a higher tier;
* fixed charges — customer charges (prorated first/final bills, a new rate);
* taxes, discounts and other — what follows the lines above, or a program starting/ending.

Identity, with E = kWh and p = energy $/kWh (energy charges / kWh)::

    E₁p₁ − E₀p₀ = (d₁ − d₀)·u₀·p₀ + d₁·(u₁ − u₀)·p₀ + E₁·(p₁ − p₀)     (u = kWh per day)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class BillFacts:
    number: str
    start_date: date
    end_date: date  # exclusive
    usage_wh: int
    energy_cents: int  # energy, adjustment and net-metering lines
    fixed_cents: int  # fixed and customer charges, minimums
    demand_cents: int
    other_cents: int  # taxes, surcharges, discounts
    total_cents: int  # new charges
    estimated: bool = False
    rate_labels: tuple[str, ...] = ()  # e.g. ("E-1 v1",)
    tier_wh: tuple[int, ...] = ()  # energy by tier (1, 2, 3…) across periods
    has_discount: bool = False

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days

    @property
    def kwh(self) -> Decimal:
        return Decimal(self.usage_wh) / 1000

    @property
    def kwh_per_day(self) -> Decimal:
        return self.kwh / self.days if self.days else Decimal(0)

    @property
    def price_per_kwh(self) -> Decimal:
        """Average energy price, dollars per kWh."""
        return Decimal(self.energy_cents) / 100 / self.kwh if self.usage_wh else Decimal(0)


@dataclass(frozen=True)
class Part:
    key: str
    label: str
    cents: int


@dataclass(frozen=True)
class Comparison:
    against: str  # "previous bill" | "same month last year"
    other: BillFacts
    change_cents: int
    parts: list[Part]


@dataclass(frozen=True)
class Driver:
    """A day (or hour) that drove usage, with its kWh."""

    label: str
    kwh: Decimal


@dataclass
class Explanation:
    bill: BillFacts
    comparisons: list[Comparison] = field(default_factory=list)
    points: list[str] = field(default_factory=list)  # plain sentences a CSR can read out
    top_days: list[Driver] = field(default_factory=list)
    top_hours: list[Driver] = field(default_factory=list)


def _cents(dollars: Decimal) -> int:
    return int((dollars * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else "+"
    return f"{sign}${abs(cents) / 100:,.2f}"


def decompose(current: BillFacts, other: BillFacts) -> list[Part]:
    """Parts of ``current.total − other.total``; they sum to it exactly."""
    u0, p0 = other.kwh_per_day, other.price_per_kwh
    if not other.usage_wh:
        p0 = current.price_per_kwh
    days = _cents((current.days - other.days) * u0 * p0)
    usage = _cents(current.days * (current.kwh_per_day - u0) * p0)
    price = (current.energy_cents - other.energy_cents) - days - usage
    parts = [
        Part("days", f"{current.days} days instead of {other.days}", days),
        Part(
            "usage",
            f"{current.kwh_per_day:.1f} kWh a day instead of {u0:.1f}",
            usage,
        ),
        Part(
            "price",
            f"average energy price {current.price_per_kwh * 100:.2f}¢/kWh instead of "
            f"{p0 * 100:.2f}¢",
            price,
        ),
        Part("fixed", "customer and minimum charges", current.fixed_cents - other.fixed_cents),
        Part("demand", "demand charges", current.demand_cents - other.demand_cents),
        Part("other", "taxes, discounts and surcharges", current.other_cents - other.other_cents),
    ]
    assert sum(p.cents for p in parts) == current.total_cents - other.total_cents
    return [p for p in parts if p.cents]


def explain(
    current: BillFacts,
    *,
    previous: BillFacts | None,
    last_year: BillFacts | None,
    daily_kwh: Sequence[tuple[date, Decimal]] = (),
    hourly_profile: Sequence[Decimal] = (),
    previous_hourly_profile: Sequence[Decimal] = (),
) -> Explanation:
    """The plain-language explanation of ``current`` (daily kWh of its period and its average
    kWh by hour of day, with the previous bill's, name the days and hours that drove it)."""
    out = Explanation(current)
    for name, other in (("previous bill", previous), ("same month last year", last_year)):
        if other is not None:
            out.comparisons.append(
                Comparison(
                    name, other, current.total_cents - other.total_cents, decompose(current, other)
                )
            )
    if previous is not None:
        change = current.total_cents - previous.total_cents
        direction = "higher" if change > 0 else "lower"
        if change == 0:
            out.points.append("This bill's new charges are the same as the previous bill's.")
        else:
            out.points.append(
                f"New charges are {_money(change)[1:]} {direction} than the previous bill "
                f"({_money(previous.total_cents)[1:]} → {_money(current.total_cents)[1:]})."
            )
            parts = sorted(decompose(current, previous), key=lambda p: -abs(p.cents))
            reasons = [f"{p.label} ({_money(p.cents)})" for p in parts[:3] if p.cents]
            if reasons:
                out.points.append("Mostly because of: " + "; ".join(reasons) + ".")
        if current.days != previous.days:
            out.points.append(
                f"This period has {current.days} days; the previous one had {previous.days}."
            )
        if previous.kwh_per_day:
            ratio = current.kwh_per_day / previous.kwh_per_day
            if abs(ratio - 1) >= Decimal("0.1"):
                out.points.append(
                    f"Usage was {current.kwh_per_day:.1f} kWh a day, "
                    f"{abs(ratio - 1) * 100:.0f}% {'more' if ratio > 1 else 'less'} than the "
                    f"previous period's {previous.kwh_per_day:.1f}."
                )
        if current.rate_labels != previous.rate_labels:
            out.points.append(
                "Prices changed: "
                + ", ".join(current.rate_labels)
                + " instead of "
                + ", ".join(previous.rate_labels)
                + "."
            )
        upper_now = sum(current.tier_wh[1:])
        upper_before = sum(previous.tier_wh[1:])
        if upper_now > upper_before and current.usage_wh:
            out.points.append(
                f"{Decimal(upper_now) / 1000:.0f} kWh were billed above the first tier "
                f"(previous bill: {Decimal(upper_before) / 1000:.0f} kWh), at higher prices."
            )
        if current.has_discount != previous.has_discount:
            out.points.append(
                "A program discount now applies."
                if current.has_discount
                else "A program discount that applied to the previous bill no longer does."
            )
    if last_year is not None and last_year.kwh_per_day:
        ratio = current.kwh_per_day / last_year.kwh_per_day
        out.points.append(
            f"Compared with the same period last year ({last_year.kwh_per_day:.1f} kWh a day), "
            f"usage is {abs(ratio - 1) * 100:.0f}% {'higher' if ratio >= 1 else 'lower'}."
        )
    if current.estimated:
        out.points.append(
            "This bill is based on estimated reads; it will be trued up after an actual read."
        )
    if previous is not None and previous.estimated and not current.estimated:
        out.points.append(
            "The previous bill was estimated; this one uses actual reads and includes any catch-up."
        )
    if daily_kwh:
        top = sorted(daily_kwh, key=lambda d: -d[1])[:3]
        out.top_days = [Driver(f"{day:%a %b %-d}", kwh) for day, kwh in top]
        average = sum((k for _, k in daily_kwh), Decimal(0)) / len(daily_kwh)
        if top and average and top[0][1] > average * Decimal("1.5"):
            out.points.append(
                "The highest days were "
                + ", ".join(f"{d.label} ({d.kwh:.0f} kWh)" for d in out.top_days)
                + f", against an average of {average:.1f} kWh a day."
            )
    if hourly_profile:
        ranked = sorted(range(len(hourly_profile)), key=lambda h: -hourly_profile[h])[:3]
        out.top_hours = [Driver(f"{h:02d}:00–{h + 1:02d}:00", hourly_profile[h]) for h in ranked]
        if previous_hourly_profile and len(previous_hourly_profile) == len(hourly_profile):
            grew = max(
                range(len(hourly_profile)),
                key=lambda h: hourly_profile[h] - previous_hourly_profile[h],
            )
            delta = hourly_profile[grew] - previous_hourly_profile[grew]
            if delta > Decimal("0.1"):
                out.points.append(
                    f"Usage grew most between {grew:02d}:00 and {grew + 1:02d}:00: "
                    f"{delta:.2f} kWh more on an average day."
                )
    return out
