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
    96 distinct times however many meters send them) and each read is only an index."""
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
    table = table.unify_dictionaries()
    count = table.num_rows
    line = np.arange(2, count + 2, dtype=np.int64)

    meter_texts, meter_codes = _codes(table.column("meter"))
    # Serials are matched without case or surrounding spaces: "m1 " and "M1" are one meter.
    meter_position: dict[str, int] = {}
    meter_of_text = np.array(
        [meter_position.setdefault(s.strip().upper(), len(meter_position)) for s in meter_texts],
        dtype=np.int32,
    )
    meter_refs = list(meter_position)
    meter = meter_of_text[meter_codes] if len(meter_of_text) else meter_codes

    numbers = table.column("channel").to_numpy()
    if count and numbers.min() < 0:
        raise _Unconvertible  # "-1" is no channel number: the careful reader says so
    if count and numbers.max() < 65_536:
        # Channel numbers are small: count them instead of sorting millions of reads.
        channel_refs = np.flatnonzero(np.bincount(numbers))
        position = np.zeros(int(numbers.max()) + 1, dtype=np.int32)
        position[channel_refs] = np.arange(len(channel_refs), dtype=np.int32)
        channel = position[numbers]
    else:
        channel_refs, inverse = np.unique(numbers, return_inverse=True)
        channel = inverse.astype(np.int32)

    time_texts, time_codes = _codes(table.column("interval_end"))
    # Each distinct time once: its UTC seconds, or why it cannot be used.
    time_seconds = np.zeros(len(time_texts), dtype=np.int64)
    time_problem: dict[int, tuple[str, str]] = {}
    for k, text in enumerate(time_texts):
        seconds, problem = _end_seconds(text.strip())
        if problem is None:
            time_seconds[k] = seconds
        else:
            time_problem[k] = problem
    end_s = time_seconds[time_codes]

    value_column = table.column("value")
    value = value_column.to_numpy()  # float64; an empty field is NaN
    quality_texts, quality_codes = _codes(table.column("quality"))
    lookup = np.array(
        [
            _QUALITY_UNKNOWN if (c := QUALITY_CODES.get(t.strip().upper())) is None else c
            for t in quality_texts
        ]
        or [_QUALITY_UNKNOWN],
        dtype=np.uint8,
    )
    quality = lookup[quality_codes]

    empty = np.zeros(count, dtype=bool)
    if value_column.null_count:
        # No value is fine for a missing interval (its value is ignored), wrong for any other.
        empty = value_column.is_null().to_numpy(zero_copy_only=False)
        value = np.where(empty, 0.0, value)
    bad_time = (
        np.isin(time_codes, np.fromiter(time_problem, dtype=np.int64))
        if time_problem
        else np.zeros(count, dtype=bool)
    )
    no_meter = np.flatnonzero(meter_refs == "")
    nameless = (meter == no_meter[0]) if len(no_meter) else np.zeros(count, dtype=bool)
    bad = (
        nameless
        | bad_time
        | (quality == _QUALITY_UNKNOWN)
        | (empty & (quality != Quality.MISSING))
        | ~np.isfinite(value)
    )

    builder = ReadsBuilder()
    for i in np.flatnonzero(bad).tolist():
        refs = {
            "meter_ref": meter_refs[meter[i]][:60],
            "channel_ref": str(numbers[i])[:30],
        }
        if nameless[i]:
            code, reason = "malformed", "no meter"
        elif bad_time[i]:
            code, reason = time_problem[int(time_codes[i])]
        elif quality[i] == _QUALITY_UNKNOWN:
            code, reason = "malformed", _unknown_quality(quality_texts[quality_codes[i]].strip())
        elif empty[i]:
            code, reason = (
                "malformed",
                "no value (only a missing interval, quality M, may have none)",
            )
        else:
            code, reason = "malformed", f"value “{value[i]}” is not a finite number"
        builder.problem(int(line[i]), code, reason, **refs)
    keep = ~bad
    if not keep.all():
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


def _codes(column: pa.ChunkedArray) -> tuple[list[str], np.ndarray]:
    """A dictionary-encoded column (dictionaries unified) as its distinct texts and, per
    row, the index of its text."""
    if column.num_chunks == 0 or len(column) == 0:
        return [], np.zeros(0, dtype=np.int32)
    texts = column.chunk(0).dictionary.to_pylist()
    codes = np.concatenate(
        [chunk.indices.to_numpy(zero_copy_only=False) for chunk in column.chunks]
    ).astype(np.int32, copy=False)
    return texts, codes


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
