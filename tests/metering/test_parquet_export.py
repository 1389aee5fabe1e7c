"""Parquet export: long-format intervals that read back as stored."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow.parquet as pq
import pytest

from ohm.core.audit import SystemActor
from ohm.metering import operations as metering_operations
from ohm.metering.models import Quality
from ohm.metering.parquet_export import export_parquet
from ohm.metering.store import DayVector, save_interval_days

AT = datetime(2026, 3, 20, tzinfo=UTC)
ACTOR = SystemActor("test")

pytestmark = pytest.mark.django_db


def meter_with_days(serial: str, first: date, days: int):
    meter = metering_operations.register_meter(
        serial=serial, make="Itron", model="Riva", kind="ami", actor=ACTOR, at=AT
    )
    channel = meter.channels.get(number=1)
    vectors = []
    for k in range(days):
        values = np.arange(24, dtype=np.float32) / 10 + k
        flags = np.full(24, Quality.ACTUAL, dtype=np.uint8)
        flags[0], flags[1] = Quality.MISSING, Quality.ESTIMATED
        vectors.append(DayVector(channel.pk, first + timedelta(days=k), 60, values, flags))
    save_interval_days(days=vectors, recorded_at=AT, source="test")
    return meter


class TestExportParquet:
    def test_writes_one_row_per_present_interval(self, tmp_path):
        meter_with_days("PQ0000001", date(2026, 3, 1), 3)
        path = tmp_path / "reads.parquet"

        counts = export_parquet(path=path, start_date=date(2026, 3, 1), end_date=date(2026, 3, 3))

        table = pq.read_table(path)
        assert counts["rows"] == table.num_rows == 2 * 23
        first = table.slice(0, 1).to_pylist()[0]
        assert first["meter_serial"] == "PQ0000001"
        assert first["interval_start"] == datetime(2026, 3, 1, 1, tzinfo=UTC)
        assert first["quality"] == "estimated"
        assert first["value"] == pytest.approx(0.1)

    def test_writes_row_groups_of_channel_chunks_and_filters_by_meter(self, tmp_path):
        for n in range(3):
            meter_with_days(f"PQ000001{n}", date(2026, 3, 1), 1)
        path = tmp_path / "reads.parquet"

        counts = export_parquet(
            path=path,
            start_date=date(2026, 3, 1),
            end_date=date(2026, 3, 2),
            meter_serials=["PQ0000010", "PQ0000012"],
            channels_per_chunk=1,
        )

        table = pq.read_table(path)
        assert counts["row_groups"] == 2
        assert pq.ParquetFile(path).num_row_groups == 2
        assert sorted(set(table.column("meter_serial").to_pylist())) == ["PQ0000010", "PQ0000012"]


class TestExportCommands:
    def test_reads_export_parquet_and_greenbutton_write_files(self, tmp_path):
        from django.core.management import call_command

        meter_with_days("PQ0000020", date(2026, 3, 1), 2)

        call_command(
            "reads",
            "export-parquet",
            "--start",
            "2026-03-01",
            "--end",
            "2026-03-03",
            "--out",
            str(tmp_path / "a.parquet"),
        )
        call_command(
            "reads",
            "export-greenbutton",
            "--meter",
            "PQ0000020",
            "--start",
            "2026-03-01",
            "--end",
            "2026-03-03",
            "--out",
            str(tmp_path / "a.xml"),
        )

        assert pq.read_table(tmp_path / "a.parquet").num_rows == 46
        assert b"<IntervalReading>" in (tmp_path / "a.xml").read_bytes()
