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

from ohm.metering.ingest.records import ParsedReads, ReadsBuilder
from ohm.metering.models import Quality

COLUMNS = ("meter", "channel", "interval_end", "value", "quality")
QUALITY_CODES = {
    "": Quality.ACTUAL,
    "A": Quality.ACTUAL,
    "E": Quality.ESTIMATED,
    "M": Quality.MISSING,
}


class _Unconvertible(Exception):
    """The fast reader met something only the careful one can report line by line."""


def parse_csv(path: Path) -> ParsedReads:
    try:
        return _parse_columns(path)
    except (_Unconvertible, pa.ArrowInvalid):
        return _parse_lines(path)


def _parse_columns(path: Path) -> ParsedReads:
    table = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={
                "meter": pa.string(),
                "channel": pa.int32(),
                "interval_end": pa.timestamp("s", tz="UTC"),
                "value": pa.float64(),
                "quality": pa.string(),
            },
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    if tuple(table.column_names) != COLUMNS:
        raise _Unconvertible
    if any(table.column(name).null_count for name in COLUMNS):
        raise _Unconvertible
    meters = table.column("meter").combine_chunks().dictionary_encode()
    meter = meters.indices.to_numpy().astype(np.int32)
    meter_refs = [serial.strip().upper() for serial in meters.dictionary.to_pylist()]
    numbers = table.column("channel").to_numpy()
    if len(numbers) and numbers.min() >= 0 and numbers.max() < 65_536:
        # Channel numbers are small: count them instead of sorting millions of reads.
        channel_refs = np.flatnonzero(np.bincount(numbers))
        position = np.zeros(int(numbers.max()) + 1, dtype=np.int32)
        position[channel_refs] = np.arange(len(channel_refs), dtype=np.int32)
        channel = position[numbers]
    else:
        channel_refs, channel = np.unique(numbers, return_inverse=True)
    end_s = table.column("interval_end").cast(pa.int64()).to_numpy()
    value = table.column("value").to_numpy()
    qualities = table.column("quality").combine_chunks().dictionary_encode()
    codes = [QUALITY_CODES.get(text.strip().upper()) for text in qualities.dictionary.to_pylist()]
    lookup = np.array([255 if c is None else c for c in codes], dtype=np.uint8)
    quality = (
        lookup[qualities.indices.to_numpy()]
        if len(lookup)
        else np.zeros(len(end_s), dtype=np.uint8)
    )
    line = np.arange(2, len(end_s) + 2, dtype=np.int64)

    builder = ReadsBuilder()
    bad = (quality == 255) | ~np.isfinite(value)
    for i in np.flatnonzero(bad).tolist():
        raw = f"{meter_refs[meter[i]]},{numbers[i]},{_iso(end_s[i])},{value[i]},{qualities[i].as_py()}"
        if quality[i] == 255:
            builder.problem(
                int(line[i]),
                "malformed",
                f"unknown quality “{qualities[i].as_py()}” (use A, E, M or leave it empty)",
                meter_ref=meter_refs[meter[i]],
                channel_ref=str(numbers[i]),
                raw=raw,
            )
        else:
            builder.problem(
                int(line[i]),
                "malformed",
                f"value {value[i]} is not a finite number",
                meter_ref=meter_refs[meter[i]],
                channel_ref=str(numbers[i]),
                raw=raw,
            )
    keep = ~bad
    return ParsedReads(
        line=line[keep],
        meter=meter[keep],
        channel=channel.astype(np.int32)[keep],
        end_s=end_s[keep],
        duration_s=np.zeros(int(keep.sum()), dtype=np.int64),
        value=value[keep],
        quality=quality[keep],
        meter_refs=meter_refs,
        channel_refs=[int(n) for n in channel_refs],
        problems=builder.problems,
        records_read=len(end_s),
    )


def _iso(seconds) -> str:
    return str(np.datetime64(int(seconds), "s")) + "Z"


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
    try:
        end_at = datetime.fromisoformat(end_text)
    except ValueError:
        builder.problem(
            line, "bad_time", f"interval end “{end_text}” is not an ISO 8601 date and time", **refs
        )
        return
    if end_at.tzinfo is None or end_at.utcoffset() is None:
        builder.problem(
            line,
            "bad_time",
            f"interval end “{end_text}” has no UTC offset (add Z or ±HH:MM)",
            **refs,
        )
        return
    if end_at.microsecond:
        builder.problem(
            line,
            "off_boundary",
            f"interval end “{end_text}” is not on an interval boundary",
            **refs,
        )
        return
    try:
        value = float(value_text)
    except ValueError:
        builder.problem(line, "malformed", f"value “{value_text}” is not a number", **refs)
        return
    if not math.isfinite(value):
        builder.problem(line, "malformed", f"value “{value_text}” is not a finite number", **refs)
        return
    quality = QUALITY_CODES.get(quality_text.upper())
    if quality is None:
        builder.problem(
            line,
            "malformed",
            f"unknown quality “{quality_text}” (use A, E, M or leave it empty)",
            **refs,
        )
        return
    builder.add(
        line=line,
        meter_ref=serial.upper(),
        channel_ref=int(number),
        end_s=int(end_at.timestamp()),
        duration_s=0,
        value=value,
        quality=quality,
    )
