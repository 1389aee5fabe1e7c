"""Tariff documents and schedules for the rates tests."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from ohm.core.audit import SystemActor
from ohm.rates import operations
from ohm.rates.models import RateSchedule, RateVersion
from tests.shared_data import SHARED

SYSTEM = SystemActor("tests")
AT = datetime(2026, 3, 3, 18, 0, tzinfo=UTC)  # 10:00 Pacific, March 3, 2026


def flat_document(price: str = "0.20", fixed: str = "10.00") -> dict:
    """One period, one tier, every hour; a monthly customer charge."""
    return {
        "name": "Flat test rate",
        "fixedchargefirstmeter": fixed,
        "fixedchargeunits": "$/month",
        "energyratestructure": [[{"rate": price}]],
        "energyweekdayschedule": [[0] * 24 for _ in range(12)],
        "energyweekendschedule": [[0] * 24 for _ in range(12)],
    }


def tou_document(off_peak: str = "0.15", peak: str = "0.30", fixed: str = "10.00") -> dict:
    """Peak 4–9 pm every day (period 1), off-peak otherwise (period 0)."""
    row = [1 if 16 <= hour < 21 else 0 for hour in range(24)]
    return {
        "name": "TOU test rate",
        "fixedchargefirstmeter": fixed,
        "fixedchargeunits": "$/month",
        "energyratestructure": [[{"rate": off_peak}], [{"rate": peak}]],
        "energyweekdayschedule": [list(row) for _ in range(12)],
        "energyweekendschedule": [list(row) for _ in range(12)],
    }


def make_schedule(code: str = "T-1", customer_class: str = "residential", **eligibility):
    return operations.create_rate_schedule(
        code=code,
        name=f"Test {code}",
        customer_class=customer_class,
        actor=SYSTEM,
        at=AT,
        **eligibility,
    )


def approved_version(
    schedule: RateSchedule, effective: date, document: dict | None = None
) -> RateVersion:
    """A version written and approved by the system on its effective day."""
    at = datetime(effective.year, effective.month, effective.day, 18, tzinfo=UTC)
    version = operations.create_draft_version(
        schedule=schedule,
        effective_date=effective,
        document=document or flat_document(),
        actor=SYSTEM,
        at=at,
    )
    return operations.approve_version(version=version, actor=SYSTEM, at=at)


def urdb_path(name: str) -> Path:
    return SHARED / "data" / "urdb" / name


def urdb_record(name: str) -> dict:
    return json.loads(urdb_path(name).read_text(encoding="utf-8"))


GOOD_URDB = [
    "pge_E-19_5cef0a415457a33576f60fe2.json",
    "sce_GS-2-TOU-B_55fc81d7682bea28da64f9ae.json",
    "psco_RD_residential_5a679442682bea21e990a0d4.json",
]
BROKEN_URDB = {
    "invalid_missing_rate_539fc25dec4f024c27d8b0a5.json": "energyratestructure[0][0].rate",
    "invalid_missing_schedule_539fb6c7ec4f024bc1dc0445.json": "energyweekdayschedule",
}
