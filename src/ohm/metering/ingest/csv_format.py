"""Ohm's interval CSV (``docs/formats/interval-csv.md``): ``meter,channel,interval_end,value,quality``.

Two readers give the same result. The fast one hands the file to Arrow's multithreaded CSV
reader and works on columns; it gives up on the first line it cannot convert (a missing
field, a time without a UTC offset, an empty line, ...). The careful one then reads the file
line by line and reports each bad line with its number and reason.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ohm.metering.ingest import csv_wide
from ohm.metering.ingest.records import ParsedReads, ReadsBuilder
from ohm.metering.models import Quality

COLUMNS = ("meter", "channel", "interval_end", "value", "quality")
QUALITY_CODES = {
    "": Quality.ACTUAL,
    "A": Quality.ACTUAL,
    "E": Quality.ESTIMATED,
    "M": Quality.MISSING,
}


#: Bytes of the file per parsing task; Arrow converts the blocks on all cores at once.
_BLOCK_BYTES = 1 << 20
#: Text columns arrive dictionary-encoded: one copy of each distinct text, an index per row.
_TEXT_CODES = pa.dictionary(pa.int32(), pa.string())
_QUALITY_UNKNOWN = 255


class _Unconvertible(Exception):
    """The fast reader met something only the careful one can report line by line."""


def parse_csv(path: Path) -> ParsedReads:
    """Either layout, told apart by the header: long (one read per line) or wide (one run of
    reads per line, ``csv_wide``)."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        try:
            header = next(csv.reader([handle.readline()]), [])
        except csv.Error:
            header = []
    if csv_wide.is_wide(header):
        return csv_wide.parse_wide(path, header)
    try:
        return _parse_columns(path)
    except (_Unconvertible, pa.ArrowInvalid):
        return _parse_lines(path)


