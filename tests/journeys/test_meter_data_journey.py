"""A day of an AMI meter's life with VEE, the clock moving: an outage in the morning's file,
the exception it raises, the analyst's estimate, and the late reads that replace it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from ohm.core import clock
from ohm.metering.models import IntervalDay, Quality
from ohm.metering.queries import ExceptionFilters, list_interval_history, list_vee_exceptions
from ohm.metering.store import load_intervals
from ohm.metering.usage import estimated_share
from ohm.metering.vee_operations import EstimationMethod, Resolution, resolve_vee_exception
from ohm.workqueue.models import WorkItem
from tests.factories import make_served_account

HEADER = "meter,channel,interval_end,value,quality\n"
DAY = datetime(2026, 3, 10, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def csv(tmp_path, name, hours):
    lines = [
        f"JR0000001,1,{DAY + timedelta(hours=h + 1):%Y-%m-%dT%H:%M:%SZ},{0.5 + (h % 5) / 10:.1f},A"
        for h in hours
    ]
    path = tmp_path / name
    path.write_text(HEADER + "\n".join(lines) + "\n")
    return path


def reads(*args) -> str:
    out = StringIO()
    call_command("reads", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_an_outage_is_estimated_by_the_analyst_then_replaced_by_the_late_reads(
    tmp_path, make_staff
):
    analyst = make_staff("billing_analyst", "bea")
    make_served_account(meter_serial="JR0000001")
    outage = range(8, 14)  # six hours without reads: too long to interpolate, no history

    # The morning: the day's file arrives with the outage in it.
    with clock.frozen_at(DAY + timedelta(days=1, hours=6)):
        out = reads(
            "import",
            str(csv(tmp_path, "day.csv", [h for h in range(24) if h not in outage])),
            "--format",
            "csv",
        )
    (exception,) = list_vee_exceptions(filters=ExceptionFilters(), as_of=DAY + timedelta(days=2))
    assert "exceptions raised    1" in out
    assert exception.rule == "unestimated_gap"
    assert (exception.start_at, exception.end_at) == (
        DAY + timedelta(hours=8),
        DAY + timedelta(hours=14),
    )

    # Mid-morning the analyst estimates it so the bill can go out.
    moment = DAY + timedelta(days=1, hours=10)
    resolve_vee_exception(
        exception=exception,
        action=Resolution.ESTIMATE,
        method=EstimationMethod.LINEAR,
        reason="Mesh outage; bill cycle today",
        actor=analyst,
        at=moment,
    )
    channel = exception.item.subject.channels.get(number=1)
    assert estimated_share(channel=channel, start_at=DAY, end_at=DAY + timedelta(days=1)) > 0

    # Two days later the collector catches up and sends the missing hours.
    with clock.frozen_at(DAY + timedelta(days=3)):
        late = reads("import", str(csv(tmp_path, "late.csv", outage)), "--format", "csv")
        again = reads("vee", "--meter", "JR0000001", "--start", "2026-03-10", "--end", "2026-03-11")

    series = load_intervals(channel=channel, start_at=DAY, end_at=DAY + timedelta(days=1))
    assert (series.flags == Quality.ACTUAL).all()
    assert estimated_share(channel=channel, start_at=DAY, end_at=DAY + timedelta(days=1)) == 0
    assert "exceptions raised    0" in late
    assert "exceptions raised    0" in again
    assert WorkItem.objects.get().status == WorkItem.Status.DONE
    rows = IntervalDay.objects.filter(channel=channel, day=DAY.date()).order_by("version")
    assert [r.source.split(":")[0] for r in rows] == ["import", "edit", "import"]
    (hour,) = list_interval_history(
        channel=channel, start_at=DAY + timedelta(hours=9), end_at=DAY + timedelta(hours=10)
    )
    assert [(v.version, v.quality) for v in hour.earlier] == [(2, "estimated"), (1, "missing")]
