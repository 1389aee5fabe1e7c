"""The meter page: the CSR's AMI troubleshooting tool.

It shows what Ohm knows (facts, installations, last communication, last read, recent events,
switch state, usage) and asks the head-end on the CSR's command (ping, read now, connect,
disconnect), showing each answer inline in words a CSR can act on.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.contrib.contenttypes.models import ContentType
from django.db.models import Max
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from ohm.console.views.auth import staff_required
from ohm.core import clock
from ohm.core.localtime import day_bounds, localdate, to_local
from ohm.core.models import AuditEvent
from ohm.metering import headend_operations
from ohm.metering import queries as metering_queries
from ohm.metering.adapters import get_headend
from ohm.metering.adapters.headend import CommStatus, SwitchState
from ohm.metering.models import IntervalDay, Meter, MeterChannel, MeterEvent, Quality, RegisterRead
from ohm.metering.store import decode, load_intervals, utc_midnight
from ohm.metering.usage import daily_usage, hourly_usage

QUALITY_DAYS = 14
#: Worst first: an hour shows the worst quality of its intervals.
_SEVERITY = [Quality.MISSING, Quality.EDITED, Quality.ESTIMATED, Quality.ACTUAL]

RECENT_EVENTS = 15
SWITCH_KINDS = (MeterEvent.Kind.SWITCH_OPENED, MeterEvent.Kind.SWITCH_CLOSED)


def _meter(serial: str) -> Meter:
    return get_object_or_404(Meter, serial=serial.upper())


def _last_communication(meter: Meter):
    """The latest moment the meter was heard from: a stored read, an event it sent, or a
    ping it answered."""
    moments = [
        IntervalDay.objects.filter(channel__meter=meter).aggregate(m=Max("recorded_at"))["m"],
        MeterEvent.objects.filter(meter=meter)
        .exclude(kind=MeterEvent.Kind.COMM_FAILURE)
        .exclude(source__endswith=":command")
        .aggregate(m=Max("received_at"))["m"],
        AuditEvent.objects.filter(
            event="metering.meter.pinged",
            subject_type=ContentType.objects.get_for_model(Meter),
            subject_id=str(meter.pk),
            after__reachable=True,
        ).aggregate(m=Max("occurred_at"))["m"],
    ]
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def _switch_state(meter: Meter) -> tuple[str, MeterEvent | None]:
    latest = MeterEvent.objects.filter(meter=meter, kind__in=SWITCH_KINDS).first()
    if latest is None:
        return SwitchState.CLOSED, None
    return (
        SwitchState.OPEN if latest.kind == MeterEvent.Kind.SWITCH_OPENED else SwitchState.CLOSED
    ), latest


@staff_required
@permission_required("metering.view_meter", raise_exception=True)
def meter_detail(request, serial: str):
    meter = _meter(serial)
    installations = list(
        meter.installations.select_related("service_point__premise").order_by("-installed_at")
    )
    current = next((i for i in installations if i.removed_at is None), None)
    state, switched = _switch_state(meter)
    latest_register = (
        RegisterRead.objects.filter(channel__meter=meter, is_current=True)
        .select_related("channel")
        .order_by("-read_at")
        .first()
    )
    latest_day = (
        IntervalDay.objects.filter(channel__meter=meter, is_current=True)
        .order_by("-day")
        .values("day", "recorded_at", "source")
        .first()
    )
    today = localdate(clock.now())
    # The chart ends at the latest day with reads: history imported from an older file
    # (a Green Button download of past years) is shown, not an empty year.
    chart_end = min(today, _latest_read_date(meter)) if latest_day else today
    delivered = _delivered_channel(meter)
    quality = []
    if delivered is not None and latest_day is not None:
        # The last fortnight that has data: a meter whose reads stopped still shows them.
        last = chart_end + timedelta(days=1)
        quality = metering_queries.list_day_quality(
            channel=delivered, start_date=last - timedelta(days=QUALITY_DAYS), end_date=last
        )[::-1]
    return render(
        request,
        "console/meter/detail.html",
        {
            "utility_tz": settings.UTILITY_TIME_ZONE,
            "meter": meter,
            "channels": meter.channels.all(),
            "installations": installations,
            "current": current,
            "switch_state": state,
            "switched": switched,
            "last_communication": _last_communication(meter),
            "latest_register": latest_register,
            "latest_day": latest_day,
            "events": MeterEvent.objects.filter(meter=meter)[:RECENT_EVENTS],
            "is_ami": meter.kind == Meter.Kind.AMI,
            "has_received": meter.channels.filter(
                measure="kwh_received", interval_minutes__isnull=False
            ).exists(),
            "today": today,
            "chart_end": chart_end,
            "quality": quality,
            "delivered": delivered,
            "corrections": metering_queries.list_corrected_days(meter=meter),
            "exceptions": metering_queries.list_meter_vee_exceptions(meter=meter),
        },
    )


def _latest_read_date(meter: Meter) -> date:
    """The local day of the meter's latest stored interval (a UTC day row can end early)."""
    row = (
        IntervalDay.objects.filter(channel__meter=meter, is_current=True)
        .order_by("-day", "-pk")
        .first()
    )
    assert row is not None  # the caller knows the meter has interval days
    _, flags = decode(row)
    present = np.flatnonzero(flags != Quality.MISSING)
    slot = int(present[-1]) if len(present) else 0
    return localdate(utc_midnight(row.day) + timedelta(minutes=slot * row.interval_minutes))


