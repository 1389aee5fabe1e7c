from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ohm.metering.models import Quality, RegisterRead
from ohm.metering.store import load_intervals
from tests.metering.ingest_support import meter, run, write

LA = ZoneInfo("America/Los_Angeles")
HEAD = "MEPMD01,20080501,DEMO-AMI,,OHM,,202603020815,{serial},OK,E,{units},1,{interval},{count}"


def record(serial, triplets, units="KWH", interval="00000015"):
    fields = [HEAD.format(serial=serial, units=units, interval=interval, count=len(triplets))]
    fields += [f"{when},{code},{value}" for when, code, value in triplets]
    return ",".join(fields)


def cmep(path, **options):
    return run(path, format="cmep", zone=LA, **options)


def local_day(channel, day):
    start = datetime.combine(day, datetime.min.time(), tzinfo=LA).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=LA).astimezone(UTC)
    return load_intervals(channel=channel, start_at=start, end_at=end)


def explicit_day(day):
    """Every 15-minute end of a local day, as the local clock shows it (CCYYMMDDHHMM)."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=LA).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=LA).astimezone(UTC)
    ends, at = [], start + timedelta(minutes=15)
    while at <= end:
        ends.append(at.astimezone(LA).strftime("%Y%m%d%H%M"))
        at += timedelta(minutes=15)
    return ends


@pytest.mark.django_db
class TestCmepImport:
    def test_loads_the_readme_example_with_its_register_read(self, tmp_path):
        m = meter("M1000042", minutes=15)
        text = (
            "MEPMD01,20080501,DEMO-AMI,,OHM,,202603020815,M1000042,OK,E,KWH,1,00000015,4,202603010015,,0.212,,,0.198,,E,0.205,,,0.231\n"
            "MEPMD01,20080501,DEMO-AMI,,OHM,,202603020815,M1000042,OK,E,KWHREG,1,00010000,1,202603020000,,15234.118\n"
        )

        result = cmep(write(tmp_path, "a.cmep", text))

        assert result.intervals_loaded == 4
        assert result.register_reads_loaded == 1
        got = local_day(m.channels.get(number=1), date(2026, 3, 1))
        assert got.values[:4].sum() == pytest.approx(0.846, abs=1e-6)
        assert got.flags[2] == Quality.ESTIMATED
        register = RegisterRead.objects.get()
        assert register.reading == Decimal("15234.118")
        assert register.read_at == datetime(2026, 3, 2, 8, tzinfo=UTC)

    def test_the_25_hour_fall_day_places_the_repeated_hour_in_sequence(self, tmp_path):
        m = meter("D1", minutes=15)
        ends = explicit_day(date(2026, 11, 1))
        line = record("D1", [(when, "", "0.25") for when in ends])

        result = cmep(write(tmp_path, "fall.cmep", line + "\n"))

        got = local_day(m.channels.get(number=1), date(2026, 11, 1))
        assert len(ends) == 100
        assert result.problems == []
        assert len(got.values) == 100
        assert got.total == pytest.approx(25.0)

    def test_the_23_hour_spring_day_with_empty_times_after_the_first(self, tmp_path):
        m = meter("D2", minutes=15)
        line = record("D2", [("202603080015", "", "0.5")] + [("", "", "0.5")] * 91)

        result = cmep(write(tmp_path, "spring.cmep", line + "\n"))

        got = local_day(m.channels.get(number=1), date(2026, 3, 8))
        assert result.intervals_loaded == 92
        assert len(got.values) == 92
        assert got.total == pytest.approx(46.0)

    def test_a_local_time_in_the_skipped_hour_is_an_exception(self, tmp_path):
        meter("D3", minutes=15)

        result = cmep(
            write(tmp_path, "gap.cmep", record("D3", [("202603080215", "", "0.5")]) + "\n")
        )

        assert [p.code for p in result.problems] == ["dst_nonexistent"]
        assert result.problems[0].line == 1

    def test_a_repeated_local_time_that_starts_a_record_is_dst_ambiguous(self, tmp_path):
        meter("D4", minutes=15)

        result = cmep(
            write(
                tmp_path,
                "amb.cmep",
                record("D4", [("202611010130", "", "0.5"), ("", "", "0.5")]) + "\n",
            )
        )

        assert [p.code for p in result.problems] == ["dst_ambiguous", "bad_time"]
        assert "DST-ambiguous local time" in result.problems[0].reason

    def test_an_unknown_protocol_code_loads_as_actual_with_a_note(self, tmp_path):
        m = meter("D5", minutes=15)

        result = cmep(
            write(tmp_path, "r0.cmep", record("D5", [("202603010015", "R0", "0.5")]) + "\n")
        )

        assert result.intervals_loaded == 1
        assert [(p.code, p.loaded) for p in result.problems] == [("unknown_quality", True)]
        assert local_day(m.channels.get(number=1), date(2026, 3, 1)).flags[0] == Quality.ACTUAL

    def test_hourly_records_for_a_fifteen_minute_channel_are_refused(self, tmp_path):
        meter("D6", minutes=15)

        result = cmep(
            write(
                tmp_path,
                "h.cmep",
                record("D6", [("202603010100", "", "1")], interval="00000100") + "\n",
            )
        )

        assert [p.code for p in result.problems] == ["interval_mismatch"]

    def test_other_record_types_and_short_records_are_reported(self, tmp_path):
        meter("D7", minutes=15)
        text = (
            "MEPAD01,20080501,X\n"
            + HEAD.format(serial="D7", units="KWH", interval="00000015", count=2)
            + ",202603010015,,0.5\n"
        )

        result = cmep(write(tmp_path, "o.cmep", text))

        assert [(p.line, p.code) for p in result.problems] == [(1, "unsupported"), (2, "malformed")]
        assert not result.loaded
