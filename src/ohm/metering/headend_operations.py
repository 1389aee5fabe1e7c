"""What Ohm does with the AMI head-end: ping, read now, remote switch, event polling.

Each function asks the head-end (any ``HeadEnd``), records what came back — reads in the
interval store, events as ``MeterEvent`` rows, the service point's energized state after a
confirmed switch — and leaves an audit event naming who asked. A meter that does not answer
is an answer too: it is returned (and noted as a communication failure), not raised.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
from django.db import IntegrityError, transaction

from ohm.core import audit
from ohm.metering.adapters.headend import (
    CommStatus,
    HeadEnd,
    OnDemandRead,
    PingResult,
    SwitchResult,
    SwitchState,
)
from ohm.metering.models import (
    Meter,
    MeterChannel,
    MeterEvent,
    MeterInstallation,
    Quality,
    RegisterRead,
)
from ohm.metering.store import (
    FLAG_DTYPE,
    VALUE_DTYPE,
    DayVector,
    day_number,
    fetch_current_days,
    intervals_per_day,
    save_interval_days,
    utc_midnight,
)
from ohm.premises import operations as premise_operations

SOURCE = "headend"


def _note_comm_failure(meter: Meter, *, status: str, at: datetime, operation: str) -> None:
    if status not in (CommStatus.NO_RESPONSE, CommStatus.TIMEOUT):
        return
    # A savepoint: the unique (meter, kind, occurred_at) may already hold this failure.
    try:
        with transaction.atomic():
            MeterEvent.objects.create(
                meter=meter,
                kind=MeterEvent.Kind.COMM_FAILURE,
                occurred_at=at,
                received_at=at,
                detail={"operation": operation, "comm_status": status},
                source=f"{SOURCE}:{operation}",
            )
    except IntegrityError:
        pass


def ping_meter(*, meter: Meter, headend: HeadEnd, actor, at: datetime) -> PingResult:
    result = headend.ping(meter.serial, at=at)
    with transaction.atomic():
        _note_comm_failure(meter, status=result.comm_status, at=at, operation="ping")
        audit.record(
            "metering.meter.pinged",
            subject=meter,
            actor=actor,
            at=at,
            after={
                "reachable": result.reachable,
                "latency_ms": result.latency_ms,
                "comm_status": result.comm_status,
                "attempts": result.attempts,
            },
        )
    return result


@dataclass(frozen=True)
class OnDemandOutcome:
    read: OnDemandRead
    intervals_stored: int
    days: dict[str, int]
    register_reads_stored: int


def _dial_reading(meter: Meter, register: Decimal) -> Decimal:
    return register % (Decimal(10) ** meter.dials)


@transaction.atomic
def read_meter_on_demand(*, meter: Meter, headend: HeadEnd, actor, at: datetime) -> OnDemandOutcome:
    """Read the meter now and keep what it sent: intervals become actual (replacing missing
    and estimated ones; a person's edit stays), registers become AMI register reads."""
    read = headend.read_on_demand(meter.serial, at=at)
    counts = {"inserted": 0, "versioned": 0, "unchanged": 0}
    stored_intervals = register_reads = 0
    if read.succeeded:
        channels = {c.number: c for c in meter.channels.all()}
        vectors: list[DayVector] = []
        for channel_read in read.channels:
            channel = channels.get(channel_read.number)
            if channel is None:
                continue
            if channel.interval_minutes and channel_read.values:
                days, placed = _day_vectors(channel, channel_read.start_at, channel_read.values)
                vectors.extend(days)
                stored_intervals += placed
            if not RegisterRead.objects.filter(
                channel=channel, read_at=at, is_current=True
            ).exists():
                RegisterRead.objects.create(
                    channel=channel,
                    read_at=at,
                    reading=_dial_reading(meter, channel_read.register_kwh),
                    read_type=RegisterRead.ReadType.AMI,
                    recorded_at=at,
                    source=SOURCE,
                    actor_label=getattr(actor, "username", "") or "system",
                )
                register_reads += 1
        if vectors:
            counts = save_interval_days(
                days=vectors,
                recorded_at=at,
                source=SOURCE,
                actor_label=getattr(actor, "username", "") or "system",
                reason="on-demand read",
            )
    _note_comm_failure(meter, status=read.comm_status, at=at, operation="read")
    audit.record(
        "metering.meter.read_on_demand",
        subject=meter,
        actor=actor,
        at=at,
        after={
            "comm_status": read.comm_status,
            "attempts": read.attempts,
            "intervals": stored_intervals,
            "register_reads": register_reads,
        },
    )
    return OnDemandOutcome(read, stored_intervals, counts, register_reads)


def _day_vectors(
    channel: MeterChannel, start_at: datetime, values: tuple[float, ...]
) -> tuple[list[DayVector], int]:
    """The channel's current UTC-day rows with the read's intervals laid in."""
    minutes = channel.interval_minutes
    if minutes is None:
        raise ValueError(f"{channel} is a register-only channel; it takes no intervals")
    n = intervals_per_day(minutes)
    start_at = start_at.astimezone(UTC)
    offsets_min = [
        int((start_at - utc_midnight(start_at.date())).total_seconds() // 60) + k * minutes
        for k in range(len(values))
    ]
    by_day: dict[date, list[tuple[int, float]]] = defaultdict(list)
    for offset, value in zip(offsets_min, values, strict=True):
        day = start_at.date() + timedelta(days=offset // 1440)
        by_day[day].append(((offset % 1440) // minutes, value))
    current = fetch_current_days(
        channel_ids=[channel.pk], first_day=min(by_day), last_day=max(by_day)
    )
    vectors, placed = [], 0
    for day, slots in sorted(by_day.items()):
        old = current.get((channel.pk, day_number(day)))
        day_values = (
            old.values.astype(VALUE_DTYPE).copy() if old else np.zeros(n, dtype=VALUE_DTYPE)
        )
        day_flags = (
            old.flags.astype(FLAG_DTYPE).copy()
            if old
            else np.full(n, Quality.MISSING, dtype=FLAG_DTYPE)
        )
        for index, value in slots:
            if day_flags[index] == Quality.EDITED:
                continue
            day_values[index] = value
            day_flags[index] = Quality.ACTUAL
            placed += 1
        vectors.append(DayVector(channel.pk, day, minutes, day_values, day_flags))
    return vectors, placed


def _current_installation(meter: Meter) -> MeterInstallation | None:
    return (
        MeterInstallation.objects.filter(meter=meter, removed_at__isnull=True)
        .select_related("service_point")
        .first()
    )


def _operate_switch(
    *, meter: Meter, headend: HeadEnd, actor, at: datetime, reason: str, close: bool
) -> SwitchResult:
    result = (headend.connect if close else headend.disconnect)(meter.serial, at=at)
    wanted = SwitchState.CLOSED if close else SwitchState.OPEN
    verb = "connect" if close else "disconnect"
    with transaction.atomic():
        if result.confirmed and result.state == wanted:
            kind = MeterEvent.Kind.SWITCH_CLOSED if close else MeterEvent.Kind.SWITCH_OPENED
            MeterEvent.objects.get_or_create(
                meter=meter,
                kind=kind,
                occurred_at=at,
                defaults={
                    "received_at": at,
                    "detail": {
                        "requested_by": getattr(actor, "username", "") or "system",
                        "reason": reason,
                    },
                    "source": f"{SOURCE}:command",
                },
            )
            installation = _current_installation(meter)
            if installation is not None:
                premise_operations.set_energized(
                    service_point=installation.service_point,
                    energized=close,
                    actor=actor,
                    at=at,
                    reason=f"Remote {verb} of {meter.serial}: {reason}",
                )
        elif result.state == SwitchState.UNKNOWN:
            # The meter never answered the command: for the CSR, a communication failure.
            _note_comm_failure(meter, status=CommStatus.NO_RESPONSE, at=at, operation=verb)
        audit.record(
            f"metering.meter.remote_{verb}",
            subject=meter,
            actor=actor,
            at=at,
            after={
                "confirmed": result.confirmed,
                "state": result.state,
                "failure_reason": result.failure_reason,
            },
            reason=reason,
        )
    return result


def remote_disconnect(
    *, meter: Meter, headend: HeadEnd, actor, at: datetime, reason: str
) -> SwitchResult:
    """Open the meter's remote switch; on confirmation the service point is de-energized."""
    return _operate_switch(
        meter=meter, headend=headend, actor=actor, at=at, reason=reason, close=False
    )


def remote_connect(
    *, meter: Meter, headend: HeadEnd, actor, at: datetime, reason: str
) -> SwitchResult:
    """Close the meter's remote switch; on confirmation the service point is energized."""
    return _operate_switch(
        meter=meter, headend=headend, actor=actor, at=at, reason=reason, close=True
    )


@dataclass(frozen=True)
class PollOutcome:
    received: int
    stored: int
    already_known: int
    unknown_meters: list[str]
    cursor: str


def latest_event_cursor() -> str | None:
    """Where the last poll stopped: the newest ``MeterEvent`` that came from the feed."""
    latest = (
        MeterEvent.objects.filter(source=f"{SOURCE}:feed")
        .order_by("-received_at")
        .values_list("detail", flat=True)
        .first()
    )
    return (latest or {}).get("cursor")


@transaction.atomic
def poll_events(*, headend: HeadEnd, cursor: str | None, at: datetime) -> PollOutcome:
    """Store the events meters sent since ``cursor``; polling the same window twice stores
    each event once (a meter, a kind and a moment name one event)."""
    batch = headend.events_since(cursor, at=at)
    serials = {e.serial for e in batch.events}
    meter_ids = dict(Meter.objects.filter(serial__in=serials).values_list("serial", "pk"))
    kinds = set(MeterEvent.Kind.values)
    wanted = [e for e in batch.events if e.serial in meter_ids and e.kind in kinds]
    existing = set(
        MeterEvent.objects.filter(
            meter_id__in=set(meter_ids.values()),
            occurred_at__in={e.occurred_at for e in wanted},
        ).values_list("meter_id", "kind", "occurred_at")
    )
    rows, seen = [], set()
    for event in wanted:
        key = (meter_ids[event.serial], event.kind, event.occurred_at)
        if key in existing or key in seen:
            continue
        seen.add(key)
        rows.append(
            MeterEvent(
                meter_id=key[0],
                kind=event.kind,
                occurred_at=event.occurred_at,
                received_at=at,
                detail={**event.detail, "cursor": batch.cursor},
                source=f"{SOURCE}:feed",
            )
        )
    MeterEvent.objects.bulk_create(rows, ignore_conflicts=True)
    return PollOutcome(
        received=len(batch.events),
        stored=len(rows),
        already_known=len(wanted) - len(rows),
        unknown_meters=sorted(serials - set(meter_ids)),
        cursor=batch.cursor,
    )