def _delivered_channel(meter: Meter) -> MeterChannel | None:
    return (
        meter.channels.filter(
            measure=MeterChannel.Measure.KWH_DELIVERED, interval_minutes__isnull=False
        )
        .order_by("number")
        .first()
    )


def _hour_qualities(meter: Meter, start_at, end_at, hours: int) -> list[str]:
    """The worst quality of the delivered channel's intervals in each hour of the span."""
    channel = _delivered_channel(meter)
    if channel is None:
        return ["missing"] * hours
    series = load_intervals(channel=channel, start_at=start_at, end_at=end_at)
    hour = (
        ((series.starts - series.starts[0]).astype("timedelta64[m]").astype(int) // 60)
        if len(series.starts)
        else []
    )
    worst = [Quality.ACTUAL] * hours
    for index, flag in zip(hour, series.flags.tolist(), strict=True):
        if index < hours and _SEVERITY.index(flag) < _SEVERITY.index(worst[index]):
            worst[index] = flag
    return [Quality.LABELS[flag] for flag in worst]


def _ping_message(result) -> str:
    if result.reachable:
        tries = "" if result.attempts == 1 else f" (on try {result.attempts})"
        return f"Reachable in {result.latency_ms:,} ms{tries}."
    return _no_answer_message(result.comm_status, result.attempts)


def _no_answer_message(comm_status: str, attempts: int) -> str:
    if comm_status == CommStatus.UNKNOWN_METER:
        return "The head-end does not know this meter — check that it was provisioned."
    if comm_status == CommStatus.HEADEND_ERROR:
        return "The head-end itself did not answer — try again, or tell the AMI team."
    return f"No response after {attempts} tries — check for an outage or comm failure."


@staff_required
@permission_required("metering.view_meter", raise_exception=True)
@require_POST
def meter_ping(request, serial: str):
    meter = _meter(serial)
    result = headend_operations.ping_meter(
        meter=meter, headend=get_headend(), actor=request.user, at=clock.now()
    )
    return render(
        request,
        "console/meter/_result.html",
        {
            "utility_tz": settings.UTILITY_TIME_ZONE,
            "ok": result.reachable,
            "message": _ping_message(result),
            "at": result.at,
        },
    )


@staff_required
@permission_required("metering.view_meter", raise_exception=True)
@require_POST
def meter_read(request, serial: str):
    meter = _meter(serial)
    outcome = headend_operations.read_meter_on_demand(
        meter=meter, headend=get_headend(), actor=request.user, at=clock.now()
    )
    read = outcome.read
    if read.succeeded:
        registers = ", ".join(
            f"ch {c.number} register {c.register_kwh:,} kWh" for c in read.channels
        )
        message = f"Read now: {registers}; {outcome.intervals_stored} intervals of today stored."
    else:
        message = _no_answer_message(read.comm_status, read.attempts)
    return render(
        request,
        "console/meter/_result.html",
        {
            "utility_tz": settings.UTILITY_TIME_ZONE,
            "ok": read.succeeded,
            "message": message,
            "at": read.at,
        },
    )


def _switch(request, serial: str, *, close: bool):
    meter = _meter(serial)
    reason = (request.POST.get("reason") or "").strip()
    if not reason:
        return render(
            request,
            "console/meter/_result.html",
            {
                "utility_tz": settings.UTILITY_TIME_ZONE,
                "ok": False,
                "message": "Give a reason for the switch operation.",
            },
            status=422,
        )
    operate = headend_operations.remote_connect if close else headend_operations.remote_disconnect
    result = operate(
        meter=meter, headend=get_headend(), actor=request.user, at=clock.now(), reason=reason
    )
    if result.confirmed:
        message = (
            "Connected: the meter confirms its switch is closed; the service point is energized."
            if close
            else "Disconnected: the meter confirms its switch is open; the service point is de-energized."
        )
    else:
        message = f"Not confirmed: {result.failure_reason} Send a field order if it persists."
    return render(
        request,
        "console/meter/_result.html",
        {
            "utility_tz": settings.UTILITY_TIME_ZONE,
            "ok": result.confirmed,
            "message": message,
            "at": result.at,
        },
    )


@staff_required
@permission_required("metering.change_meter", raise_exception=True)
@require_POST
def meter_disconnect(request, serial: str):
    return _switch(request, serial, close=False)


@staff_required
@permission_required("metering.change_meter", raise_exception=True)
@require_POST
def meter_connect(request, serial: str):
    return _switch(request, serial, close=True)


@staff_required
@permission_required("metering.view_meter", raise_exception=True)
def meter_usage(request, serial: str):
    """Chart data: daily kWh for ``days`` local days up to ``end`` (default today), and, when
    ``day`` is given, that local day's hourly kWh with each hour's worst interval quality."""
    meter = _meter(serial)
    today = localdate(clock.now())
    try:
        days = max(1, min(int(request.GET.get("days", 396)), 800))
    except ValueError:
        days = 396
    try:
        last = min(date.fromisoformat(request.GET["end"]), today) if "end" in request.GET else today
    except ValueError:
        return JsonResponse({"error": "end must be YYYY-MM-DD"}, status=400)
    start = last - timedelta(days=days - 1)
    daily = daily_usage(meter=meter, start_date=start, end_date=last + timedelta(days=1))
    body = {
        "serial": meter.serial,
        "daily": [
            {
                "date": d.local_date.isoformat(),
                "delivered_kwh": round(d.delivered_kwh, 3),
                "received_kwh": round(d.received_kwh, 3),
                "estimated_share": round(d.estimated_share, 3),
            }
            for d in daily
        ],
    }
    day_text = request.GET.get("day")
    if day_text:
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            return JsonResponse({"error": "day must be YYYY-MM-DD"}, status=400)
        start_at, end_at = day_bounds(day)
        body["day"] = day.isoformat()
        hours = hourly_usage(meter=meter, start_at=start_at, end_at=end_at)
        qualities = _hour_qualities(meter, start_at, end_at, len(hours))
        body["hourly"] = [
            {
                "start": to_local(h.start_at).strftime("%H:%M"),
                "delivered_kwh": round(h.delivered_kwh, 3),
                "received_kwh": round(h.received_kwh, 3),
                "quality": quality,
            }
            for h, quality in zip(hours, qualities, strict=True)
        ]
    return JsonResponse(body)
