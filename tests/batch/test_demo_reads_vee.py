"""The demo's meter data shows every kind of VEE exception once VEE has run over it."""

from __future__ import annotations

from datetime import date

import pytest

from ohm.batch.demo_reads import build_demo_interval_data
from ohm.metering import operations as metering_operations
from ohm.metering.models import Meter, MeterEvent
from ohm.metering.queries import ExceptionFilters, list_vee_exceptions
from ohm.metering.vee import Reason
from ohm.metering.vee_operations import Rule
from ohm.workqueue.models import WorkItem
from tests.factories import AT, SYSTEM, make_meter, make_served_account, make_service_point

AS_OF = date(2026, 5, 1)  # the data: 60 days after the agreements began

pytestmark = pytest.mark.django_db


def test_gaps_spikes_tamper_and_use_on_an_inactive_point_become_exceptions():
    for k in range(6):
        make_served_account(meter_serial=f"DV{k:07d}")
    served = list(Meter.objects.filter(serial__startswith="DV").order_by("serial"))
    vacant = make_meter("DVVACANT1")
    metering_operations.install_meter(
        meter=vacant, service_point=make_service_point(), installed_at=AT, actor=SYSTEM, at=AT
    )

    summary = build_demo_interval_data(
        meters=[*served, vacant],
        as_of=AS_OF,
        days=60,
        seed=4,
        profiles={vacant.serial: "vacant_with_use"},
    )

    raised = summary["vee"]["exceptions"]
    assert set(raised) >= {
        Reason.UNESTIMATED_GAP,
        Reason.SPIKE,
        Rule.TAMPER,
        Reason.INACTIVE_CONSUMPTION,
    }
    assert summary["vee"]["estimated_intervals"] > 0
    found = list_vee_exceptions(filters=ExceptionFilters(), as_of=AT)
    inactive = [e for e in found if e.rule == Reason.INACTIVE_CONSUMPTION]
    assert [e.serial for e in inactive] == [vacant.serial]
    assert inactive[0].item.category.code == "investigation"
    (gap_meter,) = summary["gaps"]
    assert MeterEvent.objects.filter(meter__serial=gap_meter, kind="comm_failure").exists()
    assert {e.serial for e in found if e.rule == Rule.TAMPER} == set(summary["tamper"])
    assert {e.serial for e in found if e.rule == Reason.SPIKE} == set(summary["spikes"])
    assert WorkItem.objects.filter(category__code="meter_exception").exists()
