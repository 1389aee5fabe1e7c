"""Interval history as Parquet for analytics engines (DuckDB, Spark, pandas, Polars).

Long format, one row per interval: ``meter_serial``, ``channel_number``, ``measure``,
``interval_start`` (UTC timestamp, ms), ``interval_minutes``, ``value`` (float32, kWh or kW
with the multiplier applied), ``quality`` (dictionary-encoded string). Engines filter and
group this shape without unnesting, and sorting by meter then time keeps row-group
statistics useful for pruning. Missing intervals are left out.

The file is written in chunks of channels (one row group each), so a year of a 35,000-meter
utility never sits in memory whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ohm.metering.models import IntervalDay, MeterChannel, Quality
from ohm.metering.store import FLAG_DTYPE, VALUE_DTYPE, utc_midnight

SCHEMA = pa.schema(
    [
        ("meter_serial", pa.string()),
        ("channel_number", pa.int16()),
        ("measure", pa.string()),
        ("interval_start", pa.timestamp("ms", tz="UTC")),
        ("interval_minutes", pa.int16()),
        ("value", pa.float32()),
        ("quality", pa.dictionary(pa.int8(), pa.string())),
    ]
)
_QUALITIES = pa.array([Quality.LABELS[k] for k in range(4)], type=pa.string())


def _chunk_table(channels: list[MeterChannel], start_day: date, end_day: date) -> pa.Table | None:
    """Rows of these channels' current days in ``[start_day, end_day)``."""
    by_id = {c.pk: c for c in channels}
    rows = (
        IntervalDay.objects.filter(
            channel_id__in=list(by_id), is_current=True, day__gte=start_day, day__lt=end_day
        )
        .order_by("channel__meter__serial", "channel__number", "day")
        .values_list("channel_id", "day", "interval_minutes", "values", "flags")
    )
    parts: dict[str, list] = {name: [] for name in SCHEMA.names}
    for channel_id, day, minutes, raw_values, raw_flags in rows:
        values = np.frombuffer(bytes(raw_values), dtype=VALUE_DTYPE)
        flags = np.frombuffer(bytes(raw_flags), dtype=FLAG_DTYPE)
        keep = np.flatnonzero(flags != Quality.MISSING)
        if not len(keep):
            continue
        channel = by_id[channel_id]
        base = int(utc_midnight(day).timestamp() * 1000)
        parts["meter_serial"].append(np.full(len(keep), channel.meter.serial, dtype=object))
        parts["channel_number"].append(np.full(len(keep), channel.number, dtype=np.int16))
        parts["measure"].append(np.full(len(keep), channel.measure, dtype=object))
        parts["interval_start"].append(base + keep.astype(np.int64) * minutes * 60_000)
        parts["interval_minutes"].append(np.full(len(keep), minutes, dtype=np.int16))
        parts["value"].append(values[keep])
        parts["quality"].append(flags[keep].astype(np.int8))
    if not parts["value"]:
        return None
    return pa.table(
        {
            "meter_serial": pa.array(np.concatenate(parts["meter_serial"]), type=pa.string()),
            "channel_number": pa.array(np.concatenate(parts["channel_number"])),
            "measure": pa.array(np.concatenate(parts["measure"]), type=pa.string()),
            "interval_start": pa.array(
                np.concatenate(parts["interval_start"]), type=pa.timestamp("ms", tz="UTC")
            ),
            "interval_minutes": pa.array(np.concatenate(parts["interval_minutes"])),
            "value": pa.array(np.concatenate(parts["value"]), type=pa.float32()),
            "quality": pa.DictionaryArray.from_arrays(
                pa.array(np.concatenate(parts["quality"]), type=pa.int8()), _QUALITIES
            ),
        },
        schema=SCHEMA,
    )


def export_parquet(
    *,
    path: Path,
    start_date: date,
    end_date: date,
    meter_serials: Iterable[str] | None = None,
    channels_per_chunk: int = 2000,
) -> dict[str, int]:
    """Write intervals of UTC days ``[start_date, end_date)`` (all meters, or those named) to
    ``path``. Returns ``{"rows", "channels", "row_groups"}``."""
    channels = MeterChannel.objects.filter(interval_minutes__isnull=False).select_related("meter")
    if meter_serials is not None:
        channels = channels.filter(meter__serial__in=list(meter_serials))
    ordered = list(channels.order_by("meter__serial", "number"))
    counts = {"rows": 0, "channels": len(ordered), "row_groups": 0}
    with pq.ParquetWriter(str(path), SCHEMA, compression="zstd") as writer:
        for lo in range(0, len(ordered), channels_per_chunk):
            table = _chunk_table(ordered[lo : lo + channels_per_chunk], start_date, end_date)
            if table is None:
                continue
            writer.write_table(table)
            counts["rows"] += table.num_rows
            counts["row_groups"] += 1
    return counts
