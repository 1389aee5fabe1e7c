"""The wide layout of the interval CSV: one line per channel-day, the same reads as the long one."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from ohm.metering.models import Quality
from ohm.metering.store import load_intervals
from tests.metering.ingest_support import meter, run, write

LONG = "meter,channel,interval_end,value,quality\n"


def wide_header(n):
    return (
        "meter,channel,start,minutes,quality," + ",".join(f"v{k}" for k in range(1, n + 1)) + "\n"
    )


def day_series(serial, day=date(2026, 3, 1), minutes=15):
    from ohm.metering.models import MeterChannel

    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    channel = MeterChannel.objects.get(meter__serial=serial, number=1)
    return load_intervals(channel=channel, start_at=start, end_at=start + timedelta(days=1))


@pytest.mark.django_db
class TestWideLayout:
    def test_loads_the_same_day_as_the_long_layout(self, tmp_path):
        # given the same 24 hourly reads (an estimate, a missing one, an empty one) both ways
        meter("W1")
        meter("L1")
        values = [round(0.1 * (h + 1), 3) for h in range(24)]
        letters = ["A"] * 24
        letters[3], letters[5] = "E", "M"
        cells = [str(v) for v in values]
        cells[9] = ""  # no value: missing
        wide = (
            wide_header(24)
            + f"W1,1,2026-03-01T00:00:00Z,60,{''.join(letters)},"
            + ",".join(cells)
            + "\n"
        )
        long = LONG + "".join(
            f"L1,1,{(datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=h + 1)).isoformat()},{values[h]},{letters[h]}\n"
            for h in range(24)
            if h != 9
        )

        # when both are imported
        result = run(write(tmp_path, "w.csv", wide))
        run(write(tmp_path, "l.csv", long))

        # then the store holds the same day for both meters
        w, lo = day_series("W1"), day_series("L1")
        np.testing.assert_array_equal(w.values, lo.values)
        np.testing.assert_array_equal(w.flags, lo.flags)
        assert w.flags[3] == Quality.ESTIMATED
        assert w.flags[5] == w.flags[9] == Quality.MISSING
        assert result.intervals_loaded == 22
        assert result.records_read == 1

    def test_a_start_in_local_time_lands_on_the_right_utc_intervals(self, tmp_path):
        meter("W2")
        text = wide_header(2) + "W2,1,2026-02-28T17:00:00-08:00,60,,1.5,2.5\n"

        run(write(tmp_path, "w.csv", text))

        got = day_series("W2")
        assert got.values[1:3].tolist() == [1.5, 2.5]

    def test_reports_bad_lines_by_number_and_loads_the_rest(self, tmp_path):
        meter("W3")
        text = (
            wide_header(2)
            + "W3,1,2026-03-01T00:00:00Z,60,,1,2\n"
            + "W3,1,2026-03-01T02:00:00,60,,1,2\n"
            + "W3,1,2026-03-01T04:00:00Z,60,AX,1,2\n"
            + "NOPE,1,2026-03-01T06:00:00Z,60,,1,2\n"
            + "W3,1,2026-03-01T08:30:00Z,60,,1,2\n"
        )

        result = run(write(tmp_path, "w.csv", text))

        assert {p.line: p.code for p in result.problems} == {
            3: "bad_time",
            4: "malformed",
            5: "unknown_meter",
            6: "off_boundary",
        }
        assert result.intervals_loaded == 2

    def test_a_line_arrow_cannot_read_is_reported_by_the_careful_reader(self, tmp_path):
        meter("W4")
        text = wide_header(2) + "W4,1,2026-03-01T00:00:00Z,60,,1,2\nW4,1,2026-03-01T02:00:00Z,60\n"

        result = run(write(tmp_path, "w.csv", text))

        assert [(p.line, p.code) for p in result.problems] == [(3, "malformed")]
        assert "expected 7 fields, found 4" in result.problems[0].reason
        assert result.intervals_loaded == 2

    def test_a_wrong_value_header_refuses_the_file(self, tmp_path):
        meter("W5")
        text = "meter,channel,start,minutes,quality,v1,v3\nW5,1,2026-03-01T00:00:00Z,60,,1,2\n"

        result = run(write(tmp_path, "w.csv", text))

        assert [(p.line, p.code) for p in result.problems] == [(1, "malformed")]
        assert not result.loaded
