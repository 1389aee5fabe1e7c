"""Running VEE over stored intervals, estimating register reads, and analysts' edits.

Estimates and edits are written through ``save_interval_days``: each changed UTC day gets a
new current version and the version it replaces stays, so nothing an estimator or a person
does is invisible or unrecoverable. Findings a person must look at become ``meter_exception``
work items with the meter as subject.

The account of a finding: service agreements live in a higher layer than metering, so
metering cannot ask them. Callers that can (the read-import job, billing, the console) pass
``account_lookup`` — ``(service_point_id, start_at, end_at) -> account id or None``, usually
a thin wrapper over the agreements queries. Its answer also says whether the premise is
served (occupied) for the zero-run and inactive-consumption rules. Without it, items carry
only the meter and those two rules judge by the service point alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import numpy as np
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from ohm.core import audit
from ohm.core.localtime import to_local
from ohm.customers.models import Account
from ohm.metering import vee
from ohm.metering.models import Meter, MeterChannel, MeterInstallation, Quality, RegisterRead
from ohm.metering.store import DayVector, intervals_per_day, load_intervals, save_interval_days
from ohm.metering.vee_config import VeeRules, meter_class_for, rules_for
from ohm.premises.models import ServicePoint
from ohm.workqueue.models import WorkItem
from ohm.workqueue.operations import raise_work_item

AccountLookup = Callable[[int, datetime, datetime], int | None]

WORK_CATEGORY = "meter_exception"

_TITLES = {
    vee.Reason.UNESTIMATED_GAP: "gap VEE could not estimate",
    vee.Reason.SPIKE: "spike",
    vee.Reason.NEGATIVE: "negative reads",
    vee.Reason.ZERO_RUN: "zero use at an occupied premise",
    vee.Reason.REGISTER_MISMATCH: "intervals disagree with the register",
    vee.Reason.MULTIPLIER_MISMATCH: "multiplier mismatch",
    vee.Reason.INACTIVE_CONSUMPTION: "use on an inactive service point",
}

_ENERGY = (MeterChannel.Measure.KWH_DELIVERED, MeterChannel.Measure.KWH_RECEIVED)


@dataclass(frozen=True)
class ChannelFinding:
    """A finding placed in time: ``[start_at, end_at)`` spans the intervals at fault (the
    whole period for a finding about the period as a whole)."""

    channel: MeterChannel
    code: str
    message: str
    start_at: datetime
    end_at: datetime


@dataclass
class VeeReport:
    findings: list[ChannelFinding] = field(default_factory=list)
    estimated_intervals: int = 0
    unestimated_intervals: int = 0
    days_written: int = 0
    work_items: list[WorkItem] = field(default_factory=list)


def _label(actor) -> str:
    return getattr(actor, "username", "") or str(actor)


def _utc_midnight_floor(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _utc_midnight_ceil(moment: datetime) -> datetime:
    floor = _utc_midnight_floor(moment)
    return floor if floor == moment.astimezone(UTC) else floor + timedelta(days=1)


def _installation(meter_id: int, start_at: datetime, end_at: datetime) -> MeterInstallation | None:
    """The installation covering most recently any part of the period."""
    return (
        MeterInstallation.objects.filter(meter_id=meter_id, installed_at__lt=end_at)
        .filter(Q(removed_at__isnull=True) | Q(removed_at__gt=start_at))
        .select_related("service_point__premise")
        .order_by("-installed_at")
        .first()
    )


def _positions_to_span(
    starts: np.ndarray, positions: Sequence[int], minutes: int, period: tuple[datetime, datetime]
) -> tuple[datetime, datetime]:
    if not positions:
        return period
    first = starts[min(positions)].astype(datetime).replace(tzinfo=UTC)
    last = starts[max(positions)].astype(datetime).replace(tzinfo=UTC)
    return first, last + timedelta(minutes=minutes)


def _register_window(
    channel: MeterChannel, start_at: datetime, end_at: datetime
) -> list[RegisterRead]:
    return list(
        RegisterRead.objects.filter(
            channel=channel, is_current=True, read_at__gte=start_at, read_at__lte=end_at
        ).order_by("read_at")
    )


def _validate_and_estimate(
    *,
    channel: MeterChannel,
    start_at: datetime,
    end_at: datetime,
    rules: VeeRules,
    occupied: bool | None,
    active: bool,
) -> tuple[list[ChannelFinding], list[DayVector], int, int]:
    minutes = channel.interval_minutes
    if minutes is None:
        raise ValueError(f"{channel} is a register-only channel; VEE needs intervals")
    n = intervals_per_day(minutes)
    history_days = max(rules.spike_history_days, rules.profile_weeks * 7)
    series = load_intervals(
        channel=channel, start_at=start_at - timedelta(days=history_days), end_at=end_at
    )
    offset = history_days * n
    values, flags = series.values[np.newaxis, :], series.flags[np.newaxis, :]
    period_values, period_flags = values[:, offset:], flags[:, offset:]
    period_starts = series.starts[offset:]
    period = (start_at, end_at)
    meter = channel.meter
    is_energy = channel.measure in _ENERGY
    per_hour = 60 / minutes if is_energy else 1.0
    found: list[vee.Finding] = []

    history = slice(offset - rules.spike_history_days * n, offset)
    level = vee.history_percentile(
        values[:, history], flags[:, history], percentile=rules.spike_percentile
    )
    found += vee.find_spikes(
        period_values,
        period_flags,
        history_level=level,
        factor=rules.spike_factor,
        floor=rules.spike_floor_kw / per_hour,
    )
    found += vee.find_negative(period_values, period_flags)
    if channel.measure == MeterChannel.Measure.KWH_DELIVERED:
        if occupied:
            found += vee.find_zero_runs(
                period_values,
                period_flags,
                occupied=True,
                min_intervals=int(rules.zero_run_hours * 60 // minutes),
            )
        found += vee.find_inactive_consumption(
            period_values, period_flags, active=active, min_kwh=rules.inactive_min_kwh
        )

    register_kwh, window = np.nan, None
    if is_energy:
        reads = _register_window(channel, start_at, end_at)
        if len(reads) >= 2 and reads[0].read_at < reads[-1].read_at:
            cut = [
                int((read.read_at - start_at).total_seconds() // 60 // minutes) for read in reads
            ]
            deltas = vee.register_delta(
                np.array([float(r.reading) for r in reads[:-1]]),
                np.array([float(r.reading) for r in reads[1:]]),
                multiplier=float(meter.multiplier),
                dials=meter.dials,
            )
            sums = np.array(
                [
                    np.where(
                        period_flags[0, a:b] != Quality.MISSING, period_values[0, a:b], 0.0
                    ).sum()
                    for a, b in pairwise(cut)
                ]
            )
            found += vee.find_multiplier_mismatch(
                sums[np.newaxis, :],
                deltas[np.newaxis, :],
                ratios=rules.multiplier_ratios,
                tolerance_share=rules.multiplier_tolerance_share,
                min_periods=rules.multiplier_min_periods,
            )
            window = slice(cut[0], cut[-1])
            register_kwh = float(deltas.sum())
            found += vee.find_register_mismatch(
                period_values[:, window],
                period_flags[:, window],
                register_kwh=register_kwh,
                tolerance_kwh=rules.register_tolerance_kwh,
                tolerance_share=rules.register_tolerance_share,
            )

    interpolated_values, interpolated_flags = vee.interpolate_short_gaps(
        values, flags, max_intervals=rules.max_interpolate_minutes // minutes
    )
    profile = vee.same_weekday_profile(
        values,
        flags,
        target_start=offset,
        target_length=period_values.shape[1],
        intervals_per_week=7 * n,
        weeks=rules.profile_weeks,
    )
    new_values, new_flags = vee.fill_from_profile(
        interpolated_values[:, offset:], interpolated_flags[:, offset:], profile=profile
    )
    if window is not None:
        fitted_values, fitted_flags = vee.fit_to_register(
            new_values[:, window],
            new_flags[:, window],
            original_flags=period_flags[:, window],
            register_kwh=register_kwh,
        )
        new_values[:, window], new_flags[:, window] = fitted_values, fitted_flags

    changed_days = []
    for index in range(period_values.shape[1] // n):
        part = slice(index * n, (index + 1) * n)
        if np.array_equal(new_flags[0, part], period_flags[0, part]) and np.array_equal(
            new_values[0, part], period_values[0, part]
        ):
            continue
        day = (start_at + timedelta(days=index)).date()
        changed_days.append(
            DayVector(
                channel.pk,
                day,
                minutes,
                new_values[0, part].astype(np.float32),
                new_flags[0, part].astype(np.uint8),
            )
        )
    estimated = int(((period_flags == Quality.MISSING) & (new_flags == Quality.ESTIMATED)).sum())
    found += vee.find_gaps(new_flags, code=vee.Reason.UNESTIMATED_GAP)
    unestimated = int((new_flags == Quality.MISSING).sum())

    located = [
        ChannelFinding(
            channel,
            f.code,
            f.message,
            *_positions_to_span(period_starts, f.intervals, minutes, period),
        )
        for f in found
    ]
    return located, changed_days, estimated, unestimated


def _work_title(finding: ChannelFinding) -> str:
    start, end = to_local(finding.start_at), to_local(finding.end_at)
    return f"{finding.channel.meter.serial} ch {finding.channel.number}: {_TITLES.get(finding.code, finding.code)} {start:%Y-%m-%d %H:%M}–{end:%Y-%m-%d %H:%M}"


def _raise_items(
    findings: list[ChannelFinding], *, account_id: int | None, actor, at: datetime
) -> list[WorkItem]:
    """One item per finding; an open item with the same title for the same meter is not raised
    again, so running VEE twice over a period does not double anyone's queue."""
    if not findings:
        return []
    meter = findings[0].channel.meter
    account_number = ""
    if account_id is not None:
        account_number = (
            Account.objects.filter(pk=account_id).values_list("number", flat=True).first() or ""
        )
    open_titles = set(
        WorkItem.objects.filter(
            category__code=WORK_CATEGORY,
            subject_type=ContentType.objects.get_for_model(Meter),
            subject_id=str(meter.pk),
        )
        .exclude(status__in=[WorkItem.Status.DONE, WorkItem.Status.CANCELLED])
        .values_list("title", flat=True)
    )
    items = []
    for finding in findings:
        title = _work_title(finding)[:200]
        if title in open_titles:
            continue
        open_titles.add(title)
        description = f"{finding.message}.\nReason code: {finding.code}. Channel {finding.channel.number} ({finding.channel.get_measure_display()}), {finding.start_at:%Y-%m-%d %H:%M}Z to {finding.end_at:%Y-%m-%d %H:%M}Z."
        items.append(
            raise_work_item(
                category_code=WORK_CATEGORY,
                title=title,
                description=description,
                subject=meter,
                account_id=account_id,
                account_number=account_number,
                actor=actor,
                at=at,
            )
        )
    return items


