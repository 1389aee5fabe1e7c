"""Recurring jobs and when they are due. ``ohm schedule`` (from cron or systemd, or with
``--loop`` beside the web server) runs each job whose interval has passed since it last
ran. Every job is safe to run again: each is idempotent by design."""

from __future__ import annotations

import io
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.management import call_command
from django.db import transaction

from ohm.agreements.operations import apply_due_service_changes
from ohm.banking.refunds import resolve_card_refunds
from ohm.core.audit import SystemActor
from ohm.core.localtime import localdate
from ohm.core.models import ScheduledJob
from ohm.metering.adapters import get_headend
from ohm.metering.headend_operations import latest_event_cursor, poll_events
from ohm.payments.cards import resolve_unsettled


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[datetime], str]
    description: str


def _service_roll(at: datetime) -> str:
    counts = apply_due_service_changes(
        as_of_date=localdate(at), actor=SystemActor("schedule:service-roll"), at=at
    )
    return f"{counts['started']} starts and {counts['stopped']} stops took effect"


def _card_janitor(at: datetime) -> str:
    outcome = resolve_unsettled(actor=SystemActor("schedule:card-janitor"), clock=lambda: at)
    # Approved card refunds whose processor answer was lost: asked again under the same key.
    card_refunds = resolve_card_refunds(actor=SystemActor("schedule:card-janitor"), at=at)
    return (
        f"{outcome.checked} card payments asked about: {outcome.posted} posted, "
        f"{outcome.declined} declined, {outcome.still_unknown} still unknown; "
        f"{sum(r.status == 'issued' for r in card_refunds)} of {len(card_refunds)} card refunds "
        "given back"
    )


def _poll_meter_events(at: datetime) -> str:
    outcome = poll_events(headend=get_headend(), cursor=latest_event_cursor(), at=at)
    return f"{outcome.stored} new meter events ({outcome.already_known} already known)"


def _nightly_vee(at: datetime) -> str:
    """VEE over yesterday for every channel with reads: the rules an import checks only on
    channels at fault (use on an inactive service point, tamper and reverse energy, register
    mismatches) run on every channel once a day."""
    yesterday = localdate(at) - timedelta(days=1)
    out = io.StringIO()
    call_command(
        "reads",
        "vee",
        "--start",
        yesterday.isoformat(),
        "--end",
        (yesterday + timedelta(days=1)).isoformat(),
        stdout=out,
        stderr=io.StringIO(),
    )
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    return lines[-1] if lines else "VEE ran"


JOBS = [
    Job(
        "service_roll",
        timedelta(hours=1),
        _service_roll,
        "Service starts and stops dated today take effect",
    ),
    Job(
        "meter_events",
        timedelta(minutes=15),
        _poll_meter_events,
        "Store new events from the AMI head-end",
    ),
    Job(
        "nightly_vee",
        timedelta(days=1),
        _nightly_vee,
        "VEE over yesterday's reads for every channel (theft signals, register checks)",
    ),
    Job(
        "card_janitor",
        timedelta(minutes=5),
        _card_janitor,
        "Ask the card processor about card payments left without an answer",
    ),
]


def due_jobs(*, at: datetime, jobs: list[Job] = JOBS) -> list[Job]:
    last = dict(ScheduledJob.objects.values_list("name", "last_started_at"))
    return [
        job for job in jobs if (started := last.get(job.name)) is None or at - started >= job.every
    ]


def run_job(job: Job, *, at: datetime) -> ScheduledJob:
    record, _ = ScheduledJob.objects.get_or_create(name=job.name)
    record.last_started_at = at
    try:
        with transaction.atomic():
            message = job.run(at)
        record.last_status, record.last_message = "ok", message
    except Exception:  # a failing job is recorded and retried next time; the others still run
        record.last_status, record.last_message = "failed", traceback.format_exc(limit=5)
    record.last_finished_at = at
    record.save()
    return record
