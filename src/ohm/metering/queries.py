"""Reads of meters and installations, VEE exceptions, and interval quality and versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from django.contrib.contenttypes.models import ContentType
from django.db.models import BigIntegerField, Q
from django.db.models.functions import Cast

from ohm.core.localtime import start_of_day, to_local, utility_zone
from ohm.core.models import AuditEvent
from ohm.metering.models import IntervalDay, Meter, MeterChannel, MeterInstallation, Quality
from ohm.metering.store import FLAG_DTYPE, VALUE_DTYPE, load_intervals
from ohm.metering.usage import local_times
from ohm.metering.vee_config import meter_class_for
from ohm.metering.vee_operations import EXCEPTION_EVENT, VEE_CATEGORIES, VeeException
from ohm.premises.models import Premise
from ohm.workqueue.models import WorkItem
from ohm.workqueue.queries import OPEN as OPEN_STATUSES


def get_installed_meter(*, service_point_id: int, at: datetime) -> Meter | None:
    installation = (
        MeterInstallation.objects.filter(service_point_id=service_point_id, installed_at__lte=at)
        .filter(Q(removed_at__isnull=True) | Q(removed_at__gt=at))
        .select_related("meter")
        .first()
    )
    return installation.meter if installation else None


def list_installations(*, service_point_ids: list[int]):
    return (
        MeterInstallation.objects.filter(service_point_id__in=service_point_ids)
        .select_related("meter")
        .prefetch_related("meter__channels")
    )


# -- VEE exceptions -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExceptionFilters:
    """What the exception queue is narrowed to; empty fields do not narrow."""

    rule: str = ""
    route: str = ""
    meter_class: str = ""
    #: Only exceptions raised at least this many days before ``as_of``.
    min_age_days: int | None = None
    meter_id: int | None = None
    include_closed: bool = False


def _exceptions_for(items: list[WorkItem]) -> list[VeeException]:
    if not items:
        return []
    by_id = {str(item.pk): item for item in items}
    events = AuditEvent.objects.filter(
        event=EXCEPTION_EVENT,
        subject_type=ContentType.objects.get_for_model(WorkItem),
        subject_id__in=list(by_id),
    ).values_list("subject_id", "after")
    found = {subject_id: after for subject_id, after in events if after}
    return [VeeException.from_event(by_id[key], found[key]) for key in by_id if key in found]


def list_vee_exceptions(
    *, filters: ExceptionFilters = ExceptionFilters(), as_of: datetime, limit: int = 200
) -> list[VeeException]:
    """VEE exceptions, oldest first (open ones only unless asked): the analyst's queue."""
    items = WorkItem.objects.filter(
        category__code__in=VEE_CATEGORIES,
        subject_type=ContentType.objects.get_for_model(Meter),
    ).select_related("category", "assignee")
    if not filters.include_closed:
        items = items.filter(status__in=OPEN_STATUSES)
    if filters.min_age_days:
        items = items.filter(created_at__lte=as_of - timedelta(days=filters.min_age_days))
    if filters.meter_id is not None:
        items = items.filter(subject_id=str(filters.meter_id))
    if filters.route or filters.meter_class:
        meters = {int(pk) for pk in items.values_list("subject_id", flat=True).distinct()}
        items = items.filter(subject_id__in=[str(pk) for pk in _meters_in(filters, meters)])
    if filters.rule:
        # The cast is computed only for the exception events selected, whose subjects are
        # work items: a subquery, however many exceptions a rule has raised over the years.
        items = items.filter(
            pk__in=AuditEvent.objects.filter(event=EXCEPTION_EVENT, after__rule=filters.rule)
            .annotate(item_id=Cast("subject_id", output_field=BigIntegerField()))
            .values("item_id")
        )
    order = ["-created_at", "-id"] if filters.include_closed else ["created_at", "id"]
    return _exceptions_for(list(items.order_by(*order)[:limit]))


