"""Running VEE over stored intervals, estimating register reads, and analysts' edits.

Estimates and edits are written through ``save_interval_days``: each changed UTC day gets a
new current version and the version it replaces stays, so nothing an estimator or a person
does is invisible or unrecoverable. Findings a person must look at become
work items with the meter as subject: ``meter_exception`` for the billing analysts, or
``investigation`` when the finding hints at unauthorized usage (use on an inactive service
point, a tamper or reverse-energy event). Each such item is one *VEE exception*: one meter
channel, one rule, one run of local days. Its particulars (channel, rule, days, the intervals
at fault) are kept in the ``metering.vee.exception_raised`` audit event whose subject is the
item, so the queue can filter on them and a rerun never raises the same exception twice, even
after a person closed it. (A work item has no structured fields of its own; the audit event
is written once, in the same transaction as the item, and never changes — like the facts it
records.)

The account of a finding: service agreements live in a higher layer than metering, so
metering cannot ask them. Callers that can (the read-import job, billing, the console) pass
``account_lookup`` — ``(service_point_id, start_at, end_at) -> account id or None``, usually
a thin wrapper over the agreements queries. Its answer also says whether the premise is
served (occupied) for the zero-run and inactive-consumption rules. Without it, items carry
only the meter and those two rules judge by the service point alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import numpy as np
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from ohm.core import audit
from ohm.core.localtime import localdate, to_local
from ohm.core.models import AuditEvent
from ohm.customers.models import Account
from ohm.metering import vee
from ohm.metering.ingest.checks import DayFinding
from ohm.metering.models import (
    MeterChannel,
    MeterEvent,
    MeterInstallation,
    Quality,
    RegisterRead,
)
from ohm.metering.store import DayVector, intervals_per_day, load_intervals, save_interval_days
from ohm.metering.vee_config import VeeRules, meter_class_for, rules_for
from ohm.premises.models import ServicePoint
from ohm.workqueue.models import WorkItem
from ohm.workqueue.operations import raise_work_item, set_work_status

AccountLookup = Callable[[int, datetime, datetime], int | None]
#: ``progress(done, total)``: channels finished so far of all the run was given.
Progress = Callable[[int, int], None]

WORK_CATEGORY = "meter_exception"
#: Findings that hint at theft go to the investigators' queue instead.
INVESTIGATION_CATEGORY = "investigation"
VEE_CATEGORIES = (WORK_CATEGORY, INVESTIGATION_CATEGORY)
#: The audit event that records an exception's particulars; its subject is the work item.
EXCEPTION_EVENT = "metering.vee.exception_raised"
RESOLVED_EVENT = "metering.vee.exception_resolved"


class Rule:
    """Finding codes of this module (meter events), beside ``vee.Reason``'s interval rules."""

    TAMPER = "tamper"
    REVERSE_ENERGY = "reverse_energy"


RULE_LABELS = {
    vee.Reason.UNESTIMATED_GAP: "gap VEE could not estimate",
    vee.Reason.SPIKE: "spike",
    vee.Reason.NEGATIVE: "negative reads",
    vee.Reason.ZERO_RUN: "zero use at an occupied premise",
    vee.Reason.REGISTER_MISMATCH: "intervals disagree with the register",
    vee.Reason.MULTIPLIER_MISMATCH: "multiplier mismatch",
    vee.Reason.INACTIVE_CONSUMPTION: "use on an inactive service point",
    Rule.TAMPER: "tamper event",
    Rule.REVERSE_ENERGY: "reverse energy on a meter that is not net metered",
}
#: Findings that are a signal of unauthorized usage (theft): the item says so and goes to
#: the investigators.
UNAUTHORIZED_RULES = frozenset({vee.Reason.INACTIVE_CONSUMPTION, Rule.TAMPER, Rule.REVERSE_ENERGY})
#: An exception keeps at most this many runs of intervals at fault; past that, its span.
MAX_RUNS = 48

_ENERGY = (MeterChannel.Measure.KWH_DELIVERED, MeterChannel.Measure.KWH_RECEIVED)


@dataclass(frozen=True)
class ChannelFinding:
    """A finding placed in time: ``[start_at, end_at)`` spans the intervals at fault (the
    whole period for a finding about the period as a whole); ``runs`` are the intervals at
    fault as ``[start, end)`` runs of consecutive intervals (empty: the whole span)."""

    channel: MeterChannel
    code: str
    message: str
    start_at: datetime
    end_at: datetime
    runs: tuple[tuple[datetime, datetime], ...] = ()


