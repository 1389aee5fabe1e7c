"""An import written in many chunks stores and reports exactly what one chunk would.

Chunks are written on a second thread while the next one is prepared, and a chunk's VEE state
comes from the store (the day before, written by the chunk before when a channel's days go on
across the boundary): small chunks exercise every boundary."""

from datetime import UTC, date, datetime, timedelta

import pytest

from ohm.metering.models import IntervalDay, ReadException
from tests.metering.ingest_support import meter, run, write

HEADER = "meter,channel,interval_end,value,quality\n"
FIRST = date(2026, 3, 1)


def day_lines(serial: str, day: date, values, skip=(), quality="A") -> str:
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    return "".join(
        f"{serial},1,{(start + timedelta(minutes=15 * (i + 1))).isoformat().replace('+00:00', 'Z')},{v},{quality}\n"
        for i, v in enumerate(values)
        if i not in skip
    )


def value(m: int, d: int, i: int) -> float:
    return round(0.2 + 0.01 * ((i + m + d) % 7), 3)


def one_line(serial: str, day: date, slot: int, v) -> str:
    end = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(
        minutes=15 * (slot + 1)
    )
    return f"{serial},1,{end.isoformat().replace('+00:00', 'Z')},{v},A\n"


def file_text(prefix: str) -> str:
    """Four meters, five days each (the third has three), with a spike, a gap, zeros, a
    line read twice and two lines that disagree."""
    lines = []
    for m in range(1, 5):
        serial = f"{prefix}{m}"
        for d in range(3 if m == 3 else 5):
            values = [value(m, d, i) for i in range(96)]
            skip = ()
            if m == 1 and d == 3:
                values[50] = 12.0  # a spike against the days before
            if m == 2 and d == 1:
                skip = (10, 11, 12)  # a gap
            if m == 4 and d == 2:
                values = [0.0] * 96
            lines.append(day_lines(serial, FIRST + timedelta(days=d), values, skip=skip))
    last = FIRST + timedelta(days=4)
    lines.append(one_line(f"{prefix}4", last, 0, value(4, 4, 0)))  # the same read again
    lines.append(one_line(f"{prefix}1", FIRST, 1, 9.5))  # another value for a read
    return HEADER + "".join(lines)


def stored(prefix: str):
    rows = IntervalDay.objects.filter(channel__meter__serial__startswith=prefix).order_by(
        "channel__meter__serial", "day", "version"
    )
    return [
        (
            r.channel.meter.serial[len(prefix) :],
            r.day,
            r.version,
            r.is_current,
            bytes(r.values),
            bytes(r.flags),
            r.vee_level,
            r.vee_zero_run,
        )
        for r in rows
    ]


def reported(result, prefix: str):
    findings = sorted(
        (f.meter_serial[len(prefix) :], f.day, f.code, f.intervals, f.message)
        for f in result.vee_findings
    )
    problems = sorted(
        (p.line, p.code, p.reason.replace(prefix, "*"), p.meter_ref[len(prefix) :])
        for p in result.problems
    )
    return findings, problems


@pytest.mark.django_db
def test_small_chunks_store_and_report_what_one_chunk_does(tmp_path):
    # given two sets of the same meters, each with a stored day before the file and a day of
    # the file already stored with one different value
    for prefix in ("A", "B"):
        for m in range(1, 5):
            meter(f"{prefix}{m}", minutes=15)
        before = "".join(
            day_lines(f"{prefix}{m}", FIRST - timedelta(days=1), [0.25] * 96) for m in range(1, 5)
        )
        stored_values = [value(1, 0, i) for i in range(96)]
        stored_values[5] = 0.77  # the file reads another value here: a conflict
        first_day = day_lines(f"{prefix}1", FIRST, stored_values)
        run(write(tmp_path, f"{prefix}-before.csv", HEADER + before + first_day))

    # when the same file is imported in one chunk and in chunks of three channel-days
    one = run(write(tmp_path, "A.csv", file_text("A")), chunk_days=10_000)
    many = run(write(tmp_path, "B.csv", file_text("B")), chunk_days=3)

    # then the store holds the same rows, versions and VEE state, and the same findings and
    # exceptions come back (and are kept) for the same lines
    assert stored("A") == stored("B")
    assert reported(one, "A") == reported(many, "B")
    assert one.intervals_loaded == many.intervals_loaded
    assert one.days == many.days
    assert {p[1] for p in reported(one, "A")[1]} >= {"conflict", "duplicate"}
    assert {f[2] for f in reported(one, "A")[0]} >= {"spike", "unestimated_gap"}
    assert (
        ReadException.objects.filter(read_import=one.read_import).count()
        == ReadException.objects.filter(read_import=many.read_import).count()
    )