def _meters_in(filters: ExceptionFilters, meter_ids: set[int]) -> list[int]:
    """Those of ``meter_ids`` now installed on the route and of the VEE meter class asked."""
    rows = MeterInstallation.objects.filter(removed_at__isnull=True)
    if filters.route:
        rows = rows.filter(service_point__route=filters.route)
    if filters.meter_class:
        # The class follows from the premise type and whether the meter is CT-rated.
        wanted = Q(pk__in=[])
        for premise_type in Premise.Type.values:
            for ct_rated, multiplier in ((False, 1.0), (True, 2.0)):
                if meter_class_for(premise_type=premise_type, multiplier=multiplier) == (
                    filters.meter_class
                ):
                    wanted |= Q(service_point__premise__premise_type=premise_type) & (
                        Q(meter__multiplier__gt=1) if ct_rated else Q(meter__multiplier__lte=1)
                    )
        rows = rows.filter(wanted)
    ordered = sorted(meter_ids)
    found: list[int] = []
    for lo in range(0, len(ordered), 5000):
        found += rows.filter(meter_id__in=ordered[lo : lo + 5000]).values_list(
            "meter_id", flat=True
        )
    return found


def list_meter_vee_exceptions(*, meter: Meter, limit: int = 30) -> list[VeeException]:
    """A meter's exceptions, open ones first, then the latest closed."""
    items = list(
        WorkItem.objects.filter(
            category__code__in=VEE_CATEGORIES,
            subject_type=ContentType.objects.get_for_model(Meter),
            subject_id=str(meter.pk),
        )
        .select_related("category", "assignee")
        .order_by("-created_at", "-id")[: limit * 3]
    )
    found = _exceptions_for(items)
    found.sort(key=lambda e: (not e.is_open, -e.item.created_at.timestamp()))
    return found[:limit]


# -- interval quality and versions ---------------------------------------------------------


@dataclass(frozen=True)
class IntervalVersion:
    version: int
    value: float
    quality: str


@dataclass(frozen=True)
class IntervalRow:
    """One interval as the analyst sees it: its local start, current value and quality, and
    what earlier versions of its day held for it (only where they differ)."""

    start_at: datetime
    end_at: datetime
    value: float
    quality: str
    version: int
    earlier: tuple[IntervalVersion, ...]

    @property
    def label(self) -> str:
        """Local wall-clock span with the zone's abbreviation, so the repeated hour of the
        fall DST day reads ``01:00–02:00 PDT`` and then ``01:00–02:00 PST``."""
        start, end = to_local(self.start_at), to_local(self.end_at)
        return f"{start:%b} {start.day} {start:%H:%M}–{end:%H:%M} {start.tzname()}"


@dataclass(frozen=True)
class DayVersion:
    day: date
    version: int
    is_current: bool
    recorded_at: datetime
    source: str
    actor_label: str
    reason: str
    quality_counts: dict[str, int]
    total: float


def _decode(values, flags) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.frombuffer(bytes(values), dtype=VALUE_DTYPE),
        np.frombuffer(bytes(flags), dtype=FLAG_DTYPE),
    )


def list_day_versions(
    *, channel: MeterChannel, start_at: datetime, end_at: datetime
) -> list[DayVersion]:
    """Every stored version of the UTC days that ``[start_at, end_at)`` touches, newest first."""
    first = start_at.astimezone(UTC).date()
    last = (end_at.astimezone(UTC) - timedelta(microseconds=1)).date()
    rows = IntervalDay.objects.filter(channel=channel, day__gte=first, day__lte=last).order_by(
        "-day", "-version"
    )
    versions = []
    for row in rows:
        values, flags = _decode(row.values, row.flags)
        present = flags != Quality.MISSING
        versions.append(
            DayVersion(
                day=row.day,
                version=row.version,
                is_current=row.is_current,
                recorded_at=row.recorded_at,
                source=row.source,
                actor_label=row.actor_label,
                reason=row.reason,
                quality_counts={
                    label: int((flags == code).sum()) for code, label in Quality.LABELS.items()
                },
                total=float(values[present].sum()),
            )
        )
    return versions


