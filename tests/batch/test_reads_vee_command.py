"""``ohm reads import`` runs VEE over what it stored; ``ohm reads vee`` runs it on demand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ohm.core import clock
from ohm.metering.models import IntervalDay, Quality, ReadException
from ohm.metering.store import decode
from ohm.workqueue.models import WorkItem
from tests.factories import make_served_account
from tests.metering.ingest_support import IMPORT_AT, write

HEADER = "meter,channel,interval_end,value,quality\n"

pytestmark = pytest.mark.django_db


def reads(*args):
    out, err = StringIO(), StringIO()
    with clock.frozen_at(IMPORT_AT):
        call_command("reads", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def meter(serial: str):
    """An installed meter at a premise someone is served at (since March 1)."""
    make_served_account(meter_serial=serial)


def a_day(serial: str, *, skip=(), spike_at=None, days=1) -> str:
    """Hourly reads from 2026-03-10 00:00 UTC for one meter: 1 kWh an hour, some left out."""
    lines = []
    for hour in range(1, 24 * days + 1):
        if hour in skip:
            continue
        end = datetime(2026, 3, 10, tzinfo=UTC) + timedelta(hours=hour)
        value = "30" if hour == spike_at else "1"
        lines.append(f"{serial},1,{end:%Y-%m-%dT%H:%M:%SZ},{value},A")
    return HEADER + "\n".join(lines) + "\n"


def estimated_hours() -> list[int]:
    """Hours of 2026-03-10 UTC whose current interval is flagged estimated (by whichever VEE
    pass got there first: the import's own or the one after it)."""
    hours = []
    for row in IntervalDay.objects.filter(is_current=True, day="2026-03-10"):
        _, flags = decode(row)
        hours += [int(h) for h in (flags == Quality.ESTIMATED).nonzero()[0]]
    return sorted(hours)


class TestVeeAfterImport:
    def test_estimates_short_gaps_and_reports_what_it_did(self, tmp_path):
        meter("V1")

        out = reads(
            "import", str(write(tmp_path, "v.csv", a_day("V1", skip=(5, 6)))), "--format", "csv"
        )

        assert "VEE: 1 channel-days checked on 1 channels" in out
        assert "exceptions raised    0" in out
        assert estimated_hours() == [4, 5]

    def test_raises_a_work_item_once_for_what_it_cannot_settle(self, tmp_path):
        meter("V2")
        # The second day's spike: the first day is the history it is judged against.
        path = write(tmp_path, "v.csv", a_day("V2", spike_at=44, days=3))

        out = reads("import", str(path), "--format", "csv")
        again = reads("vee", "--meter", "v2", "--start", "2026-03-10", "--end", "2026-03-12")

        assert "exceptions raised    1" in out
        assert "spike" in out
        assert "work items           #" in out
        assert "exceptions raised    0" in again
        assert "already raised       1" in again
        assert WorkItem.objects.filter(category__code="meter_exception").count() == 1

    def test_only_channels_with_findings_or_gaps_go_through_vee_and_each_item_is_raised_once(
        self, tmp_path, monkeypatch
    ):
        from ohm.batch.management.commands import reads as command

        looked_at: list[str] = []
        real = command.run_vee

        def spy(*, channels, **options):
            looked_at.extend(c.meter.serial for c in channels)
            return real(channels=channels, **options)

        monkeypatch.setattr(command, "run_vee", spy)
        for serial in ("N1", "N2", "N3", "N4"):
            meter(serial)
        body = "".join(
            a_day(serial, days=2, **problem).removeprefix(HEADER)
            for serial, problem in (
                ("N1", {}),
                ("N2", {"spike_at": 44}),
                ("N3", {}),
                ("N4", {"skip": (30,)}),
            )
        )
        path = write(tmp_path, "n.csv", HEADER + body)

        out = reads("import", str(path), "--format", "csv")
        first_run = sorted(looked_at)
        looked_at.clear()
        again = reads("import", str(path), "--format", "csv", "--reprocess")

        assert first_run == ["N2", "N4"]  # the spike, and the gap (estimated)
        assert "VEE at import: 4 channels checked, 2 with findings or gaps" in out
        assert "VEE: 4 channel-days checked on 2 channels" in out
        assert "exceptions raised    1" in out
        assert "spike" in out
        # The import's checks found it too (kept as a note on the import).
        assert ReadException.objects.filter(code="vee_spike", meter_ref="N2").exists()
        assert "already raised" not in out  # found by both passes, raised once, not "again"
        # Imported again: N4's gap is stored estimated now; N2's spike is found again.
        assert looked_at == ["N2"]
        assert "exceptions raised    0" in again
        assert "already raised       1" in again
        (item,) = WorkItem.objects.filter(category__code="meter_exception")
        assert "N2" in item.title
        assert estimated_hours() == []  # hour 30 is on 2026-03-11
        row = IntervalDay.objects.get(
            is_current=True, day="2026-03-11", channel__meter__serial="N4"
        )
        assert row.source.startswith("vee")

    def test_a_clean_file_goes_through_no_vee_after_the_import(self, tmp_path, monkeypatch):
        from ohm.batch.management.commands import reads as command

        def refuse(**options):
            raise AssertionError("run_vee called for a clean file")

        monkeypatch.setattr(command, "run_vee", refuse)
        meter("C1")

        out = reads("import", str(write(tmp_path, "c.csv", a_day("C1", days=2))), "--format", "csv")

        assert "VEE at import: 1 channels checked, 0 with findings or gaps" in out
        assert "exceptions raised    0" in out
        assert not WorkItem.objects.exists()

    def test_can_be_left_for_later(self, tmp_path):
        meter("V3")

        out = reads(
            "import",
            str(write(tmp_path, "v.csv", a_day("V3", skip=(5,)))),
            "--format",
            "csv",
            "--no-vee",
        )

        assert "VEE:" not in out
        assert IntervalDay.objects.get().source.startswith("import:")

    def test_a_dry_run_runs_no_vee(self, tmp_path):
        meter("V4")

        out = reads(
            "import",
            str(write(tmp_path, "v.csv", a_day("V4", skip=(5,)))),
            "--format",
            "csv",
            "--dry-run",
        )

        assert "VEE:" not in out
        assert not IntervalDay.objects.exists()


class TestVeeCommand:
    def test_checks_every_channel_with_reads_in_the_period(self, tmp_path):
        meter("V5")
        meter("V6")
        reads(
            "import",
            str(write(tmp_path, "a.csv", a_day("V5", days=2))),
            "--format",
            "csv",
            "--no-vee",
        )
        reads(
            "import",
            str(write(tmp_path, "b.csv", a_day("V6", skip=(9,), days=2))),
            "--format",
            "csv",
            "--no-vee",
        )

        out = reads("vee", "--start", "2026-03-10", "--end", "2026-03-11")

        assert "VEE: 4 channel-days checked on 2 channels"  # UTC days of the store in out
        assert "exceptions raised    0" in out
        assert estimated_hours() == [8]
        assert "VEE " in out  # the progress line

    def test_refuses_an_unknown_meter_and_a_backwards_period(self):
        with pytest.raises(CommandError):
            reads("vee", "--meter", "NOPE")
        with pytest.raises(CommandError):
            reads("vee", "--start", "2026-03-10", "--end", "2026-03-09")
