from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ohm.metering.models import IntervalDay, Quality, ReadException, ReadImport
from ohm.metering.store import load_intervals
from tests.metering.ingest_support import meter, run, write

HEADER = "meter,channel,interval_end,value,quality\n"


def day_csv(serial, day=date(2026, 3, 1), hours=24, value=0.5, channel=1):
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    rows = [
        f"{serial},{channel},{(start + timedelta(hours=h + 1)).isoformat().replace('+00:00', 'Z')},{value},A"
        for h in range(hours)
    ]
    return HEADER + "\n".join(rows) + "\n"


def channel_of(m, number=1):
    return m.channels.get(number=number)


def series(channel, day=date(2026, 3, 1)):
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    return load_intervals(channel=channel, start_at=start, end_at=start + timedelta(days=1))


@pytest.mark.django_db
class TestCsvImport:
    def test_loads_a_day_of_hourly_reads(self, tmp_path):
        m = meter("C1")

        result = run(write(tmp_path, "a.csv", day_csv("C1")))

        assert result.intervals_loaded == 24
        assert result.days["inserted"] == 1
        assert series(channel_of(m)).total == pytest.approx(12.0)
        assert result.read_import.status == ReadImport.Status.LOADED

    def test_takes_offsets_and_flags_estimates_and_missing(self, tmp_path):
        m = meter("C2")
        text = (
            HEADER
            + "C2,1,2026-02-28T17:00:00-08:00,1.25,E\nC2,1,2026-03-01T02:00:00Z,0.75,\nC2,1,2026-03-01T03:00:00Z,0,M\n"
        )

        run(write(tmp_path, "a.csv", text))

        got = series(channel_of(m))
        assert got.values[0] == pytest.approx(1.25)
        assert got.flags[0] == Quality.ESTIMATED
        assert got.flags[1] == Quality.ACTUAL
        assert got.flags[2] == Quality.MISSING

    def test_reports_bad_lines_and_loads_the_good_ones(self, tmp_path):
        meter("C3")
        text = (
            HEADER
            + "C3,1,2026-03-01T01:00:00Z,0.5,A\n"
            + "C3,1,2026-03-01T02:00:00Z,abc,A\n"
            + "C3,1,2026-03-01T03:00:00,0.5,A\n"
            + "C3,1,not-a-time,0.5,A\n"
            + "C3,1,2026-03-01T04:00:00Z,0.5\n"
            + "C3,1,2026-03-01T05:00:00Z,0.5,X\n"
            + "C3,1,2026-03-01T06:00:00Z,nan,A\n"
            + "NOPE,1,2026-03-01T07:00:00Z,0.5,A\n"
            + "C3,9,2026-03-01T08:00:00Z,0.5,A\n"
            + "C3,1,2026-03-01T09:30:00Z,0.5,A\n"
            + "C3,1,2027-03-01T09:00:00Z,0.5,A\n"
        )

        result = run(write(tmp_path, "bad.csv", text))

        reasons = {p.line: p.code for p in result.problems}
        assert result.intervals_loaded == 1
        assert reasons == {
            3: "malformed",
            4: "bad_time",
            5: "bad_time",
            6: "malformed",
            7: "malformed",
            8: "malformed",
            9: "unknown_meter",
            10: "unknown_channel",
            11: "off_boundary",
            12: "future",
        }
        stored = ReadException.objects.get(read_import=result.read_import, line=4)
        assert "no UTC offset" in stored.reason
        assert stored.raw == "C3,1,2026-03-01T03:00:00,0.5,A"

    def test_a_file_with_the_wrong_header_loads_nothing(self, tmp_path):
        result = run(write(tmp_path, "h.csv", "serial,when,kwh\nC1,2026-03-01,1\n"))

        assert not result.loaded
        assert result.read_import.status == ReadImport.Status.REJECTED
        assert result.problems[0].line == 1

    def test_a_duplicate_loads_once_and_a_conflict_not_at_all(self, tmp_path):
        m = meter("C4")
        text = (
            HEADER
            + "C4,1,2026-03-01T01:00:00Z,0.5,A\nC4,1,2026-03-01T01:00:00Z,0.5,A\nC4,1,2026-03-01T02:00:00Z,0.5,A\nC4,1,2026-03-01T02:00:00Z,0.7,A\n"
        )

        result = run(write(tmp_path, "d.csv", text))

        assert sorted((p.line, p.code) for p in result.problems) == [
            (3, "duplicate"),
            (4, "conflict"),
            (5, "conflict"),
        ]
        got = series(channel_of(m))
        assert list(got.flags[:2]) == [Quality.ACTUAL, Quality.MISSING]

    def test_the_same_file_again_changes_nothing(self, tmp_path):
        meter("C5")
        path = write(tmp_path, "a.csv", day_csv("C5"))
        first = run(path)

        again = run(path)

        assert again.already_imported == first.read_import
        assert IntervalDay.objects.count() == 1
        assert ReadImport.objects.count() == 1

    def test_an_overlapping_file_leaves_identical_days_alone(self, tmp_path):
        meter("C6")
        run(write(tmp_path, "a.csv", day_csv("C6")))

        result = run(write(tmp_path, "b.csv", day_csv("C6") + "\n"))

        assert result.days == {"unchanged": 1}
        assert IntervalDay.objects.count() == 1

    def test_a_partial_day_fills_the_stored_day(self, tmp_path):
        m = meter("C7")
        run(write(tmp_path, "a.csv", day_csv("C7", hours=12)))

        result = run(write(tmp_path, "b.csv", HEADER + "C7,1,2026-03-01T13:00:00Z,2.0,A\n"))

        got = series(channel_of(m))
        assert result.days == {"versioned": 1}
        assert got.values[12] == pytest.approx(2.0)
        assert (got.flags[:13] == Quality.ACTUAL).all()

    def test_a_different_value_for_a_stored_actual_is_a_conflict_unless_replacing(self, tmp_path):
        m = meter("C8")
        run(write(tmp_path, "a.csv", day_csv("C8")))
        changed = write(tmp_path, "b.csv", HEADER + "C8,1,2026-03-01T01:00:00Z,9.0,A\n")

        refused = run(changed)
        replaced = run(changed, reprocess=True, replace=True)

        assert [p.code for p in refused.problems] == ["conflict"]
        assert replaced.days == {"versioned": 1}
        assert series(channel_of(m)).values[0] == pytest.approx(9.0)
        assert IntervalDay.objects.filter(is_current=False).count() == 1

    def test_an_actual_read_replaces_an_estimate(self, tmp_path):
        m = meter("C9")
        run(write(tmp_path, "a.csv", HEADER + "C9,1,2026-03-01T01:00:00Z,1.0,E\n"))

        result = run(write(tmp_path, "b.csv", HEADER + "C9,1,2026-03-01T01:00:00Z,1.5,A\n"))

        assert result.problems == []
        assert series(channel_of(m)).flags[0] == Quality.ACTUAL

    def test_a_dry_run_writes_nothing(self, tmp_path):
        meter("C10")

        result = run(write(tmp_path, "a.csv", day_csv("C10")), dry_run=True)

        assert result.days == {"inserted": 1}
        assert IntervalDay.objects.count() == 0
        assert ReadImport.objects.count() == 0

    def test_an_interrupted_import_resumes_when_run_again(self, tmp_path):
        meter("C11")
        path = write(tmp_path, "a.csv", day_csv("C11"))
        first = run(path)
        ReadImport.objects.filter(pk=first.read_import.pk).update(status=ReadImport.Status.RUNNING)

        again = run(path)

        assert again.read_import.pk == first.read_import.pk
        assert again.days == {"unchanged": 1}
        assert ReadImport.objects.get().status == ReadImport.Status.LOADED