def _parse_columns(path: Path) -> ParsedReads:
    """The fast reader. Arrow splits the file into blocks and converts them on every core;
    ``meter``, ``interval_end`` and ``quality`` come back dictionary-encoded, so each distinct
    serial, time and code is cleaned and checked once in Python (a day of 15-minute reads has
    96 distinct times however many meters send them) and each read is only an index, turned
    into its serial's position, its time's seconds and its quality code block by block."""
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=_BLOCK_BYTES, use_threads=True),
        parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={
                "meter": _TEXT_CODES,
                "channel": pa.int32(),
                "interval_end": _TEXT_CODES,
                "value": pa.float64(),
                "quality": _TEXT_CODES,
            },
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    if tuple(table.column_names) != COLUMNS:
        raise _Unconvertible
    if any(
        table.column(name).null_count for name in ("meter", "channel", "interval_end", "quality")
    ):
        raise _Unconvertible
    count = table.num_rows
    # Line numbers: the header is line 1 and Arrow keeps empty lines (as errors), so read i
    # is line i + 2.
    line = np.arange(2, count + 2, dtype=np.int32 if count < 2**31 - 2 else np.int64)

    # Serials are matched without case or surrounding spaces: "m1 " and "M1" are one meter.
    meter_position: dict[str, int] = {}
    meter = _decode(
        table.column("meter"),
        None,
        np.int32,
        # A serial is in a chunk or two, so its texts are looked up as a list: no cache.
        many=lambda texts: [
            meter_position.setdefault(t.strip().upper(), len(meter_position)) for t in texts
        ],
    )
    meter_refs = list(meter_position)

    channel_column = table.column("channel")
    bounds = (
        pc.min_max(channel_column).as_py()  # type: ignore[attr-defined]
        if count
        else {"min": 0, "max": 0}
    )
    if count and bounds["min"] < 0:
        raise _Unconvertible  # "-1" is no channel number: the careful reader says so
    if bounds["min"] == bounds["max"]:
        # One channel number in the whole file (the usual case): every read's code is 0.
        channel_refs = np.array([bounds["min"]] if count else [], dtype=np.int64)
        channel = np.broadcast_to(np.int32(0), (count,))
        numbers = np.broadcast_to(np.int64(bounds["min"]), (count,))
    else:
        numbers = channel_column.to_numpy()
        if numbers.max() < 65_536:
            # Channel numbers are small: count them instead of sorting millions of reads.
            channel_refs = np.flatnonzero(np.bincount(numbers))
            position = np.zeros(int(numbers.max()) + 1, dtype=np.int32)
            position[channel_refs] = np.arange(len(channel_refs), dtype=np.int32)
            channel = position[numbers]
        else:
            channel_refs, inverse = np.unique(numbers, return_inverse=True)
            channel = inverse.astype(np.int32)

    # Each distinct time once: its UTC seconds, or why it cannot be used.
    time_problem: dict[str, tuple[str, str]] = {}

    def seconds_of(text: str) -> int:
        seconds, problem = _end_seconds(text.strip())
        if problem is not None:
            time_problem[text] = problem
        return seconds

    end_s = _decode(table.column("interval_end"), seconds_of, np.int64)

    value_column = table.column("value")
    value = value_column.to_numpy()  # float64; an empty field is NaN
    unknown_quality: set[str] = set()

    def quality_of(text: str) -> int:
        code = QUALITY_CODES.get(text.strip().upper())
        if code is None:
            unknown_quality.add(text)
            return _QUALITY_UNKNOWN
        return code

    quality = _decode(table.column("quality"), quality_of, np.uint8)

    empty = None
    if value_column.null_count:
        # No value is fine for a missing interval (its value is ignored), wrong for any other.
        empty = value_column.is_null().to_numpy(zero_copy_only=False)
        value = np.where(empty, 0.0, value)
    # The per-read masks only when something is wrong somewhere (rarely).
    nameless_code = meter_position.get("")
    builder = ReadsBuilder()
    if (
        nameless_code is not None
        or time_problem
        or unknown_quality
        or empty is not None
        or not np.isfinite(value).all()
    ):
        # Which problem each read's time has (-1: none), and its quality text when unknown.
        problems = list(time_problem.values())
        numbered = {text: k for k, text in enumerate(time_problem)}
        time_problem_of = _decode(
            table.column("interval_end"), lambda t: numbered.get(t, -1), np.int32
        )
        unknown = sorted(unknown_quality)
        unknown_of = _decode(
            table.column("quality"),
            lambda t: unknown.index(t) if t in unknown_quality else -1,
            np.int32,
        )
        nameless = meter == nameless_code if nameless_code is not None else None
        bad = (time_problem_of >= 0) | (unknown_of >= 0) | ~np.isfinite(value)
        if nameless is not None:
            bad |= nameless
        if empty is not None:
            bad |= empty & (quality != Quality.MISSING)
        for i in np.flatnonzero(bad).tolist():
            refs = {
                "meter_ref": meter_refs[meter[i]][:60],
                "channel_ref": str(numbers[i])[:30],
            }
            if nameless is not None and nameless[i]:
                code, reason = "malformed", "no meter"
            elif time_problem_of[i] >= 0:
                code, reason = problems[time_problem_of[i]]
            elif unknown_of[i] >= 0:
                code, reason = "malformed", _unknown_quality(unknown[unknown_of[i]].strip())
            elif empty is not None and empty[i]:
                code, reason = (
                    "malformed",
                    "no value (only a missing interval, quality M, may have none)",
                )
            else:
                code, reason = "malformed", f"value “{value[i]}” is not a finite number"
            builder.problem(int(line[i]), code, reason, **refs)
        keep = ~bad
        line, meter, channel, end_s, value, quality = (
            a[keep] for a in (line, meter, channel, end_s, value, quality)
        )
    return ParsedReads(
        line=line,
        meter=meter,
        channel=channel,
        end_s=end_s,
        # Every read is one interval of its channel: a read-only view of one zero.
        duration_s=np.broadcast_to(np.int64(0), (len(end_s),)),
        value=value,
        quality=quality,
        meter_refs=meter_refs,
        channel_refs=[int(n) for n in channel_refs],
        problems=builder.problems,
        records_read=count,
    )