@dataclass(frozen=True)
class VeeException:
    """One exception as a person sees it: a work item about one meter channel, one rule and
    one run of local days ``[first_day, last_day]``; ``runs`` are the intervals at fault."""

    item: WorkItem
    meter_id: int
    serial: str
    channel_id: int
    channel_number: int
    rule: str
    message: str
    first_day: date
    last_day: date
    start_at: datetime
    end_at: datetime
    runs: tuple[tuple[datetime, datetime], ...]

    @property
    def rule_label(self) -> str:
        return RULE_LABELS.get(self.rule, self.rule)

    @property
    def unauthorized(self) -> bool:
        return self.rule in UNAUTHORIZED_RULES

    @property
    def is_open(self) -> bool:
        return not self.item.is_closed

    @classmethod
    def from_event(cls, item: WorkItem, after: dict) -> VeeException:
        return cls(
            item=item,
            meter_id=int(after["meter_id"]),
            serial=after["serial"],
            channel_id=int(after["channel_id"]),
            channel_number=int(after["channel"]),
            rule=after["rule"],
            message=after.get("message", ""),
            first_day=date.fromisoformat(after["first_day"]),
            last_day=date.fromisoformat(after["last_day"]),
            start_at=datetime.fromisoformat(after["start_at"]),
            end_at=datetime.fromisoformat(after["end_at"]),
            runs=tuple(
                (datetime.fromisoformat(a), datetime.fromisoformat(b))
                for a, b in after.get("runs", [])
            ),
        )


@dataclass
class VeeReport:
    findings: list[ChannelFinding] = field(default_factory=list)
    estimated_intervals: int = 0
    unestimated_intervals: int = 0
    days_written: int = 0
    #: Channels and channel-days looked at.
    channels_checked: int = 0
    days_checked: int = 0
    #: Items raised by this run (one per new exception).
    work_items: list[WorkItem] = field(default_factory=list)
    #: Exceptions found again that were raised before (open or already resolved).
    already_raised: int = 0

    #: The exceptions this run raised (``work_items`` are their items).
    exceptions: list[VeeException] = field(default_factory=list)

    def raised_by_rule(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for exception in self.exceptions:
            counts[exception.rule] = counts.get(exception.rule, 0) + 1
        return dict(sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])))

    def merge(self, other: VeeReport) -> None:
        self.findings += other.findings
        self.estimated_intervals += other.estimated_intervals
        self.unestimated_intervals += other.unestimated_intervals
        self.days_written += other.days_written
        self.channels_checked += other.channels_checked
        self.days_checked += other.days_checked
        self.work_items += other.work_items
        self.exceptions += other.exceptions
        self.already_raised += other.already_raised


def _label(actor) -> str:
    return getattr(actor, "username", "") or str(actor)


