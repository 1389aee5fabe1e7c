import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ohm.core import clock
from ohm.metering.models import ReadException
from tests.metering.ingest_support import IMPORT_AT, SAMPLES, meter, write

HEADER = "meter,channel,interval_end,value,quality\n"


def reads(*args):
    out = StringIO()
    with clock.frozen_at(IMPORT_AT):
        call_command("reads", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
class TestReadsImportCommand:
    def test_prints_a_summary_and_succeeds_with_exceptions(self, tmp_path):
        meter("K1")
        path = write(
            tmp_path,
            "k.csv",
            HEADER + "K1,1,2026-03-01T01:00:00Z,0.5,A\nK1,1,2026-03-01T02:00:00Z,x,A\n",
        )

        out = reads("import", str(path), "--format", "csv")

        assert "intervals loaded     1" in out
        assert "days inserted        1" in out
        assert "malformed            1" in out
        assert "k.csv:line 3: value “x” is not a number" in out
        assert ReadException.objects.get().line == 3

    def test_exits_1_when_nothing_loads(self, tmp_path):
        path = write(tmp_path, "n.csv", HEADER + "NOPE,1,2026-03-01T01:00:00Z,0.5,A\n")

        with pytest.raises(CommandError) as error:
            reads("import", str(path), "--format", "csv")

        assert error.value.returncode == 1

    def test_says_a_file_was_already_imported(self, tmp_path):
        meter("K2")
        path = write(tmp_path, "k.csv", HEADER + "K2,1,2026-03-01T01:00:00Z,0.5,A\n")
        reads("import", str(path), "--format", "csv")

        out = reads("import", str(path), "--format", "csv")

        assert "already imported as import #" in out

    def test_a_green_button_file_needs_its_meter(self):
        with pytest.raises(CommandError, match="--meter"):
            reads("import", str(SAMPLES / "electric_containerized.xml"), "--format", "greenbutton")

    def test_imports_a_green_button_sample_for_a_meter(self):
        meter("K3")

        out = reads(
            "import",
            str(SAMPLES / "electric_containerized.xml"),
            "--format",
            "greenbutton",
            "--meter",
            "k3",
        )

        assert "intervals loaded     8" in out

    def test_refuses_an_unknown_zone(self, tmp_path):
        path = write(tmp_path, "z.cmep", "")

        with pytest.raises(CommandError, match="time zone"):
            reads("import", str(path), "--format", "cmep", "--tz", "Mars/Olympus")


@pytest.mark.django_db
class TestBenchMdm:
    def test_a_tiny_run_prints_its_figures_last(self):
        out = StringIO()

        call_command("bench", "mdm", "--meters", "3", "--history-meters", "1", stdout=out)

        figures = json.loads(out.getvalue().strip().splitlines()[-1])
        assert figures["bench"] == "mdm"
        assert figures["meters"] == 3
        assert figures["values"] > 280
        assert figures["usage_query_ms"] > 0
        assert figures["bytes_per_meter_year"] > 0