def list_interval_history(
    *, channel: MeterChannel, start_at: datetime, end_at: datetime
) -> list[IntervalRow]:
    """The intervals starting in ``[start_at, end_at)``, each with its earlier values."""
    minutes = channel.interval_minutes
    if minutes is None:
        return []
    first = start_at.astimezone(UTC).date()
    last = (end_at.astimezone(UTC) - timedelta(microseconds=1)).date()
    by_day: dict[date, list[tuple[int, bool, np.ndarray, np.ndarray]]] = {}
    for day, version, is_current, values, flags in (
        IntervalDay.objects.filter(channel=channel, day__gte=first, day__lte=last)
        .order_by("day", "version")
        .values_list("day", "version", "is_current", "values", "flags")
    ):
        by_day.setdefault(day, []).append((version, is_current, *_decode(values, flags)))
    step = timedelta(minutes=minutes)
    rows = []
    moment = start_at.astimezone(UTC)
    while moment < end_at:
        day = moment.date()
        slot = (
            int((moment - datetime.combine(day, time.min, tzinfo=UTC)).total_seconds() // 60)
            // minutes
        )
        versions = by_day.get(day, [])
        current = next((v for v in versions if v[1]), None)
        value = float(current[2][slot]) if current else 0.0
        flag = int(current[3][slot]) if current else Quality.MISSING
        earlier = []
        for version, is_current, values, flags in reversed(versions):
            if is_current:
                continue
            if float(values[slot]) != value or int(flags[slot]) != flag:
                earlier.append(
                    IntervalVersion(version, float(values[slot]), Quality.LABELS[int(flags[slot])])
                )
        rows.append(
            IntervalRow(
                start_at=moment,
                end_at=moment + step,
                value=value,
                quality=Quality.LABELS[flag],
                version=current[0] if current else 0,
                earlier=tuple(earlier),
            )
        )
        moment += step
    return rows


def list_corrected_days(*, meter: Meter, limit: int = 10) -> list[IntervalDay]:
    """The meter's latest day versions that replaced another (estimates, edits, late reads)."""
    return list(
        IntervalDay.objects.filter(channel__meter=meter, version__gt=1)
        .select_related("channel")
        .defer("values", "flags")
        .order_by("-recorded_at", "-pk")[:limit]
    )


@dataclass(frozen=True)
class DayQuality:
    """One local day of a channel: its total and how many intervals of each quality."""

    local_date: date
    total: float
    counts: dict[str, int]

    @property
    def is_clean(self) -> bool:
        return not (self.counts["estimated"] or self.counts["edited"] or self.counts["missing"])


def list_day_quality(
    *, channel: MeterChannel, start_date: date, end_date: date
) -> list[DayQuality]:
    """Per local day of ``[start_date, end_date)``: total (present intervals) and the count of
    actual, estimated, edited and missing intervals (days never received count as missing)."""
    start_at, end_at = start_of_day(start_date), start_of_day(end_date)
    series = load_intervals(channel=channel, start_at=start_at, end_at=end_at)
    local_days = local_times(series.starts, utility_zone()).astype("datetime64[D]")
    first = np.datetime64(start_date, "D")
    index = (local_days - first).astype(np.int64)
    days = (end_date - start_date).days
    present = series.flags != Quality.MISSING
    totals = np.bincount(index, weights=np.where(present, series.values, 0.0), minlength=days)
    counts = {
        label: np.bincount(index[series.flags == code], minlength=days)
        for code, label in Quality.LABELS.items()
    }
    return [
        DayQuality(
            local_date=start_date + timedelta(days=k),
            total=float(totals[k]),
            counts={label: int(found[k]) for label, found in counts.items()},
        )
        for k in range(days)
    ]
