"""Reads of rate schedules and versions: which prices apply on a date or over a bill period,
who may be on a schedule, and a version as a URDB record.

Only approved versions price service. The version in force on a local date is the approved
version with the latest ``effective_date`` on or before it; it stays in force until the next
approved version's effective date (exclusive).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
from django.db.models import QuerySet

from ohm.rates import calc
from ohm.rates import tariff as tariffs
from ohm.rates.models import RateSchedule, RateVersion


class ScheduleNotFound(LookupError):
    pass


class NoVersionInEffect(LookupError):
    """The schedule has no approved version on or before the date asked about."""

    def __init__(self, schedule: RateSchedule, on_date: date):
        self.schedule, self.on_date = schedule, on_date
        super().__init__(f"{schedule.code} has no approved version in effect on {on_date}.")


@dataclass(frozen=True)
class VersionSegment:
    """The days ``[start_date, end_date)`` of a period that ``version`` prices."""

    version: RateVersion
    start_date: date
    end_date: date

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days


def list_schedules(*, active_only: bool = False) -> QuerySet[RateSchedule]:
    schedules = RateSchedule.objects.all()
    return schedules.filter(is_active=True) if active_only else schedules


def get_schedule(*, code: str) -> RateSchedule:
    schedule = RateSchedule.objects.filter(code__iexact=code.strip()).first()
    if schedule is None:
        raise ScheduleNotFound(f"No rate schedule {code}.")
    return schedule


def list_versions(*, schedule: RateSchedule) -> QuerySet[RateVersion]:
    """Every version of a schedule, latest effective date first (drafts included)."""
    return RateVersion.objects.filter(schedule=schedule).order_by("-effective_date", "-number")


def get_version(*, schedule: RateSchedule, number: int) -> RateVersion:
    return RateVersion.objects.select_related("schedule").get(schedule=schedule, number=number)


def _approved(schedule_ids: Iterable[int]) -> QuerySet[RateVersion]:
    return RateVersion.objects.filter(
        schedule_id__in=list(schedule_ids), status=RateVersion.Status.APPROVED
    )


def list_approved_versions(*, schedule: RateSchedule) -> list[RateVersion]:
    """The versions that price service, earliest effective date first."""
    return list(_approved([schedule.pk]).order_by("effective_date").select_related("schedule"))


def get_version_in_effect(*, schedule: RateSchedule, on_date: date) -> RateVersion:
    """The approved version pricing ``schedule`` on the local date ``on_date``.

    :raises NoVersionInEffect: before the first approved version.
    """
    version = (
        _approved([schedule.pk])
        .filter(effective_date__lte=on_date)
        .order_by("-effective_date")
        .select_related("schedule")
        .first()
    )
    if version is None:
        raise NoVersionInEffect(schedule, on_date)
    return version


def list_version_segments(
    *, schedule: RateSchedule, start_date: date, end_date: date
) -> list[VersionSegment]:
    """The approved versions pricing the local days ``[start_date, end_date)``, each with its
    days, in date order: one segment, or more when the rate changed inside the period (what a
    bill prorates by days). The segments cover the period exactly.

    :raises NoVersionInEffect: when no version covers ``start_date``.
    """
    if end_date <= start_date:
        return []
    first = get_version_in_effect(schedule=schedule, on_date=start_date)
    later = list(
        _approved([schedule.pk])
        .filter(effective_date__gt=start_date, effective_date__lt=end_date)
        .order_by("effective_date")
        .select_related("schedule")
    )
    versions = [first, *later]
    bounds = [start_date, *(v.effective_date for v in later), end_date]
    return [
        VersionSegment(version, lo, hi)
        for version, lo, hi in zip(versions, bounds[:-1], bounds[1:], strict=True)
    ]


def tariff_of(version: RateVersion) -> tariffs.Tariff:
    """The version's tariff (its stored document, read by ``ohm.rates.tariff``)."""
    return tariffs.tariff_from_document(version.document)


def export_urdb(version: RateVersion) -> dict:
    """The version as a URDB record (what an OpenEI ``utility_rates`` item looks like)."""
    return tariffs.to_urdb(tariff_of(version))


def urdb_filename(version: RateVersion) -> str:
    code = "".join(c if c.isalnum() or c in "-_" else "_" for c in version.schedule.code)
    return f"{code}_v{version.number}_{version.effective_date.isoformat()}.urdb.json"


# -- eligibility --------------------------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    schedule: RateSchedule
    eligible: bool
    reason: str  # why not, in a CSR's words ("" when eligible)


def check_eligibility(
    schedule: RateSchedule,
    *,
    customer_class: str,
    has_interval_meter: bool,
    programs: frozenset[str] | set[str],
) -> Eligibility:
    """Whether a service of ``customer_class`` with (or without) an interval meter and the
    given program codes (``RateSchedule.Program``) may be on ``schedule``."""
    if not schedule.is_active:
        return Eligibility(schedule, False, "Closed to new customers.")
    if schedule.customer_class != customer_class:
        return Eligibility(
            schedule, False, f"For {schedule.get_customer_class_display().lower()} service."
        )
    if schedule.requires_interval_meter and not has_interval_meter:
        return Eligibility(schedule, False, "Needs an interval (AMI) meter.")
    if schedule.required_program and schedule.required_program not in programs:
        return Eligibility(
            schedule, False, f"Needs: {schedule.get_required_program_display().lower()}."
        )
    return Eligibility(schedule, True, "")


