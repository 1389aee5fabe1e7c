"""Reads of rate schedules and versions: which prices apply on a date or over a bill period,
who may be on a schedule, and a version as a URDB record.

Only approved versions price service. The version in force on a local date is the approved
version with the latest ``effective_date`` on or before it; it stays in force until the next
approved version's effective date (exclusive).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet

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
