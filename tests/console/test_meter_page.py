"""The meter page: AMI troubleshooting for a CSR."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from ohm.core import clock
from ohm.metering.adapters import get_headend, reset_headend
from ohm.metering.adapters.simulator import Failure
from ohm.metering.models import Meter, MeterEvent, Quality
from ohm.metering.store import DayVector, save_interval_days
from ohm.premises.models import ServicePoint
from tests.factories import make_served_account

NOW = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def simulator(settings):
    settings.OHM_HEADEND = "simulator"
    reset_headend()
    headend = get_headend()
    headend.config = type(headend.config)(unreachable_rate=0, timeout_rate=0, switch_failure_rate=0)
    with clock.frozen_at(NOW):
        yield headend
    reset_headend()


@pytest.fixture
def meter():
    make_served_account(meter_serial="CM0000001")
    return Meter.objects.get(serial="CM0000001")


class TestMeterPage:
    def test_shows_facts_premise_link_and_troubleshooting_buttons(self, client, csr, meter):
        client.force_login(csr)

        page = client.get(f"/console/meters/{meter.serial}/").content.decode()

        assert "Last communication" in page
        assert "Never heard from" in page
        assert "/console/premises/" in page
        assert "Ping" in page
        assert "Read now" in page
        assert "vendor/chartjs/chart.umd.js" in page
        assert "Disconnect" not in page  # a CSR may not operate the switch

    def test_offers_the_switch_to_a_supervisor(self, client, supervisor, meter):
        client.force_login(supervisor)

        page = client.get(f"/console/meters/{meter.serial}/").content.decode()

        assert "Disconnect" in page

    def test_lists_recent_events(self, client, csr, meter):
        MeterEvent.objects.create(
            meter=meter, kind="tamper", occurred_at=NOW, received_at=NOW, source="test"
        )
        client.force_login(csr)

        page = client.get(f"/console/meters/{meter.serial}/").content.decode()

        assert "Tamper" in page


class TestPingAndRead:
    def test_ping_shows_the_latency_inline(self, client, csr, meter):
        client.force_login(csr)

        response = client.post(f"/console/meters/{meter.serial}/ping/", HTTP_HX_REQUEST="true")

        assert response.status_code == 200
        assert "Reachable in" in response.content.decode()

    def test_ping_of_a_silent_meter_suggests_what_to_check(self, client, csr, meter, simulator):
        simulator.force(meter.serial, Failure.UNREACHABLE)
        client.force_login(csr)

        text = client.post(f"/console/meters/{meter.serial}/ping/").content.decode()

        assert "No response after 3 tries — check for an outage or comm failure" in text

    def test_read_now_stores_reads_and_updates_last_communication(self, client, csr, meter):
        client.force_login(csr)

        text = client.post(f"/console/meters/{meter.serial}/read/").content.decode()
        page = client.get(f"/console/meters/{meter.serial}/").content.decode()

        assert "intervals of today stored" in text
        assert "Never heard from" not in page

    def test_a_csr_cannot_disconnect(self, client, csr, meter):
        client.force_login(csr)

        response = client.post(f"/console/meters/{meter.serial}/disconnect/", {"reason": "x"})

        assert response.status_code == 403


class TestSwitch:
    def test_disconnect_confirms_and_de_energizes(self, client, supervisor, meter):
        client.force_login(supervisor)

        text = client.post(
            f"/console/meters/{meter.serial}/disconnect/", {"reason": "nonpay"}
        ).content.decode()

        assert "Disconnected" in text
        assert not ServicePoint.objects.get(meter_installations__meter=meter).energized
        page = client.get(f"/console/meters/{meter.serial}/").content.decode()
        assert "Switch open (disconnected)" in page

    def test_a_jammed_switch_is_shown_as_not_confirmed(self, client, supervisor, meter, simulator):
        simulator.force(meter.serial, Failure.SWITCH_JAMMED)
        client.force_login(supervisor)

        text = client.post(
            f"/console/meters/{meter.serial}/disconnect/", {"reason": "nonpay"}
        ).content.decode()

        assert "Not confirmed" in text

    def test_needs_a_reason(self, client, supervisor, meter):
        client.force_login(supervisor)

        response = client.post(f"/console/meters/{meter.serial}/disconnect/", {"reason": " "})

        assert response.status_code == 422


class TestUsageJson:
    def test_gives_daily_and_hourly_kwh(self, client, csr, meter):
        channel = meter.channels.get(number=1)
        save_interval_days(
            days=[
                DayVector(
                    channel.pk,
                    date(2026, 3, 9) + timedelta(days=k),
                    60,
                    np.full(24, 0.5, dtype=np.float32),
                    np.full(24, Quality.ACTUAL, dtype=np.uint8),
                )
                for k in range(2)
            ],
            recorded_at=NOW,
            source="test",
        )
        client.force_login(csr)

        body = client.get(f"/console/meters/{meter.serial}/usage.json?days=5&day=2026-03-09").json()

        assert [d["date"] for d in body["daily"]][-1] == "2026-03-10"
        assert len(body["daily"]) == 5
        assert len(body["hourly"]) == 24
        assert sum(h["delivered_kwh"] for h in body["hourly"]) == pytest.approx(0.5 * 24)
