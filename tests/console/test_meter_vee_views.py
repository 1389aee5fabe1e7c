"""Meter data pages: the VEE exception queue, resolving an exception, the analyst's edit form,
and what the meter page shows of quality, versions and exceptions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from ohm.core import clock
from ohm.core.audit import SystemActor
from ohm.core.models import AuditEvent
from ohm.metering.models import IntervalDay, Meter, Quality
from ohm.metering.store import DayVector, load_intervals, save_interval_days
from ohm.metering.vee_config import rules_for
from ohm.metering.vee_operations import run_vee
from ohm.workqueue.models import WorkItem
from tests.factories import make_served_account

NOW = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)
DAY = date(2026, 3, 10)
START = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)  # local midnight (PDT)
VEE = SystemActor("vee")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
def analyst(make_staff):
    return make_staff("billing_analyst", "bea")


@pytest.fixture
def meter():
    make_served_account(meter_serial="CV0000001")
    return Meter.objects.get(serial="CV0000001")


def store_local_day(meter, values, flags):
    """24 hourly values for the local day DAY (07:00Z to 07:00Z), across two UTC days."""
    channel = meter.channels.get(number=1)
    v = np.zeros(48, dtype=np.float32)
    f = np.full(48, Quality.MISSING, dtype=np.uint8)
    v[7:31], f[7:31] = values, flags
    save_interval_days(
        days=[
            DayVector(
                channel.pk,
                DAY + timedelta(days=k),
                60,
                v[k * 24 : (k + 1) * 24],
                f[k * 24 : (k + 1) * 24],
            )
            for k in range(2)
        ],
        recorded_at=NOW,
        source="test",
    )
    return channel


def a_gap_exception(meter):
    values = np.arange(24, dtype=np.float32)
    flags = np.full(24, Quality.ACTUAL, dtype=np.uint8)
    values[10:12], flags[10:12] = 0, Quality.MISSING
    channel = store_local_day(meter, values, flags)
    report = run_vee(
        channels=[channel],
        start_at=START,
        end_at=START + timedelta(days=1),
        actor=VEE,
        at=NOW,
        rules=rules_for("default", max_interpolate_minutes=0, profile_weeks=0),
    )
    (exception,) = report.exceptions
    return channel, exception


class TestExceptionQueue:
    def test_lists_open_exceptions_with_links_to_meter_and_work_item(self, client, analyst, meter):
        _, exception = a_gap_exception(meter)
        client.force_login(analyst)

        page = client.get("/console/meter-data/exceptions/").content.decode()

        assert "gap VEE could not estimate" in page
        assert f"/console/meters/{meter.serial}/" in page
        assert f"/console/work/{exception.item.pk}/" in page
        assert f"/console/meter-data/exceptions/{exception.item.pk}/" in page
        assert "Mar 10, 2026" in page

    def test_filters_by_rule_route_class_and_age(self, client, analyst, meter):
        a_gap_exception(meter)
        client.force_login(analyst)

        def count(query):
            page = client.get(f"/console/meter-data/exceptions/?{query}").content.decode()
            return page.count("/console/meter-data/exceptions/") - page.count(
                'href="/console/meter-data/exceptions/"'
            )

        assert count("rule=unestimated_gap") == 1
        assert count("rule=spike") == 0
        assert count("route=R01") == 1
        assert count("route=R99") == 0
        assert count("meter_class=residential") == 1
        assert count("meter_class=large_commercial") == 0
        assert count("age=7") == 0

    def test_nav_links_to_the_queue(self, client, analyst):
        client.force_login(analyst)

        assert "/console/meter-data/exceptions/" in client.get("/console/").content.decode()


class TestResolveException:
    def test_accepting_closes_the_work_item_with_the_reason(self, client, analyst, meter):
        _, exception = a_gap_exception(meter)
        client.force_login(analyst)
        url = f"/console/meter-data/exceptions/{exception.item.pk}/"

        response = client.post(url, {"action": "accept", "reason": "Outage on the feeder"})

        assert response.status_code == 302
        item = WorkItem.objects.get(pk=exception.item.pk)
        assert item.status == WorkItem.Status.DONE
        assert item.resolution == "Accepted as-is: Outage on the feeder"
        assert "Outage on the feeder" in client.get(url).content.decode()

    def test_estimating_needs_a_method_and_a_reason(self, client, analyst, meter):
        _, exception = a_gap_exception(meter)
        client.force_login(analyst)

        response = client.post(
            f"/console/meter-data/exceptions/{exception.item.pk}/", {"action": "estimate"}
        )

        page = response.content.decode()
        assert response.status_code == 200
        assert "Choose how to estimate." in page
        assert "Say why the exception is resolved this way." in page
        assert WorkItem.objects.get().status == WorkItem.Status.OPEN

    def test_estimating_by_interpolation_fills_the_gap(self, client, analyst, meter):
        channel, exception = a_gap_exception(meter)
        client.force_login(analyst)

        client.post(
            f"/console/meter-data/exceptions/{exception.item.pk}/",
            {"action": "estimate", "method": "linear", "reason": "Radio dropped out"},
        )

        series = load_intervals(channel=channel, start_at=START, end_at=START + timedelta(days=1))
        assert series.values[10:12].tolist() == [10.0, 11.0]
        assert WorkItem.objects.get().status == WorkItem.Status.DONE

    def test_a_csr_may_accept_but_not_estimate(self, client, csr, meter):
        _, exception = a_gap_exception(meter)
        client.force_login(csr)

        response = client.post(
            f"/console/meter-data/exceptions/{exception.item.pk}/",
            {"action": "estimate", "method": "linear", "reason": "x"},
        )

        assert "Only a billing analyst may change reads." in response.content.decode()
        assert WorkItem.objects.get().status == WorkItem.Status.OPEN

    def test_choosing_edit_opens_the_edit_form_for_the_exception(self, client, analyst, meter):
        _, exception = a_gap_exception(meter)
        client.force_login(analyst)

        response = client.post(
            f"/console/meter-data/exceptions/{exception.item.pk}/",
            {"action": "edit", "reason": "typing them in"},
        )

        assert response.status_code == 302
        assert f"item={exception.item.pk}" in response.url
        assert "start=10%3A00" in response.url


class TestIntervalEditForm:
    def form(self, **changes):
        data = {
            "channel": "1",
            "day": "2026-03-10",
            "start": "03:00",
            "end": "05:00",
            "action": "values",
            "values": "2.5, 3.5",
            "reason": "Field read after meter test",
        }
        data.update(changes)
        return data

    def test_shows_values_quality_and_earlier_versions(self, client, analyst, meter):
        a_gap_exception(meter)
        client.force_login(analyst)
        client.post(f"/console/meters/{meter.serial}/intervals/", self.form())

        page = client.get(
            f"/console/meters/{meter.serial}/intervals/?channel=1&day=2026-03-10"
        ).content.decode()

        assert page.count('<tr><td class="nowrap">Mar 10 ') == 24
        assert "edited" in page
        assert "missing" in page
        assert "v1: 3.000 actual" in page
        assert "Field read after meter test" in page  # the version's reason

    def test_saves_values_as_a_new_audited_version(self, client, analyst, meter):
        channel = store_local_day(meter, np.ones(24), np.full(24, Quality.ACTUAL))
        client.force_login(analyst)

        response = client.post(f"/console/meters/{meter.serial}/intervals/", self.form())

        assert response.status_code == 302
        series = load_intervals(channel=channel, start_at=START, end_at=START + timedelta(days=1))
        assert series.values[3:5].tolist() == [2.5, 3.5]
        assert series.flags[3:5].tolist() == [Quality.EDITED] * 2
        assert AuditEvent.objects.get(event="metering.intervals.edited").actor == analyst

    def test_saving_from_an_exception_resolves_it(self, client, analyst, meter):
        _channel, exception = a_gap_exception(meter)
        client.force_login(analyst)

        client.post(
            f"/console/meters/{meter.serial}/intervals/",
            self.form(start="10:00", end="12:00", values="4 5", item=str(exception.item.pk)),
        )

        item = WorkItem.objects.get(pk=exception.item.pk)
        assert item.status == WorkItem.Status.DONE
        assert item.resolution.startswith("Edited 2 intervals")

    def test_estimates_by_the_chosen_method(self, client, analyst, meter):
        channel, _ = a_gap_exception(meter)
        client.force_login(analyst)

        client.post(
            f"/console/meters/{meter.serial}/intervals/",
            self.form(start="10:00", end="12:00", action="linear", values=""),
        )

        series = load_intervals(channel=channel, start_at=START, end_at=START + timedelta(days=1))
        assert series.flags[10:12].tolist() == [Quality.ESTIMATED] * 2

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"values": "2.5, lots"}, "Value 2 (“lots”) is not a number."),
            ({"values": "2.5, -1"}, "Value 2 (-1) is negative"),
            ({"values": "1 2 3"}, "2 intervals need 2 values, got 3 (1 too many)."),
            ({"reason": ""}, "Say why the reads are being changed."),
            ({"values": ""}, "Enter the new values, or choose an estimate."),
            ({"start": "03:30"}, "is not on a 60-minute interval boundary"),
            ({"start": "06:00"}, "The span must end after it starts."),
        ],
    )
    def test_refuses_bad_input_with_a_clear_message_and_writes_nothing(
        self, client, analyst, meter, changes, message
    ):
        channel = store_local_day(meter, np.ones(24), np.full(24, Quality.ACTUAL))
        client.force_login(analyst)

        response = client.post(f"/console/meters/{meter.serial}/intervals/", self.form(**changes))

        assert response.status_code == 200
        assert message in response.content.decode()
        assert not IntervalDay.objects.filter(channel=channel, version__gt=1).exists()

    def test_only_an_analyst_may_save(self, client, csr, meter):
        client.force_login(csr)

        page = client.get(f"/console/meters/{meter.serial}/intervals/").content.decode()
        response = client.post(f"/console/meters/{meter.serial}/intervals/", self.form())

        assert "Only a billing analyst may edit reads." in page
        assert response.status_code == 403


class TestMeterPageQuality:
    def test_shows_quality_versions_and_exceptions(self, client, csr, meter):
        _, exception = a_gap_exception(meter)
        client.force_login(csr)

        page = client.get(f"/console/meters/{meter.serial}/").content.decode()

        assert 'id="interval-quality"' in page
        assert '<span class="badge danger">2</span>' in page  # two missing hours on Mar 10
        assert 'id="meter-exceptions"' in page
        assert f"/console/work/{exception.item.pk}/" in page
        assert "every day is its first version" in page

    def test_lists_the_corrected_days(self, client, analyst, meter):
        _channel, exception = a_gap_exception(meter)
        client.force_login(analyst)
        client.post(
            f"/console/meter-data/exceptions/{exception.item.pk}/",
            {"action": "estimate", "method": "linear", "reason": "Radio dropped out"},
        )

        page = client.get(f"/console/meters/{meter.serial}/").content.decode()

        assert "Radio dropped out" in page
        assert "v2" in page

    def test_the_day_chart_data_carries_each_hours_quality(self, client, csr, meter):
        a_gap_exception(meter)
        client.force_login(csr)

        body = client.get(f"/console/meters/{meter.serial}/usage.json?days=1&day=2026-03-10").json()

        qualities = [h["quality"] for h in body["hourly"]]
        assert qualities[10:12] == ["missing", "missing"]
        assert qualities.count("actual") == 22
