"""The simulated head-end: deterministic, and failing where it is told to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ohm.metering.adapters.headend import CommStatus, SwitchState
from ohm.metering.adapters.simulator import Failure, SimulatedHeadEnd, SimulatorConfig

AT = datetime(2026, 3, 3, 18, 0, tzinfo=UTC)
SERIALS = ["MX0000001", "MX0000002", "MX0009999", "MX0009998", "MX0009997"]


def simulator(**config) -> SimulatedHeadEnd:
    return SimulatedHeadEnd(SimulatorConfig(**config), serials=lambda: SERIALS, use_store=False)


class TestPing:
    def test_gives_the_same_answer_for_the_same_seed_meter_and_moment(self):
        first, second = simulator(seed=7), simulator(seed=7)

        assert first.ping("MX0000001", at=AT) == second.ping("MX0000001", at=AT)

    def test_answers_with_a_latency_when_nothing_fails(self):
        result = simulator(unreachable_rate=0, timeout_rate=0).ping("MX0000001", at=AT)

        assert result.reachable
        assert result.comm_status == CommStatus.OK
        assert 250 <= result.latency_ms <= 1800
        assert result.attempts == 1

    def test_gets_no_response_from_a_serial_ending_9999_after_every_try(self):
        result = simulator().ping("MX0009999", at=AT)

        assert not result.reachable
        assert result.comm_status == CommStatus.NO_RESPONSE
        assert result.attempts == 3

    def test_reaches_a_slow_meter_on_the_last_try(self):
        result = simulator(unreachable_rate=0, timeout_rate=0).ping("MX0009998", at=AT)

        assert result.reachable
        assert result.attempts == 3
        assert result.latency_ms > 10_000

    def test_reports_a_forced_timeout(self):
        headend = simulator()
        headend.force("MX0000001", Failure.TIMEOUT)

        assert headend.ping("MX0000001", at=AT).comm_status == CommStatus.TIMEOUT

    def test_does_not_know_a_meter_outside_its_list(self):
        assert simulator().ping("NOPE", at=AT).comm_status == CommStatus.UNKNOWN_METER

    def test_fails_about_as_often_as_configured(self):
        headend = simulator(unreachable_rate=0.5, timeout_rate=0, tries=1)

        answered = sum(
            headend.ping("MX0000001", at=AT + timedelta(minutes=k)).reachable for k in range(400)
        )

        assert 150 < answered < 250


class TestReadOnDemand:
    def test_returns_registers_and_todays_intervals_so_far(self):
        read = simulator(unreachable_rate=0, timeout_rate=0).read_on_demand("MX0000001", at=AT)

        delivered = read.channels[0]
        # 10:00 Pacific: ten whole hours of the local day have passed.
        assert read.succeeded
        assert len(delivered.values) == 10
        assert delivered.start_at == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
        assert all(v > 0 for v in delivered.values)
        assert delivered.register_kwh > 0

    def test_returns_no_channels_when_the_meter_does_not_answer(self):
        read = simulator().read_on_demand("MX0009999", at=AT)

        assert not read.succeeded
        assert read.channels == ()


class TestSwitch:
    def test_opens_and_closes_the_switch(self):
        headend = simulator(unreachable_rate=0, timeout_rate=0, switch_failure_rate=0)

        opened = headend.disconnect("MX0000001", at=AT)
        closed = headend.connect("MX0000001", at=AT + timedelta(minutes=1))

        assert (opened.confirmed, opened.state) == (True, SwitchState.OPEN)
        assert (closed.confirmed, closed.state) == (True, SwitchState.CLOSED)

    def test_reports_a_jammed_switch_still_closed(self):
        result = simulator(unreachable_rate=0, timeout_rate=0).disconnect("MX0009997", at=AT)

        assert not result.confirmed
        assert result.state == SwitchState.CLOSED
        assert "did not move" in result.failure_reason

    def test_cannot_operate_a_meter_that_does_not_answer(self):
        result = simulator().disconnect("MX0009999", at=AT)

        assert not result.confirmed
        assert result.state == SwitchState.UNKNOWN


class TestEventsSince:
    @pytest.fixture
    def headend(self):
        return simulator(event_rate_per_day=2.0)

    def test_gives_the_same_events_whether_polled_once_or_in_two_parts(self, headend):
        start = AT - timedelta(days=2)

        whole = headend.events_since(start.isoformat(), at=AT)
        first = headend.events_since(start.isoformat(), at=AT - timedelta(hours=17, minutes=30))
        second = headend.events_since(first.cursor, at=AT)

        assert whole.events
        assert whole.events == first.events + second.events
        assert whole.cursor == AT.isoformat()

    def test_brackets_an_outage_with_last_gasp_and_restore(self, headend):
        events = headend.events_since((AT - timedelta(days=3)).isoformat(), at=AT).events

        kinds = {e.kind for e in events}
        assert {"last_gasp", "power_outage"} <= kinds