def run_vee(
    *,
    channels: Iterable[MeterChannel],
    start_at: datetime,
    end_at: datetime,
    actor,
    at: datetime,
    account_lookup: AccountLookup | None = None,
    rules: VeeRules | None = None,
) -> VeeReport:
    """Validate and estimate the intervals of ``channels`` over the UTC days covering
    ``[start_at, end_at)``; write estimates as new versions (``source="vee"``) and raise a
    work item for each finding a person must resolve. ``rules`` overrides the meter class's.

    Each channel commits on its own, so a long run stopped half way keeps what it finished and
    a rerun changes nothing that is already right."""
    start_at, end_at = _utc_midnight_floor(start_at), _utc_midnight_ceil(end_at)
    if end_at <= start_at:
        raise ValidationError({"end_at": "The period must end after it starts."})
    report = VeeReport()
    for channel in channels:
        if channel.interval_minutes is None:
            continue
        with transaction.atomic():
            meter = channel.meter
            installation = _installation(meter.pk, start_at, end_at)
            point: ServicePoint | None = installation.service_point if installation else None
            account_id = (
                account_lookup(point.pk, start_at, end_at) if (account_lookup and point) else None
            )
            channel_rules = rules or rules_for(
                meter_class_for(
                    premise_type=point.premise.premise_type if point else None,
                    multiplier=float(meter.multiplier),
                )
            )
            occupied = (account_id is not None) if account_lookup else None
            active = (
                point is not None
                and point.energized
                and point.status == ServicePoint.Status.ACTIVE
                and occupied is not False
            )
            findings, days, estimated, unestimated = _validate_and_estimate(
                channel=channel,
                start_at=start_at,
                end_at=end_at,
                rules=channel_rules,
                occupied=occupied,
                active=active,
            )
            if days:
                save_interval_days(
                    days=days,
                    recorded_at=at,
                    source="vee",
                    actor_label=_label(actor),
                    reason=f"VEE estimate ({channel_rules.meter_class} rules)",
                )
                audit.record(
                    "metering.intervals.estimated",
                    subject=meter,
                    actor=actor,
                    at=at,
                    account_id=account_id,
                    after={
                        "channel": channel.number,
                        "start_at": start_at,
                        "end_at": end_at,
                        "intervals": estimated,
                        "days": len(days),
                    },
                )
            report.findings += findings
            report.estimated_intervals += estimated
            report.unestimated_intervals += unestimated
            report.days_written += len(days)
            report.work_items += _raise_items(findings, account_id=account_id, actor=actor, at=at)
    return report


