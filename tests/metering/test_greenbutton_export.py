"""Green Button export: strict-schema valid ESPI XML that the importer reads back as it was."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
import xmlschema

from ohm.core.audit import SystemActor
from ohm.metering import operations as metering_operations
from ohm.metering.greenbutton_export import dst_rule, export_greenbutton
from ohm.metering.models import MeterChannel, Quality
from ohm.metering.store import DayVector, load_intervals, save_interval_days
from tests.shared_data import SHARED

SCHEMA_DIR = SHARED / "data" / "greenbutton" / "schema"
AT = datetime(2026, 3, 20, tzinfo=UTC)
ACTOR = SystemActor("test")

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def strict_schema():
    if not (SCHEMA_DIR / "greenbutton.xsd").exists():
        pytest.skip("the Green Button schema set is not here")
    return xmlschema.XMLSchema(str(SCHEMA_DIR / "greenbutton.xsd"), allow="local")


def make_meter(serial: str, minutes: int = 15):
    return metering_operations.register_meter(
        serial=serial,
        make="Itron",
        model="Riva",
        kind="ami",
        interval_minutes=minutes,
        actor=ACTOR,
        at=AT,
    )


def fill(meter, first: date, days: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    vectors = []
    for channel in meter.channels.all():
        n = 1440 // channel.interval_minutes
        for k in range(days):
            values = rng.uniform(0, 2, n).astype(np.float32)
            if channel.measure == MeterChannel.Measure.KWH_RECEIVED:
                values[: n // 2] = 0
            flags = np.full(n, Quality.ACTUAL, dtype=np.uint8)
            flags[3], flags[5], flags[7] = Quality.ESTIMATED, Quality.EDITED, Quality.MISSING
            values[7] = 0
            vectors.append(
                DayVector(
                    channel.pk, first + timedelta(days=k), channel.interval_minutes, values, flags
                )
            )
    save_interval_days(days=vectors, recorded_at=AT, source="test")


class TestExportGreenbutton:
    def test_validates_against_the_strict_schema_across_the_spring_change(self, strict_schema):
        meter = make_meter("GB0000001")
        fill(meter, date(2026, 3, 6), 5)

        xml = export_greenbutton(
            meter=meter, start_date=date(2026, 3, 7), end_date=date(2026, 3, 10)
        )

        errors = list(strict_schema.iter_errors(xml.decode()))
        assert errors == []

    def test_writes_quality_and_the_pacific_dst_rules(self):
        meter = make_meter("GB0000002", minutes=60)
        fill(meter, date(2026, 3, 7), 2)

        xml = export_greenbutton(
            meter=meter, start_date=date(2026, 3, 7), end_date=date(2026, 3, 8)
        ).decode()

        assert "<quality>8</quality>" in xml
        assert "<quality>7</quality>" in xml
        assert "<dstStartRule>360E2000</dstStartRule>" in xml
        assert "<tzOffset>-28800</tzOffset>" in xml

    def test_encodes_us_dst_rules_as_espi_does(self):
        assert dst_rule(datetime(2026, 3, 8, 2)) == "360E2000"
        assert dst_rule(datetime(2026, 11, 1, 2)) == "B40E2000"


class TestRoundTrip:
    def test_import_of_the_export_gives_back_every_interval_and_flag(self, tmp_path):
        loader = pytest.importorskip("ohm.metering.ingest.loader")
        source, target = make_meter("GB0000003"), make_meter("GB0000004")
        fill(source, date(2026, 3, 7), 3, seed=5)
        path = tmp_path / "export.xml"
        path.write_bytes(
            export_greenbutton(
                meter=source, start_date=date(2026, 3, 7), end_date=date(2026, 3, 10)
            )
        )

        result = loader.import_reads(
            path=path, format="greenbutton", meter_serial=target.serial, actor=ACTOR, at=AT
        )

        assert result.loaded
        window = {
            "start_at": datetime(2026, 3, 7, 8, tzinfo=UTC),
            "end_at": datetime(2026, 3, 10, 7, tzinfo=UTC),
        }
        for number in (1, 2):
            before = load_intervals(channel=source.channels.get(number=number), **window)
            after = load_intervals(channel=target.channels.get(number=number), **window)
            np.testing.assert_array_equal(after.flags, before.flags)
            np.testing.assert_allclose(after.values, before.values, atol=1e-6)
