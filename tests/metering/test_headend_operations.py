"""Head-end operations: what Ohm records when it pings, reads and switches a meter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ohm.core.audit import SystemActor
from ohm.core.models import AuditEvent
from ohm.metering import headend_operations
from ohm.metering.adapters.simulator import Failure, SimulatedHeadEnd, SimulatorConfig
from ohm.metering.models import IntervalDay, Meter, MeterEvent, Quality, RegisterRead
from ohm.metering.store import DayVector, load_intervals, save_interval_days
from ohm.premises.models import ServicePoint
from tests.factories import make_served_account

AT = datetime(2026, 3, 3, 18, 0, tzinfo=UTC)
ACTOR = SystemActor("test")

pytestmark = pytest.mark.django_db


@pytest.fixture
def meter():
    make_served_account(meter_serial="HE0000001")
    return Meter.objects.get(serial="HE0000001")


@pytest.fixture
def headend():
    return SimulatedHeadEnd(
        SimulatorConfig(unreachable_rate=0, timeout_rate=0, switch_failure_rate=0)
    )


class TestPingMeter:
    def test_records_who_pinged_and_the_answer(self, meter, headend):
        result = headend_operations.ping_meter(meter=meter, headend=headend, actor=ACTOR, at=AT)

        event = AuditEvent.objects.get(event="metering.meter.pinged")
        assert result.reachable
        assert event.after["latency_ms"] == result.latency_ms

    def test_notes_a_communication_failure_once_when_the_meter_is_silent(self, meter, headend):
        headend.force(meter.serial, Failure.UNREACHABLE)

        headend_operations.ping_meter(meter=meter, headend=headend, actor=ACTOR, at=AT)
        headend_operations.ping_meter(meter=meter, headend=headend, actor=ACTOR, at=AT)

        assert MeterEvent.objects.filter(meter=meter, kind="comm_failure").count() == 1


class TestReadMeterOnDemand:
    def test_stores_todays_intervals_as_actual_and_the_register(self, meter, headend):
        outcome = headend_operations.read_meter_on_demand(
            meter=meter, headend=headend, actor=ACTOR, at=AT
        )

        channel = meter.channels.get(number=1)
        series = load_intervals(channel=channel, start_at=AT - timedelta(hours=10), end_at=AT)
        assert outcome.intervals_stored == 20  # ten hours on two channels
        assert (series.flags == Quality.ACTUAL).all()
        assert series.values.sum() > 0
        assert IntervalDay.objects.filter(source="headend").exists()
        assert RegisterRead.objects.filter(channel=channel, read_type="ami").count() == 1

    def test_keeps_a_persons_edit_and_agrees_with_stored_reads(self, meter, headend):
        channel = meter.channels.get(number=1)
        values = np.full(24, 0.5, dtype=np.float32)
        flags = np.full(24, Quality.ACTUAL, dtype=np.uint8)
        flags[9] = Quality.EDITED
        values[9] = 9.0
        save_interval_days(
            days=[DayVector(channel.pk, AT.date(), 60, values, flags)],
            recorded_at=AT,
            source="test",
        )

        headend_operations.read_meter_on_demand(meter=meter, headend=headend, actor=ACTOR, at=AT)

        series = load_intervals(
            channel=channel, start_at=datetime(2026, 3, 3, tzinfo=UTC), end_at=AT
        )
        assert series.values[9] == 9.0
        assert series.flags[9] == Quality.EDITED
        assert series.values[8] == pytest.approx(0.5)

    def test_stores_nothing_but_the_failure_when_the_meter_does_not_answer(self, meter, headend):
        headend.force(meter.serial, Failure.UNREACHABLE)

        outcome = headend_operations.read_meter_on_demand(
            meter=meter, headend=headend, actor=ACTOR, at=AT
        )

        assert outcome.intervals_stored == 0
        assert not IntervalDay.objects.exists()
        assert MeterEvent.objects.filter(kind="comm_failure").count() == 1


class TestRemoteSwitch:
    def test_disconnect_records_the_switch_event_and_de_energizes(self, meter, headend):
        result = headend_operations.remote_disconnect(
            meter=meter, headend=headend, actor=ACTOR, at=AT, reason="nonpay"
        )

        point = ServicePoint.objects.get(meter_installations__meter=meter)
        assert result.confirmed
        assert not point.energized
        assert MeterEvent.objects.get(kind="switch_opened").detail["reason"] == "nonpay"
        assert AuditEvent.objects.filter(event="metering.meter.remote_disconnect").exists()

    def test_connect_after_disconnect_energizes_again(self, meter, headend):
        headend_operations.remote_disconnect(
            meter=meter, headend=headend, actor=ACTOR, at=AT, reason="nonpay"
        )

        headend_operations.remote_connect(
            meter=meter, headend=headend, actor=ACTOR, at=AT + timedelta(hours=1), reason="paid"
        )

        assert ServicePoint.objects.get(meter_installations__meter=meter).energized

    def test_a_jammed_switch_changes_nothing_but_is_audited(self, meter, headend):
        headend.force(meter.serial, Failure.SWITCH_JAMMED)

        result = headend_operations.remote_disconnect(
            meter=meter, headend=headend, actor=ACTOR, at=AT, reason="nonpay"
        )

        assert not result.confirmed
        assert ServicePoint.objects.get(meter_installations__meter=meter).energized
        assert not MeterEvent.objects.filter(kind="switch_opened").exists()
        audit = AuditEvent.objects.get(event="metering.meter.remote_disconnect")
        assert audit.after["confirmed"] is False


class TestPollEvents:
    def test_stores_each_event_once_across_repeated_polls(self, meter):
        headend = SimulatedHeadEnd(SimulatorConfig(event_rate_per_day=12.0))
        since = (AT - timedelta(days=2)).isoformat()

        first = headend_operations.poll_events(headend=headend, cursor=since, at=AT)
        again = headend_operations.poll_events(headend=headend, cursor=since, at=AT)

        assert first.stored > 0
        assert again.stored == 0
        assert again.already_known == first.stored
        assert MeterEvent.objects.count() == first.stored
        assert headend_operations.latest_event_cursor() == AT.isoformat()
