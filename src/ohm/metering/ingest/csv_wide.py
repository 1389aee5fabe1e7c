"""Ohm's interval CSV, wide layout (``docs/formats/interval-csv.md``): one line per channel and
run of intervals — ``meter,channel,start,minutes,quality,v1,…,vN``.

The same reads as the long layout in a sixth of the bytes: a meter, a channel and a time are
written once per day rather than once per value, so a day of 100,000 meters parses in a
fraction of the time. Each value becomes one read (``ParsedReads``), so everything after
parsing — channels, checks, merging, VEE — is the long layout's.

As in the long layout, two readers give the same result: Arrow's multithreaded one, and a
line-by-line one that reports each bad line when Arrow cannot convert the file.
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

FIXED = ("meter", "channel", "start", "minutes", "quality")
#: One letter per value in ``quality``; an empty ``quality`` means every value is actual.
LETTERS = {"A": Quality.ACTUAL, "E": Quality.ESTIMATED, "M": Quality.MISSING}
_BLOCK_BYTES = 1 << 20
_TEXT_CODES = pa.dictionary(pa.int32(), pa.string())


def is_wide(header: list[str]) -> bool:
    return tuple(h.strip().lower() for h in header[: len(FIXED)]) == FIXED


def value_columns(header: list[str]) -> int | None:
    """N when the columns after the fixed ones are exactly ``v1`` … ``vN``."""
    rest = [h.strip().lower() for h in header[len(FIXED) :]]
    if not rest or rest != [f"v{k}" for k in range(1, len(rest) + 1)]:
        return None
    return len(rest)


class _Unconvertible(Exception):
    pass


def parse_wide(path: Path, header: list[str]) -> ParsedReads:
    try:
        return _parse_columns(path, header)
    except (_Unconvertible, pa.ArrowInvalid):
        return _parse_lines(path)


def _start_seconds(text: str) -> tuple[int, tuple[str, str] | None]:
    try:
        start_at = datetime.fromisoformat(text)
    except ValueError:
        return 0, ("bad_time", f"start “{text}” is not an ISO 8601 date and time")
    if start_at.tzinfo is None or start_at.utcoffset() is None:
        return 0, ("bad_time", f"start “{text}” has no UTC offset (add Z or ±HH:MM)")
    if start_at.microsecond:
        return 0, ("off_boundary", f"start “{text}” is not on an interval boundary")
    return int(start_at.timestamp()), None


def _codes(column: pa.ChunkedArray) -> tuple[list[str], np.ndarray]:
    if column.num_chunks == 0 or len(column) == 0:
        return [], np.zeros(0, dtype=np.int32)
    texts = column.chunk(0).dictionary.to_pylist()
    codes = np.concatenate(
        [chunk.indices.to_numpy(zero_copy_only=False) for chunk in column.chunks]
    ).astype(np.int32, copy=False)
    return texts, codes


def _parse_columns(path: Path, header: list[str]) -> ParsedReads:
    n = value_columns(header)
    if n is None:
        raise _Unconvertible
    names = [f"v{k}" for k in range(1, n + 1)]
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=_BLOCK_BYTES, use_threads=True),
        parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={
                "meter": _TEXT_CODES,
                "channel": pa.int32(),
                "start": _TEXT_CODES,
                "minutes": pa.int32(),
                "quality": _TEXT_CODES,
                **dict.fromkeys(names, pa.float64()),
            },
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    ).unify_dictionaries()
    if [c.strip().lower() for c in table.column_names] != [*FIXED, *names]:
        raise _Unconvertible
    if any(table.column(name).null_count for name in FIXED):
        raise _Unconvertible
    rows = table.num_rows
    meter_texts, meter_codes = _codes(table.column(0))
    position: dict[str, int] = {}
    meter_of_text = np.array(
        [position.setdefault(s.strip().upper(), len(position)) for s in meter_texts],
        dtype=np.int32,
    )
    numbers = table.column(1).to_numpy()
    if rows and (numbers.min() < 0 or "" in position):
        raise _Unconvertible  # no meter or a negative channel: the careful reader says which
    channel_refs = np.unique(numbers) if rows else np.zeros(0, dtype=np.int32)
    row_channel = np.searchsorted(channel_refs, numbers).astype(np.int32)
    minutes = table.column(3).to_numpy().astype(np.int64)
    if rows and minutes.min() <= 0:
        raise _Unconvertible

    start_texts, start_codes = _codes(table.column(2))
    start_seconds = np.zeros(len(start_texts), dtype=np.int64)
    bad_start: dict[int, tuple[str, str]] = {}
    for k, text in enumerate(start_texts):
        seconds, problem = _start_seconds(text.strip())
        if problem is None:
            start_seconds[k] = seconds
        else:
            bad_start[k] = problem

    # Quality letters, one per value: the distinct strings decoded once each.
    quality_texts, quality_codes = _codes(table.column(4))
    letters = np.full((max(len(quality_texts), 1), n), Quality.ACTUAL, dtype=np.uint8)
    bad_quality: dict[int, str] = {}
    for k, text in enumerate(quality_texts):
        text = text.strip().upper()
        if not text:
            continue
        if len(text) != n or any(c not in LETTERS for c in text):
            bad_quality[k] = text
            continue
        letters[k] = [LETTERS[c] for c in text]

    values = np.empty((rows, n), dtype=np.float64)
    empty = np.zeros((rows, n), dtype=bool)
    for j, name in enumerate(names):
        column = table.column(name)
        values[:, j] = column.to_numpy()
        if column.null_count:
            empty[:, j] = column.is_null().to_numpy(zero_copy_only=False)
    quality = letters[quality_codes] if rows else np.zeros((0, n), dtype=np.uint8)
    # An empty value is no read (missing); a missing letter ignores the value.
    quality[empty] = Quality.MISSING
    values[quality == Quality.MISSING] = 0.0

    builder = ReadsBuilder()
    row_bad = np.zeros(rows, dtype=bool)
    for k, (code, reason) in bad_start.items():
        row_bad |= start_codes == k
        for r in np.flatnonzero(start_codes == k).tolist():
            builder.problem(r + 2, code, reason, **_refs(meter_texts, meter_codes, numbers, r))
    for k, text in bad_quality.items():
        for r in np.flatnonzero((quality_codes == k) & ~row_bad).tolist():
            builder.problem(
                r + 2,
                "malformed",
                f"quality “{text[:20]}” is not {n} letters A, E or M (or empty for all actual)",
                **_refs(meter_texts, meter_codes, numbers, r),
            )
        row_bad |= quality_codes == k
    finite = np.isfinite(values).all(axis=1)
    for r in np.flatnonzero(~finite & ~row_bad).tolist():
        builder.problem(
            r + 2,
            "malformed",
            "a value is not a finite number",
            **_refs(meter_texts, meter_codes, numbers, r),
        )
    row_bad |= ~finite

    every = not row_bad.any()
    keep = np.flatnonzero(~row_bad)
    step = minutes[keep] * 60
    start = start_seconds[start_codes[keep]]
    offsets = np.arange(1, n + 1, dtype=np.int64)
    end_s = (start[:, np.newaxis] + step[:, np.newaxis] * offsets[np.newaxis, :]).reshape(-1)
    count = len(keep) * n
    # One channel number, one interval length in the whole file (the usual case): one value
    # stands for every read's.
    one_channel = len(channel_refs) == 1
    one_length = len(step) > 0 and int(step.min()) == int(step.max())
    return ParsedReads(
        line=np.repeat((keep + 2).astype(np.int32 if rows < 2**31 - 2 else np.int64), n),
        meter=np.repeat(meter_of_text[meter_codes[keep]], n),
        channel=np.broadcast_to(np.int32(0), (count,))
        if one_channel
        else np.repeat(row_channel[keep], n),
        end_s=end_s,
        duration_s=np.broadcast_to(np.int64(step[0]), (count,))
        if one_length
        else np.repeat(step, n),
        value=(values if every else values[keep]).reshape(-1),
        quality=(quality if every else quality[keep]).reshape(-1),
        meter_refs=list(position),
        channel_refs=[int(c) for c in channel_refs],
        problems=builder.problems,
        records_read=rows,
    )


def _refs(meter_texts, meter_codes, numbers, r: int) -> dict[str, str]:
    return {
        "meter_ref": meter_texts[meter_codes[r]].strip().upper()[:60],
        "channel_ref": str(numbers[r])[:30],
    }


def _parse_lines(path: Path) -> ParsedReads:
    builder = ReadsBuilder()
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.reader(handle)
        header = next(reader, None) or []
        n = value_columns(header)
        if not is_wide(header) or n is None:
            builder.problem(
                1,
                "malformed",
                f"the header must be “{','.join(FIXED)},v1,…,vN”",
                raw=",".join(header)[:1000],
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
            _parse_row(builder, reader.line_num, row, n)
    return builder.build()


def _parse_row(builder: ReadsBuilder, line: int, row: list[str], n: int) -> None:
    raw = ",".join(row)[:1000]
    if len(row) != len(FIXED) + n:
        builder.problem(
            line, "malformed", f"expected {len(FIXED) + n} fields, found {len(row)}", raw=raw
        )
        return
    serial, number, start_text, minutes_text, quality_text = (f.strip() for f in row[:5])
    refs = {"meter_ref": serial.upper()[:60], "channel_ref": number[:30], "raw": raw}
    if not serial:
        builder.problem(line, "malformed", "no meter", **refs)
        return
    if not number.isdigit():
        builder.problem(line, "malformed", f"channel “{number}” is not a channel number", **refs)
        return
    if not minutes_text.isdigit() or int(minutes_text) <= 0:
        builder.problem(line, "malformed", f"minutes “{minutes_text}” is not a length", **refs)
        return
    start_s, problem = _start_seconds(start_text)
    if problem is not None:
        builder.problem(line, *problem, **refs)
        return
    quality_text = quality_text.upper()
    if quality_text and (len(quality_text) != n or any(c not in LETTERS for c in quality_text)):
        builder.problem(
            line,
            "malformed",
            f"quality “{quality_text[:20]}” is not {n} letters A, E or M (or empty for all actual)",
            **refs,
        )
        return
    values: list[float] = []
    for text in row[5:]:
        text = text.strip()
        try:
            value = float(text) if text else 0.0
        except ValueError:
            builder.problem(line, "malformed", f"value “{text}” is not a number", **refs)
            return
        if not math.isfinite(value):
            builder.problem(line, "malformed", "a value is not a finite number", **refs)
            return
        values.append(value)
    step = int(minutes_text) * 60
    for k, value in enumerate(values):
        letter = LETTERS[quality_text[k]] if quality_text else Quality.ACTUAL
        if not row[5 + k].strip():
            letter = Quality.MISSING
        builder.add(
            line=line,
            meter_ref=serial.upper(),
            channel_ref=int(number),
            end_s=start_s + (k + 1) * step,
            duration_s=step,
            value=value if letter != Quality.MISSING else 0.0,
            quality=letter,
        )