@transaction.atomic
def estimate_register_read(
    *, channel: MeterChannel, read_at: datetime, actor, at: datetime, history_days: int = 365
) -> RegisterRead:
    """Write an ESTIMATED register read at ``read_at``: the latest read before it advanced by
    the average daily use between the reads of the last ``history_days`` days before that."""
    reads = list(
        RegisterRead.objects.filter(channel=channel, is_current=True, read_at__lt=read_at).order_by(
            "-read_at"
        )[:400]
    )
    if RegisterRead.objects.filter(channel=channel, is_current=True, read_at=read_at).exists():
        raise ValidationError(
            {"read_at": f"{channel} already has a read at {read_at:%Y-%m-%d %H:%M}."}
        )
    latest = reads[0] if reads else None
    earlier = (
        [r for r in reads[1:] if r.read_at >= latest.read_at - timedelta(days=history_days)]
        if latest
        else []
    )
    if latest is None or not earlier:
        raise ValidationError({"read_at": f"{channel} needs two earlier reads to estimate from."})
    meter = channel.meter
    oldest = earlier[-1]
    used_kwh = float(
        vee.register_delta(
            float(oldest.reading),
            float(latest.reading),
            multiplier=float(meter.multiplier),
            dials=meter.dials,
        )
    )
    average = used_kwh / ((latest.read_at - oldest.read_at).total_seconds() / 86400)
    days = (read_at - latest.read_at).total_seconds() / 86400
    reading = vee.estimate_register_reading(
        previous_reading=float(latest.reading),
        average_daily_kwh=average,
        days=days,
        multiplier=float(meter.multiplier),
        dials=meter.dials,
    )
    read = RegisterRead.objects.create(
        channel=channel,
        read_at=read_at,
        reading=Decimal(f"{float(reading):.3f}"),
        read_type=RegisterRead.ReadType.ESTIMATED,
        recorded_at=at,
        source="vee",
        actor_label=_label(actor),
        reason=f"Estimated from {average:.2f} kWh/day over {len(earlier) + 1} reads",
    )
    audit.record(
        "metering.register.estimated",
        subject=meter,
        actor=actor,
        at=at,
        after={
            "channel": channel.number,
            "read_at": read_at,
            "reading": read.reading,
            "kwh_per_day": round(average, 3),
        },
    )
    return read