def _utc_midnight_floor(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _utc_midnight_ceil(moment: datetime) -> datetime:
    floor = _utc_midnight_floor(moment)
    return floor if floor == moment.astimezone(UTC) else floor + timedelta(days=1)


def _positions_to_runs(
    starts: np.ndarray, positions: Sequence[int], minutes: int
) -> tuple[tuple[datetime, datetime], ...]:
    """Interval positions as ``[start, end)`` runs of consecutive intervals, in time order."""
    if not len(positions):
        return ()
    ordered = np.unique(np.asarray(positions, dtype=np.int64))
    breaks = np.flatnonzero(np.diff(ordered) > 1)
    firsts = np.r_[ordered[0], ordered[breaks + 1]]
    lasts = np.r_[ordered[breaks], ordered[-1]]
    step = timedelta(minutes=minutes)
    return tuple(
        (
            starts[first].astype(datetime).replace(tzinfo=UTC),
            starts[last].astype(datetime).replace(tzinfo=UTC) + step,
        )
        for first, last in zip(firsts.tolist(), lasts.tolist(), strict=True)
    )


def _register_window(
    channel: MeterChannel, start_at: datetime, end_at: datetime
) -> list[RegisterRead]:
    return list(
        RegisterRead.objects.filter(
            channel=channel, is_current=True, read_at__gte=start_at, read_at__lte=end_at
        ).order_by("read_at")
    )


#: Ids per query when a run fetches what its channels need in bulk.
_CHUNK = 5000


class _RunContext:
    """What a run needs about its channels' meters, fetched in a few queries for all of them
    instead of several per channel: installations, register reads, tamper and reverse-energy
    events, and which meters are net metered."""

    def __init__(
        self, channels: list[MeterChannel], start_at: datetime, end_at: datetime, within
    ) -> None:
        meter_ids = sorted({c.meter_id for c in channels})
        channel_ids = sorted({c.pk for c in channels})
        self.installations: dict[int, MeterInstallation] = {}
        self.reads: dict[int, list[RegisterRead]] = {}
        self.events: dict[int, list[MeterEvent]] = {}
        self.net_metered: set[int] = set()
        for lo in range(0, len(meter_ids), _CHUNK):
            some = meter_ids[lo : lo + _CHUNK]
            for installation in (
                MeterInstallation.objects.filter(meter_id__in=some, installed_at__lt=end_at)
                .filter(Q(removed_at__isnull=True) | Q(removed_at__gt=start_at))
                .select_related("service_point__premise")
                .order_by("installed_at")
            ):
                # The latest installation that covers any part of the period wins.
                self.installations[installation.meter_id] = installation
            for event in MeterEvent.objects.filter(
                meter_id__in=some,
                kind__in=[MeterEvent.Kind.TAMPER, MeterEvent.Kind.REVERSE_ENERGY],
                occurred_at__gte=within[0],
                occurred_at__lt=within[1],
            ).order_by("occurred_at"):
                self.events.setdefault(event.meter_id, []).append(event)
            self.net_metered.update(
                MeterChannel.objects.filter(
                    meter_id__in=some, measure=MeterChannel.Measure.KWH_RECEIVED
                ).values_list("meter_id", flat=True)
            )
        for lo in range(0, len(channel_ids), _CHUNK):
            for read in RegisterRead.objects.filter(
                channel_id__in=channel_ids[lo : lo + _CHUNK],
                is_current=True,
                read_at__gte=start_at,
                read_at__lte=end_at,
            ).order_by("read_at"):
                self.reads.setdefault(read.channel_id, []).append(read)


def _validate_and_estimate(
    *,
    channel: MeterChannel,
    start_at: datetime,
    end_at: datetime,
    rules: VeeRules,
    occupied: bool | None,
    active: bool,
    within: tuple[datetime, datetime] | None = None,
    reads: list[RegisterRead] | None = None,
) -> tuple[list[ChannelFinding], list[DayVector], int, int]:
    """Rules and estimators over the whole UTC days ``[start_at, end_at)``; only intervals
    ``within`` (default: all of them) are estimated or reported — the rest of the days is
    context, e.g. the hours of a first day before a file's first read."""
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
    if not np.isfinite(level).all():
        # No history before the period (a new meter, a year imported at once): the period
        # is the channel's own history.
        level = np.where(
            np.isfinite(level),
            level,
            vee.history_percentile(period_values, period_flags, percentile=rules.spike_percentile),
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
        if reads is None:
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
    inside = np.ones(period_values.shape[1], dtype=bool)
    if within is not None:
        lo, hi = (np.datetime64(m.astimezone(UTC).replace(tzinfo=None), "m") for m in within)
        inside = (period_starts >= lo) & (period_starts < hi)
        new_values = np.where(inside, new_values, period_values)
        new_flags = np.where(inside, new_flags, period_flags).astype(period_flags.dtype)

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
    found += vee.find_gaps(
        np.where(inside, new_flags, Quality.ACTUAL), code=vee.Reason.UNESTIMATED_GAP
    )
    unestimated = int(((new_flags == Quality.MISSING) & inside).sum())

    located = []
    for f in found:
        positions = [p for p in f.intervals if inside[p]]
        if f.intervals and not positions:
            continue
        runs = _positions_to_runs(period_starts, positions, minutes)
        span = (runs[0][0], runs[-1][1]) if runs else period
        located.append(ChannelFinding(channel, f.code, f.message, *span, runs))
    return located, changed_days, estimated, unestimated


def _day_groups(
    finding: ChannelFinding,
) -> list[tuple[date, date, datetime, datetime, tuple[tuple[datetime, datetime], ...]]]:
    """A finding cut into exceptions: runs of local days, each with its span and the runs of
    intervals at fault in it. Runs that touch consecutive local days stay together."""
    runs = finding.runs or ((finding.start_at, finding.end_at),)
    groups: list[list] = []
    for start, end in runs:
        first, last = localdate(start), localdate(end - timedelta(microseconds=1))
        if groups and first <= groups[-1][1] + timedelta(days=1):
            group = groups[-1]
            group[1] = max(group[1], last)
            group[3] = max(group[3], end)
            group[4].append((start, end))
        else:
            groups.append([first, last, start, end, [(start, end)]])
    return [
        (
            first,
            last,
            start,
            end,
            tuple(parts) if finding.runs and len(parts) <= MAX_RUNS else ((start, end),),
        )
        for first, last, start, end, parts in groups
    ]


def _days_text(first: date, last: date) -> str:
    return f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d}–{last:%Y-%m-%d}"


def _exception_title(channel: MeterChannel, code: str, first: date, last: date) -> str:
    text = f"{channel.meter.serial} ch {channel.number}: {RULE_LABELS.get(code, code)} {_days_text(first, last)}"
    if code in UNAUTHORIZED_RULES:
        text = f"Possible unauthorized usage — {text}"
    return text[:200]


def _known_exceptions(channel_ids: Iterable[int]) -> dict[tuple[int, str], list[tuple[date, date]]]:
    """Day ranges of every exception ever raised for these channels, by (channel, rule)."""
    known: dict[tuple[int, str], list[tuple[date, date]]] = {}
    for after in AuditEvent.objects.filter(
        event=EXCEPTION_EVENT, after__channel_id__in=list(channel_ids)
    ).values_list("after", flat=True):
        if not after:
            continue
        key = (int(after["channel_id"]), after["rule"])
        known.setdefault(key, []).append(
            (date.fromisoformat(after["first_day"]), date.fromisoformat(after["last_day"]))
        )
    return known


def _raise_items(
    findings: list[ChannelFinding], *, account_id: int | None, actor, at: datetime
) -> tuple[list[VeeException], int]:
    """One work item per exception (a finding's run of local days). An exception that
    overlaps one raised before for the same channel and rule — open, or closed by a person
    who accepted it — is not raised again, so rerunning VEE never doubles anyone's queue.
    Returns the new exceptions and how many were already known."""
    if not findings:
        return [], 0
    account_number = ""
    if account_id is not None:
        account_number = (
            Account.objects.filter(pk=account_id).values_list("number", flat=True).first() or ""
        )
    known = _known_exceptions({f.channel.pk for f in findings})
    # Day ranges handled by this call (raised, or found to be known): a second finding of the
    # same exception in one run (the import's checks and the run's own) is neither raised
    # again nor counted as found again.
    handled: dict[tuple[int, str], list[tuple[date, date]]] = {}
    raised, skipped = [], 0
    for finding in findings:
        channel, meter = finding.channel, finding.channel.meter
        groups = _day_groups(finding)
        for first, last, start_at, end_at, runs in groups:
            message = finding.message
            if len(groups) > 1 and finding.runs:
                minutes = channel.interval_minutes or 60
                count = sum(int((b - a).total_seconds() // (minutes * 60)) for a, b in runs)
                message += f"; {count} of those intervals fall on these days"
            done = handled.setdefault((channel.pk, finding.code), [])
            if any(a <= last and first <= b for a, b in done):
                continue
            done.append((first, last))
            if any(a <= last and first <= b for a, b in known.get((channel.pk, finding.code), [])):
                skipped += 1
                continue
            unauthorized = finding.code in UNAUTHORIZED_RULES
            description = (
                f"{message}.\n"
                f"Rule: {RULE_LABELS.get(finding.code, finding.code)} ({finding.code}). "
                f"Meter {meter.serial}, channel {channel.number} ({channel.get_measure_display()}), "
                f"{to_local(start_at):%Y-%m-%d %H:%M} to {to_local(end_at):%Y-%m-%d %H:%M} local time."
            )
            if unauthorized:
                description += (
                    "\nA signal of possible unauthorized usage: investigate before billing."
                )
            description += (
                "\nResolve it (accept, estimate or correct the reads) in the console under"
                f" Meter data, or from meter {meter.serial}'s page."
            )
            item = raise_work_item(
                category_code=INVESTIGATION_CATEGORY if unauthorized else WORK_CATEGORY,
                title=_exception_title(channel, finding.code, first, last),
                description=description,
                subject=meter,
                account_id=account_id,
                account_number=account_number,
                actor=actor,
                at=at,
            )
            after = {
                "meter_id": meter.pk,
                "serial": meter.serial,
                "channel_id": channel.pk,
                "channel": channel.number,
                "rule": finding.code,
                "message": message,
                "first_day": first,
                "last_day": last,
                "start_at": start_at,
                "end_at": end_at,
                "runs": [[a, b] for a, b in runs],
                "unauthorized": unauthorized,
            }
            event = audit.record(
                EXCEPTION_EVENT,
                subject=item,
                actor=actor,
                at=at,
                account_id=account_id,
                after=after,
            )
            raised.append(VeeException.from_event(item, event.after or {}))
    return raised, skipped


#: Days of an import's findings named in the message of the exception they make.
_DAYS_NAMED = 3


def findings_from_import(
    findings: Iterable[DayFinding], channels: Mapping[int, MeterChannel]
) -> dict[int, list[ChannelFinding]]:
    """The import's checks' findings (``ImportResult.vee_findings``: one per rule and UTC
    channel-day, the intervals at fault as positions in that day) in ``run_vee``'s terms: one
    finding per channel and rule over all the days, its runs the intervals at fault (a run
    across midnight stays one run; a finding about a day as a whole runs the whole day).
    By channel id; findings on a channel not in ``channels`` are left out."""
    by_rule: dict[tuple[int, str], list[DayFinding]] = {}
    for finding in findings:
        if finding.channel_id in channels:
            by_rule.setdefault((finding.channel_id, finding.code), []).append(finding)
    located: dict[int, list[ChannelFinding]] = {}
    for (channel_id, code), days in sorted(by_rule.items()):
        days.sort(key=lambda f: f.day)
        runs: list[tuple[datetime, datetime]] = []
        for finding in days:
            midnight = datetime(finding.day.year, finding.day.month, finding.day.day, tzinfo=UTC)
            minutes = finding.interval_minutes
            if finding.intervals:
                starts = np.datetime64(midnight.replace(tzinfo=None), "m") + np.arange(
                    intervals_per_day(minutes)
                ) * np.timedelta64(minutes, "m")
                parts = _positions_to_runs(starts, finding.intervals, minutes)
            else:
                parts = ((midnight, midnight + timedelta(days=1)),)
            for start, end in parts:
                if runs and runs[-1][1] == start:
                    runs[-1] = (runs[-1][0], end)
                else:
                    runs.append((start, end))
        if len(days) == 1:
            message = days[0].message
        else:
            message = "; ".join(f"{f.day:%Y-%m-%d} (UTC): {f.message}" for f in days[:_DAYS_NAMED])
            if len(days) > _DAYS_NAMED:
                message += f"; and {len(days) - _DAYS_NAMED} more days"
        located.setdefault(channel_id, []).append(
            ChannelFinding(
                channels[channel_id], code, message, runs[0][0], runs[-1][1], tuple(runs)
            )
        )
    return located


def _event_findings(
    channel: MeterChannel, events: list[MeterEvent], *, net_metered: bool
) -> list[ChannelFinding]:
    """Tamper events, and reverse energy on a meter without a received channel (a meter that
    is not net metered should never see it): each a finding on the delivered channel with the
    use of the week after the event against the week before."""
    events = [
        e
        for e in events
        if e.kind == MeterEvent.Kind.TAMPER
        or (e.kind == MeterEvent.Kind.REVERSE_ENERGY and not net_metered)
    ]
    minutes = channel.interval_minutes or 60
    findings = []
    for event in events:
        moment = event.occurred_at.astimezone(UTC)
        floor = moment - timedelta(
            minutes=(moment.hour * 60 + moment.minute) % minutes,
            seconds=moment.second,
            microseconds=moment.microsecond,
        )
        week = timedelta(days=7)
        before = load_intervals(channel=channel, start_at=floor - week, end_at=floor).total
        after = load_intervals(channel=channel, start_at=floor, end_at=floor + week).total
        change = (
            f"; use in the week after is {after / before:.0%} of the week before"
            f" ({after:.1f} against {before:.1f} kWh)"
            if before > 0
            else ""
        )
        code = Rule.TAMPER if event.kind == MeterEvent.Kind.TAMPER else Rule.REVERSE_ENERGY
        findings.append(
            ChannelFinding(
                channel,
                code,
                f"{event.get_kind_display()} reported at {to_local(moment):%Y-%m-%d %H:%M}{change}",
                floor,
                floor + timedelta(minutes=minutes),
                ((floor, floor + timedelta(minutes=minutes)),),
            )
        )
    return findings


def run_vee(
    *,
    channels: Iterable[MeterChannel],
    start_at: datetime,
    end_at: datetime,
    actor,
    at: datetime,
    account_lookup: AccountLookup | None = None,
    rules: VeeRules | None = None,
    progress: Progress | None = None,
    imported: Mapping[int, Sequence[ChannelFinding]] | None = None,
) -> VeeReport:
    """Validate and estimate the intervals of ``channels`` over the UTC days covering
    ``[start_at, end_at)``, estimating and reporting only the intervals inside it (the rest
    of those days, and 35 days before, are context); write estimates as new versions
    (``source="vee"``) and raise a work item for each exception a person must resolve.
    ``rules`` overrides the meter class's.

    ``imported`` (by channel id, from ``findings_from_import``) are what an import's own
    checks found on these channels: raised with the run's findings, an exception both found
    raised once. Not its gaps (the run estimates what it can and raises what is left), nor its
    zero runs where ``account_lookup`` says nobody is served (the premise is vacant).

    Each channel commits on its own, so a long run stopped half way keeps what it finished and
    a rerun changes nothing that is already right."""
    if end_at <= start_at:
        raise ValidationError({"end_at": "The period must end after it starts."})
    within = (start_at, end_at)
    start_at, end_at = _utc_midnight_floor(start_at), _utc_midnight_ceil(end_at)
    channels = [c for c in channels if c.interval_minutes is not None]
    days = (end_at - start_at).days
    context = _RunContext(channels, start_at, end_at, within)
    accounts: dict[int, int | None] = {}  # by service point: a meter's channels ask once
    report = VeeReport()
    for done, channel in enumerate(channels, start=1):
        with transaction.atomic():
            meter = channel.meter
            installation = context.installations.get(meter.pk)
            point: ServicePoint | None = installation.service_point if installation else None
            if account_lookup and point and point.pk not in accounts:
                accounts[point.pk] = account_lookup(point.pk, start_at, end_at)
            account_id = accounts.get(point.pk) if point else None
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
            findings, vectors, estimated, unestimated = _validate_and_estimate(
                channel=channel,
                start_at=start_at,
                end_at=end_at,
                rules=channel_rules,
                occupied=occupied,
                active=active,
                within=within,
                reads=context.reads.get(channel.pk, []),
            )
            if channel.measure == MeterChannel.Measure.KWH_DELIVERED:
                findings += _event_findings(
                    channel,
                    context.events.get(meter.pk, []),
                    net_metered=meter.pk in context.net_metered,
                )
            findings += [
                f
                for f in (imported or {}).get(channel.pk, ())
                if f.code != vee.Reason.UNESTIMATED_GAP
                and not (f.code == vee.Reason.ZERO_RUN and occupied is False)
            ]
            if vectors:
                save_interval_days(
                    days=vectors,
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
                        "days": len(vectors),
                    },
                )
            raised, skipped = _raise_items(findings, account_id=account_id, actor=actor, at=at)
            report.findings += findings
            report.estimated_intervals += estimated
            report.unestimated_intervals += unestimated
            report.days_written += len(vectors)
            report.channels_checked += 1
            report.days_checked += days
            report.exceptions += raised
            report.work_items += [e.item for e in raised]
            report.already_raised += skipped
        if progress is not None:
            progress(done, len(channels))
    return report


@transaction.atomic
def estimate_register_read(
    *, channel: MeterChannel, read_at: datetime, actor, at: datetime, history_days: int = 365
) -> RegisterRead:
    """Write an ESTIMATED register read at ``read_at``.

    Between two real reads, the estimate lies on the straight line between them: the register
    already says how much was used over that span, and the estimate only places it in time,
    so it never creates energy the register says was not used (none at all when the two
    reads agree). After the latest read, it is that read advanced by the average daily use
    between the reads of the ``history_days`` days before it."""
    if RegisterRead.objects.filter(channel=channel, is_current=True, read_at=read_at).exists():
        raise ValidationError(
            {"read_at": f"{channel} already has a read at {read_at:%Y-%m-%d %H:%M}."}
        )
    reads = list(
        RegisterRead.objects.filter(channel=channel, is_current=True, read_at__lt=read_at).order_by(
            "-read_at"
        )[:400]
    )
    following = (
        RegisterRead.objects.filter(channel=channel, is_current=True, read_at__gt=read_at)
        .exclude(read_type=RegisterRead.ReadType.ESTIMATED)
        .order_by("read_at")
        .first()
    )
    latest = reads[0] if reads else None
    meter = channel.meter
    if latest is not None and following is not None:
        used_kwh = float(
            vee.register_delta(
                float(latest.reading),
                float(following.reading),
                multiplier=float(meter.multiplier),
                dials=meter.dials,
            )
        )
        span_days = (following.read_at - latest.read_at).total_seconds() / 86400
        average = used_kwh / span_days
        how = f"Placed between the reads of {latest.read_at:%Y-%m-%d} and {following.read_at:%Y-%m-%d} ({used_kwh:.3f} kWh between them)"
    else:
        earlier = (
            [r for r in reads[1:] if r.read_at >= latest.read_at - timedelta(days=history_days)]
            if latest
            else []
        )
        if latest is None or not earlier:
            raise ValidationError(
                {"read_at": f"{channel} needs two earlier reads to estimate from."}
            )
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
        how = f"Estimated from {average:.2f} kWh/day over {len(earlier) + 1} reads"
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
        reason=how[:300],
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
            "bounded_by_next_read": following is not None,
        },
    )
    return read


