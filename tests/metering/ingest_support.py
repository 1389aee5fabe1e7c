"""Shared arrangements for the reads-import tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ohm.core.audit import SystemActor
from ohm.metering import operations as metering_operations
from ohm.metering.ingest.loader import import_reads
from tests.shared_data import SHARED

ACTOR = SystemActor("test import")
#: Import time for most tests: after every read they hold.
IMPORT_AT = datetime(2026, 12, 1, tzinfo=UTC)
SAMPLES = SHARED / "data" / "greenbutton" / "samples"


def meter(serial: str, minutes: int = 60, demand: bool = False):
    channels = [(1, "kwh_delivered", minutes), (2, "kwh_received", minutes)]
    if demand:
        channels.append((3, "kw_demand", minutes))
    return metering_operations.register_meter(
        serial=serial,
        make="Itron",
        model="Riva",
        kind="ami",
        channels=channels,
        actor=ACTOR,
        at=IMPORT_AT,
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run(path: Path, format: str = "csv", at: datetime = IMPORT_AT, **options):
    return import_reads(path=path, format=format, actor=ACTOR, at=at, **options)