#: An analyst edits at most this many days at once; longer corrections are re-imports.
MAX_EDIT_DAYS = 62


@transaction.atomic
def edit_intervals(
    *,
    channel: MeterChannel,
    start_at: datetime,
    end_at: datetime,
    values: Sequence[float],
    reason: str,
    actor,
    at: datetime,
) -> dict[str, int]:
    """A billing analyst replaces the intervals starting in ``[start_at, end_at)`` with
    ``values`` (one per interval, the channel's unit with the multiplier applied). They are
    flagged EDITED; each touched UTC day becomes a new version and the old one is kept."""
    minutes = channel.interval_minutes
    if minutes is None:
        raise ValidationError({"channel": f"{channel} has no intervals to edit."})
    if not reason.strip():
        raise ValidationError({"reason": "Say why the reads are being edited."})
    if end_at <= start_at:
        raise ValidationError({"end_at": "The edit must end after it starts."})
    if end_at - start_at > timedelta(days=MAX_EDIT_DAYS):
        raise ValidationError({"end_at": f"Edit at most {MAX_EDIT_DAYS} days at once."})
    for name, moment in (("start_at", start_at), ("end_at", end_at)):
        since_midnight = moment.astimezone(UTC) - _utc_midnight_floor(moment)
        if since_midnight.total_seconds() % (minutes * 60):
            raise ValidationError(
                {name: f"{moment:%H:%M} is not on a {minutes}-minute interval boundary."}
            )
    count = int((end_at - start_at).total_seconds() // (minutes * 60))
    new = np.asarray(list(values), dtype=np.float64)
    if new.shape != (count,):
        raise ValidationError({"values": f"{count} intervals need {count} values, got {len(new)}."})
    if not np.isfinite(new).all():
        raise ValidationError({"values": "Every interval needs a number."})
    if channel.measure in _ENERGY and (new < 0).any():
        raise ValidationError({"values": "Energy per interval cannot be negative."})

    first, last = _utc_midnight_floor(start_at), _utc_midnight_ceil(end_at)
    series = load_intervals(channel=channel, start_at=first, end_at=last)
    lo = int((start_at - first).total_seconds() // (minutes * 60))
    before_values, before_flags = (
        series.values[lo : lo + count].copy(),
        series.flags[lo : lo + count].copy(),
    )
    values_all, flags_all = series.values.copy(), series.flags.copy()
    values_all[lo : lo + count] = new
    flags_all[lo : lo + count] = Quality.EDITED
    n = intervals_per_day(minutes)
    days = [
        DayVector(
            channel.pk,
            (first + timedelta(days=index)).date(),
            minutes,
            values_all[index * n : (index + 1) * n].astype(np.float32),
            flags_all[index * n : (index + 1) * n],
        )
        for index in range(lo // n, (lo + count - 1) // n + 1)
    ]
    counts = save_interval_days(
        days=days, recorded_at=at, source="edit", actor_label=_label(actor), reason=reason.strip()
    )
    audit.record(
        "metering.intervals.edited",
        subject=channel.meter,
        actor=actor,
        at=at,
        reason=reason.strip(),
        before={
            "channel": channel.number,
            "start_at": start_at,
            "end_at": end_at,
            "values": [round(float(v), 4) for v in before_values],
            "flags": [Quality.LABELS[int(f)] for f in before_flags],
        },
        after={"channel": channel.number, "values": [round(float(v), 4) for v in new]},
    )
    return counts