#: An analyst edits at most this many days at once; longer corrections are re-imports.
MAX_EDIT_DAYS = 62


def _check_span(channel: MeterChannel, start_at: datetime, end_at: datetime, reason: str) -> int:
    """The channel's interval length, once the span and reason of an edit are usable."""
    minutes = channel.interval_minutes
    if minutes is None:
        raise ValidationError({"channel": f"{channel} has no intervals to edit."})
    if not reason.strip():
        raise ValidationError({"reason": "Say why the reads are being changed."})
    if end_at <= start_at:
        raise ValidationError({"end_at": "The change must end after it starts."})
    if end_at - start_at > timedelta(days=MAX_EDIT_DAYS):
        raise ValidationError({"end_at": f"Change at most {MAX_EDIT_DAYS} days at once."})
    for name, moment in (("start_at", start_at), ("end_at", end_at)):
        since_midnight = moment.astimezone(UTC) - _utc_midnight_floor(moment)
        if since_midnight.total_seconds() % (minutes * 60):
            raise ValidationError(
                {name: f"{to_local(moment):%H:%M} is not on a {minutes}-minute interval boundary."}
            )
    return minutes


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
    minutes = _check_span(channel, start_at, end_at, reason)
    count = int((end_at - start_at).total_seconds() // (minutes * 60))
    new = np.asarray(list(values), dtype=np.float64)
    if new.shape != (count,):
        surplus = len(new) - count
        raise ValidationError(
            {
                "values": f"{count} intervals need {count} values, got {len(new)} ("
                + (f"{surplus} too many" if surplus > 0 else f"{-surplus} too few")
                + ")."
            }
        )
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


class EstimationMethod:
    """How an analyst asks for intervals to be estimated."""

    LINEAR = "linear"
    PROFILE = "profile"
    LABELS = {LINEAR: "linear interpolation", PROFILE: "same-weekday profile"}
    CHOICES = list(LABELS.items())


@transaction.atomic
def estimate_intervals(
    *,
    channel: MeterChannel,
    start_at: datetime,
    end_at: datetime,
    method: str,
    reason: str,
    actor,
    at: datetime,
    runs: Sequence[tuple[datetime, datetime]] | None = None,
    weeks: int = 4,
) -> dict[str, int]:
    """A billing analyst has the intervals starting in ``[start_at, end_at)`` — or only those
    in ``runs`` within it — replaced by an estimate, flagged ESTIMATED, each touched UTC day a
    new version (``source="edit"``, with who and why):

    - ``linear``: the straight line between the nearest actual (or edited) intervals before
      and after each run;
    - ``profile``: each interval's average over the same weekday and time of the last
      ``weeks`` weeks that measured it.

    :raises ValidationError: when an interval cannot be estimated that way (no reading on
        both sides, no history), naming the first such interval; nothing is written.
    """
    if method not in EstimationMethod.LABELS:
        raise ValidationError(
            {"method": f"“{method}” is not an estimation method (linear or profile)."}
        )
    minutes = _check_span(channel, start_at, end_at, reason)
    n = intervals_per_day(minutes)
    step = minutes * 60
    first = _utc_midnight_floor(start_at) - timedelta(days=weeks * 7)
    last = _utc_midnight_ceil(end_at) + timedelta(days=1)
    series = load_intervals(channel=channel, start_at=first, end_at=last)

    def position(moment: datetime) -> int:
        return int((moment - first).total_seconds() // step)

    mask = np.zeros(len(series.values), dtype=bool)
    for run_start, run_end in runs or [(start_at, end_at)]:
        mask[position(max(run_start, start_at)) : position(min(run_end, end_at))] = True
    if not mask.any():
        raise ValidationError({"end_at": "No interval to estimate in that span."})
    values, flags = series.values.copy(), series.flags.copy()
    work = flags.copy()
    work[mask] = Quality.MISSING
    if method == EstimationMethod.LINEAR:
        filled, filled_flags = vee.interpolate_short_gaps(
            np.where(work == Quality.MISSING, 0.0, values), work, max_intervals=len(values)
        )
        estimate, usable = filled[0], filled_flags[0] == Quality.ESTIMATED
        missing_why = "has no actual reading on both sides to interpolate between"
    else:
        profile = vee.same_weekday_profile(
            values,
            work,
            target_start=0,
            target_length=len(values),
            intervals_per_week=7 * n,
            weeks=weeks,
        )
        estimate, usable = profile[0], np.isfinite(profile[0])
        missing_why = f"has no actual reading on the same weekday in the {weeks} weeks before"
    unfilled = np.flatnonzero(mask & ~usable)
    if len(unfilled):
        moment = series.starts[unfilled[0]].astype(datetime).replace(tzinfo=UTC)
        raise ValidationError(
            {
                "method": f"{len(unfilled)} of the intervals cannot be estimated by {EstimationMethod.LABELS[method]}: the one at {to_local(moment):%Y-%m-%d %H:%M} {missing_why}. Try the other method or enter the values."
            }
        )
    before_values, before_flags = values[mask].copy(), flags[mask].copy()
    values[mask] = np.maximum(estimate[mask], 0.0)
    flags[mask] = Quality.ESTIMATED
    touched = sorted({int(p) // n for p in np.flatnonzero(mask)})
    day_zero = first.date()
    counts = save_interval_days(
        days=[
            DayVector(
                channel.pk,
                day_zero + timedelta(days=index),
                minutes,
                values[index * n : (index + 1) * n].astype(np.float32),
                flags[index * n : (index + 1) * n],
            )
            for index in touched
        ],
        recorded_at=at,
        source="edit",
        actor_label=_label(actor),
        reason=f"{EstimationMethod.LABELS[method]}: {reason.strip()}"[:300],
    )
    shown = int(mask.sum()) <= 400
    audit.record(
        "metering.intervals.estimated_by_analyst",
        subject=channel.meter,
        actor=actor,
        at=at,
        reason=reason.strip(),
        before={
            "channel": channel.number,
            "start_at": start_at,
            "end_at": end_at,
            "kwh": round(float(before_values.sum()), 4),
            **(
                {
                    "values": [round(float(v), 4) for v in before_values],
                    "flags": [Quality.LABELS[int(f)] for f in before_flags],
                }
                if shown
                else {}
            ),
        },
        after={
            "channel": channel.number,
            "method": method,
            "intervals": int(mask.sum()),
            "kwh": round(float(values[mask].sum()), 4),
            **({"values": [round(float(v), 4) for v in values[mask]]} if shown else {}),
        },
    )
    return {"intervals": int(mask.sum()), **counts}


class Resolution:
    """What a person does with a VEE exception."""

    ACCEPT = "accept"
    ESTIMATE = "estimate"
    EDIT = "edit"
    LABELS = {
        ACCEPT: "Accept the reads as they are",
        ESTIMATE: "Estimate the intervals at fault",
        EDIT: "Enter corrected values",
    }


def get_vee_exception(item: WorkItem | int) -> VeeException:
    """The exception a work item stands for.

    :raises WorkItem.DoesNotExist: when the item is not a VEE exception.
    """
    if not isinstance(item, WorkItem):
        item = WorkItem.objects.select_related("category").get(pk=item)
    after = (
        AuditEvent.objects.filter(
            event=EXCEPTION_EVENT,
            subject_type=ContentType.objects.get_for_model(WorkItem),
            subject_id=str(item.pk),
        )
        .values_list("after", flat=True)
        .first()
    )
    if after is None:
        raise WorkItem.DoesNotExist(f"work item #{item.pk} is not a VEE exception")
    return VeeException.from_event(item, after)


@transaction.atomic
def resolve_vee_exception(
    *,
    exception: VeeException,
    action: str,
    reason: str,
    actor,
    at: datetime,
    method: str = "",
    values: Sequence[float] | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> WorkItem:
    """Resolve an exception and close its work item with the reason:

    - ``accept``: the reads stand as they are (a real spike, a real vacancy);
    - ``estimate``: the intervals at fault are estimated by ``method`` (``estimate_intervals``);
    - ``edit``: ``values`` replace the intervals of ``[start_at, end_at)`` (``edit_intervals``;
      the exception's span by default).

    A rerun of VEE does not raise it again. Nothing is written when any step refuses.
    """
    item = WorkItem.objects.select_for_update().get(pk=exception.item.pk)
    if item.is_closed:
        raise ValidationError(
            {
                "item": f"#{item.pk} is already {item.get_status_display().lower()}: {item.resolution}"
            }
        )
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the exception is resolved this way."})
    channel = MeterChannel.objects.select_related("meter").get(pk=exception.channel_id)
    if action == Resolution.ACCEPT:
        resolution = f"Accepted as-is: {reason}"
        detail: dict = {}
    elif action == Resolution.ESTIMATE:
        counts = estimate_intervals(
            channel=channel,
            start_at=start_at or exception.start_at,
            end_at=end_at or exception.end_at,
            runs=None if (start_at or end_at) else exception.runs,
            method=method,
            reason=f"{reason} (#{item.pk})",
            actor=actor,
            at=at,
        )
        label = EstimationMethod.LABELS[method]
        resolution = f"Estimated {counts['intervals']} intervals by {label}: {reason}"
        detail = {"method": method, "intervals": counts["intervals"]}
    elif action == Resolution.EDIT:
        span_start, span_end = start_at or exception.start_at, end_at or exception.end_at
        edit_intervals(
            channel=channel,
            start_at=span_start,
            end_at=span_end,
            values=list(values or []),
            reason=f"{reason} (#{item.pk})",
            actor=actor,
            at=at,
        )
        resolution = f"Edited {len(values or [])} intervals from {to_local(span_start):%Y-%m-%d %H:%M}: {reason}"
        detail = {"start_at": span_start, "end_at": span_end}
    else:
        raise ValidationError({"action": f"“{action}” is not a way to resolve an exception."})
    item = set_work_status(
        item=item, status=WorkItem.Status.DONE, resolution=resolution, actor=actor, at=at
    )
    audit.record(
        RESOLVED_EVENT,
        subject=item,
        actor=actor,
        at=at,
        account_id=item.account_id,
        reason=reason,
        after={"action": action, "rule": exception.rule, "channel_id": channel.pk, **detail},
    )
    return item