def _decode(column: pa.ChunkedArray, meaning, dtype, many=None) -> np.ndarray:
    """A dictionary-encoded column as one number per row: ``meaning(text)`` of each chunk's
    distinct texts (asked once per text of the whole column), or ``many(texts)`` of each
    chunk's list of them, looked up for every row of the chunk straight into the result."""
    out = np.empty(len(column), dtype=dtype)
    known: dict[str, int] = {}
    at = 0
    for chunk in column.chunks:
        size = len(chunk)
        if not size:
            continue
        texts = chunk.dictionary.to_pylist()
        lookup = np.array(
            many(texts)
            if many is not None
            else [known[t] if t in known else known.setdefault(t, meaning(t)) for t in texts],
            dtype=dtype,
        )
        # Arrow's indices are in range by construction; "clip" spares numpy the bounds check
        # and the buffered copy it makes for ``out`` in its default mode.
        np.take(
            lookup,
            chunk.indices.to_numpy(zero_copy_only=False),
            out=out[at : at + size],
            mode="clip",
        )
        at += size
    return out


def _end_seconds(text: str) -> tuple[int, tuple[str, str] | None]:
    """An interval end as UTC seconds since the epoch, or the exception code and reason."""
    try:
        end_at = datetime.fromisoformat(text)
    except ValueError:
        return 0, ("bad_time", f"interval end “{text}” is not an ISO 8601 date and time")
    if end_at.tzinfo is None or end_at.utcoffset() is None:
        return 0, ("bad_time", f"interval end “{text}” has no UTC offset (add Z or ±HH:MM)")
    if end_at.microsecond:
        return 0, ("off_boundary", f"interval end “{text}” is not on an interval boundary")
    return int(end_at.timestamp()), None


def _unknown_quality(text: str) -> str:
    return f"unknown quality “{text}” (use A, E, M or leave it empty)"


def _parse_lines(path: Path) -> ParsedReads:
    builder = ReadsBuilder()
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            builder.problem(1, "malformed", f"unreadable header: {exc}")
            return builder.build()
        if header is None or tuple(h.strip().lower() for h in header) != COLUMNS:
            builder.problem(
                1,
                "malformed",
                f"the header must be “{','.join(COLUMNS)}”",
                raw=",".join(header or []),
            )
            return builder.build()
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                builder.records_read += 1
                builder.problem(reader.line_num, "malformed", f"unreadable line: {exc}")
                continue
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            builder.records_read += 1
            _parse_row(builder, reader.line_num, row)
    return builder.build()


def _parse_row(builder: ReadsBuilder, line: int, row: list[str]) -> None:
    raw = ",".join(row)
    if len(row) != len(COLUMNS):
        builder.problem(
            line, "malformed", f"expected {len(COLUMNS)} fields, found {len(row)}", raw=raw
        )
        return
    serial, number, end_text, value_text, quality_text = (field.strip() for field in row)
    refs = {"meter_ref": serial.upper()[:60], "channel_ref": number[:30], "raw": raw}
    if not serial:
        builder.problem(line, "malformed", "no meter", **refs)
        return
    if not number.isdigit():
        builder.problem(line, "malformed", f"channel “{number}” is not a channel number", **refs)
        return
    end_s, time_problem = _end_seconds(end_text)
    if time_problem is not None:
        builder.problem(line, *time_problem, **refs)
        return
    quality = QUALITY_CODES.get(quality_text.upper())
    if quality is None:
        builder.problem(line, "malformed", _unknown_quality(quality_text), **refs)
        return
    if not value_text and quality == Quality.MISSING:
        value_text = "0"  # a missing interval needs no value
    try:
        value = float(value_text)
    except ValueError:
        if not value_text:
            builder.problem(
                line,
                "malformed",
                "no value (only a missing interval, quality M, may have none)",
                **refs,
            )
        else:
            builder.problem(line, "malformed", f"value “{value_text}” is not a number", **refs)
        return
    if not math.isfinite(value):
        builder.problem(line, "malformed", f"value “{value_text}” is not a finite number", **refs)
        return
    builder.add(
        line=line,
        meter_ref=serial.upper(),
        channel_ref=int(number),
        end_s=end_s,
        duration_s=0,
        value=value,
        quality=quality,
    )