day_vectors = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=1e6, allow_nan=False, width=32),
        st.sampled_from([Quality.ACTUAL, Quality.ESTIMATED, Quality.MISSING]),
    ),
    min_size=96,
    max_size=96,
)


@pytest.mark.django_db
class TestCsvRoundTrip:
    @settings(
        max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(day=day_vectors)
    def test_a_written_day_reads_back_exactly(self, tmp_path_factory, day):
        serial = f"P{len(ReadImport.objects.all()) + 1}X{abs(hash(tuple(day))) % 10**8}"
        m = meter(serial, minutes=15)
        start = datetime(2026, 3, 1, tzinfo=UTC)
        codes = {Quality.ACTUAL: "A", Quality.ESTIMATED: "E", Quality.MISSING: "M"}
        lines = [
            f"{serial},1,{(start + timedelta(minutes=15 * (i + 1))).isoformat()},{value!r},{codes[q]}"
            for i, (value, q) in enumerate(day)
        ]
        path = tmp_path_factory.mktemp("rt") / "day.csv"
        path.write_text(HEADER + "\n".join(lines) + "\n")

        run(path)

        got = series(m.channels.get(number=1))
        flags = np.array([q for _, q in day], dtype=np.uint8)
        values = np.array([v if q != Quality.MISSING else 0 for v, q in day], dtype=np.float32)
        assert (got.flags == flags).all()
        assert (got.values.astype(np.float32) == values).all()