def list_eligible_schedules(
    *, customer_class: str, has_interval_meter: bool, programs: frozenset[str] | set[str]
) -> list[RateSchedule]:
    return [
        schedule
        for schedule in list_schedules(active_only=True).filter(customer_class=customer_class)
        if check_eligibility(
            schedule,
            customer_class=customer_class,
            has_interval_meter=has_interval_meter,
            programs=programs,
        ).eligible
    ]


# -- preview bill -------------------------------------------------------------------------

#: Hours that count as "peak" in a sample profile (4–9 pm, the demo utility's peak).
SAMPLE_PEAK_HOURS = range(16, 21)


@dataclass(frozen=True)
class SampleUsage:
    """What an analyst types to preview a bill: a month's kWh, the share of it used 4–9 pm,
    the month's peak kW, and who the customer is (baseline territory, heat source, medical
    baseline, discount programs)."""

    month: date  # any day of the month; the bill period is the whole calendar month
    kwh: Decimal
    peak_share: Decimal = Decimal("0.25")  # 0…1
    peak_kw: Decimal | None = None
    exported_kwh: Decimal = Decimal(0)
    territory: str | None = None
    heat_source: str | None = None
    medical: bool = False
    programs: frozenset[str] = frozenset()


def month_bounds(day: date) -> tuple[date, date]:
    start = day.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1)


def sample_intervals(sample: SampleUsage, *, zone) -> calc.IntervalUsage:
    """An hourly profile of the sample month: ``peak_share`` of the kWh spread evenly over
    the 4–9 pm hours of every local day, the rest over the other hours; one weekday 5 pm hour
    set to ``peak_kw`` (when given, and higher than the profile's own) for demand charges.
    Exported energy, if any, is spread over 10 am–3 pm. Counted to the Wh."""
    start, end = month_bounds(sample.month)
    start_at = datetime.combine(start, time.min, tzinfo=zone).astimezone(UTC)
    end_at = datetime.combine(end, time.min, tzinfo=zone).astimezone(UTC)
    hours = int((end_at - start_at).total_seconds() // 3600)
    starts = np.datetime64(start_at.replace(tzinfo=None), "m") + np.arange(hours) * np.timedelta64(
        60, "m"
    )
    local_hour = np.array(
        [(start_at + timedelta(hours=h)).astimezone(zone).hour for h in range(hours)]
    )
    peak = np.isin(local_hour, list(SAMPLE_PEAK_HOURS))
    total_wh = int((sample.kwh * 1000).to_integral_value())
    peak_wh = int((sample.kwh * 1000 * sample.peak_share).to_integral_value())
    delivered = np.zeros(hours, dtype=np.int64)
    delivered[peak] = _spread(peak_wh, int(peak.sum()))
    delivered[~peak] = _spread(total_wh - peak_wh, int((~peak).sum()))
    demand = delivered.copy()
    if sample.peak_kw is not None:
        watts = int((sample.peak_kw * 1000).to_integral_value())
        at = int(np.argmax(peak & (local_hour == 17))) if peak.any() else 0
        demand[at] = max(int(demand.max()), watts)
    received = None
    if sample.exported_kwh:
        sunny = (local_hour >= 10) & (local_hour < 15)
        exported = np.zeros(hours, dtype=np.int64)
        exported[sunny] = _spread(
            int((sample.exported_kwh * 1000).to_integral_value()), int(sunny.sum())
        )
        received = exported.reshape(1, -1)
    return calc.IntervalUsage(
        starts=starts,
        interval_minutes=60,
        delivered_wh=delivered.reshape(1, -1),
        received_wh=received,
        demand_w=demand.reshape(1, -1),
    )


def _spread(total_wh: int, count: int) -> np.ndarray:
    """``total_wh`` over ``count`` intervals as evenly as whole Wh allow (sums exactly)."""
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    share, extra = divmod(total_wh, count)
    out = np.full(count, share, dtype=np.int64)
    out[:extra] += 1
    return out


def preview_bill(version: RateVersion, sample: SampleUsage, *, zone) -> calc.Bill:
    """The bill ``version`` would give the sample month on its own (drafts too: this is how
    an analyst checks a draft before asking for approval).

    :raises tariffs.TariffError: for a document the engine cannot rate.
    :raises calc.RatingError: for a sample the tariff cannot rate (e.g. no baseline
        allowance for the territory)."""
    start, end = month_bounds(sample.month)
    tariff = tariff_of(version)
    rated = calc.rate_bills(
        versions=[calc.VersionSpan(tariff, start, end, f"v{version.number}")],
        start_date=start,
        end_date=end,
        usage=sample_intervals(sample, zone=zone),
        zone=zone,
        terms=[
            calc.AgreementTerms(
                baseline_territory=sample.territory,
                heat_source=sample.heat_source,
                medical=sample.medical,
                programs=sample.programs,
            )
        ],
    )
    return rated.bill(0)
