"""Reads of bills: an account's bills, held bills, a cycle's calendar, and the facts that
explain a bill."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from django.db.models import Count, QuerySet

from ohm.billing import calendar
from ohm.billing.determinants import Want, load_determinants
from ohm.billing.explain import BillFacts, Explanation, explain
from ohm.billing.models import Bill, BillCycle
from ohm.core.localtime import utility_zone
from ohm.metering.usage import local_times

ENERGY = ("energy", "adjustment", "net_metering")
FIXED = ("fixed", "customer_charge", "minimum")
DEMAND = ("demand_flat", "demand_tou")


class BillNotFound(LookupError):
    pass


def get_bill(*, number: str) -> Bill:
    bill = (
        Bill.objects.select_related("account", "replaces", "run")
        .filter(number=number.strip().upper())
        .first()
    )
    if bill is None:
        raise BillNotFound(f"No bill {number}.")
    return bill


def list_bills(*, account_id: int) -> QuerySet[Bill]:
    return Bill.objects.filter(account_id=account_id).order_by("-end_date", "-id")


def list_held_bills(*, cycle: int | None = None) -> QuerySet[Bill]:
    bills = Bill.objects.filter(status=Bill.Status.HELD).select_related("account")
    if cycle:
        bills = bills.filter(cycle=cycle)
    return bills.order_by("bill_date", "id")


@dataclass(frozen=True)
class CycleRow:
    cycle: BillCycle
    dates: calendar.CycleDates
    next_dates: calendar.CycleDates
    accounts: int
    held: int


def list_cycle_calendar(*, as_of: date) -> list[CycleRow]:
    """Each active cycle's latest read by ``as_of`` and the next one, with its account and
    held-bill counts."""
    from ohm.customers.models import Account

    accounts = dict(
        Account.objects.exclude(status=Account.Status.CLOSED)
        .values("bill_cycle")
        .annotate(n=Count("id"))
        .values_list("bill_cycle", "n")
    )
    held = dict(
        Bill.objects.filter(status=Bill.Status.HELD)
        .values("cycle")
        .annotate(n=Count("id"))
        .values_list("cycle", "n")
    )
    rows = []
    for cycle in BillCycle.objects.filter(is_active=True):
        latest = calendar.latest_dates(cycle.rule, as_of=as_of)
        following = calendar.latest_dates(cycle.rule, as_of=as_of + timedelta(days=40))
        if following.read_date <= latest.read_date:
            following = latest
        rows.append(
            CycleRow(
                cycle, latest, following, accounts.get(cycle.number, 0), held.get(cycle.number, 0)
            )
        )
    return rows


def facts(bill: Bill) -> BillFacts:
    stored = bill.line_list()
    lines = [(line.component, line.amount_cents, line.clause) for line in stored]
    segments = list(bill.segments.values_list("usage_wh", "rate_code", "rate_versions"))

    def total(components) -> int:
        return sum(cents for component, cents, _ in lines if component in components)

    tiers: dict[int, int] = {}
    for clause, quantity in (
        (line.clause, line.quantity) for line in stored if line.component == "energy"
    ):
        tier = int(clause.rsplit("tier", 1)[1].split()[0]) if "tier" in clause else 1
        tiers[tier] = tiers.get(tier, 0) + int(Decimal(quantity or "0") * 1000)
    labels = tuple(
        f"{code} v{version['number']}" for _, code, versions in segments for version in versions
    )
    return BillFacts(
        number=bill.number,
        start_date=bill.start_date,
        end_date=bill.end_date,
        usage_wh=sum(wh for wh, _, _ in segments),
        energy_cents=total(ENERGY),
        fixed_cents=total(FIXED),
        demand_cents=total(DEMAND),
        other_cents=sum(c for comp, c, _ in lines if comp not in ENERGY + FIXED + DEMAND),
        total_cents=bill.new_charges_cents,
        estimated=bill.is_estimated,
        rate_labels=labels,
        tier_wh=tuple(tiers[k] for k in sorted(tiers)),
        has_discount=any(comp == "discount" for comp, _, _ in lines),
    )


def _previous(bill: Bill) -> Bill | None:
    return (
        Bill.objects.filter(
            account_id=bill.account_id, status=Bill.Status.ISSUED, end_date__lte=bill.start_date
        )
        .order_by("-end_date", "-id")
        .first()
    )


def _last_year(bill: Bill) -> Bill | None:
    target = bill.end_date - timedelta(days=365)
    return (
        Bill.objects.filter(
            account_id=bill.account_id,
            status=Bill.Status.ISSUED,
            end_date__gte=target - timedelta(days=15),
            end_date__lte=target + timedelta(days=15),
        )
        .order_by("end_date")
        .first()
    )


@dataclass(frozen=True)
class Profile:
    daily: list[tuple[date, Decimal]]
    hourly: list[Decimal]  # average kWh by local hour of day (24)


def usage_profile(bill: Bill) -> Profile:
    """kWh by local day of the bill's period and its average day's kWh by local hour."""
    wants = [
        Want(agreement_id, service_point_id, start, end)
        for agreement_id, service_point_id, start, end in bill.segments.values_list(
            "agreement_id", "agreement__service_point_id", "start_date", "end_date"
        )
    ]
    loaded = load_determinants(wants)
    days = max(bill.days, 1)
    daily = np.zeros(days)
    hourly = np.zeros(24)
    zone = utility_zone()
    first = np.datetime64(bill.start_date, "D")
    for grid in loaded.grids:
        if not len(grid.starts):
            continue
        local = local_times(grid.starts, zone)
        day_index = (local.astype("datetime64[D]") - first).astype(np.int64)
        hour = (
            (local - local.astype("datetime64[D]")).astype("timedelta64[m]").astype(np.int64)
        ) // 60
        energy = grid.delivered_wh.sum(axis=0) / 1000
        keep = (day_index >= 0) & (day_index < days)
        daily += np.bincount(day_index[keep], weights=energy[keep], minlength=days)[:days]
        hourly += np.bincount(hour, weights=energy, minlength=24)[:24]
    return Profile(
        daily=[
            (bill.start_date + timedelta(days=k), Decimal(f"{daily[k]:.3f}")) for k in range(days)
        ],
        hourly=[Decimal(f"{v / days:.3f}") for v in hourly],
    )


@dataclass(frozen=True)
class BillExplanation:
    explanation: Explanation
    profile: Profile
    previous: Bill | None
    last_year: Bill | None


def explain_bill(bill: Bill) -> BillExplanation:
    previous, last_year = _previous(bill), _last_year(bill)
    profile = usage_profile(bill)
    previous_profile = usage_profile(previous) if previous is not None else None
    return BillExplanation(
        explain(
            facts(bill),
            previous=facts(previous) if previous else None,
            last_year=facts(last_year) if last_year else None,
            daily_kwh=profile.daily,
            hourly_profile=profile.hourly,
            previous_hourly_profile=previous_profile.hourly if previous_profile else (),
        ),
        profile,
        previous,
        last_year,
    )
