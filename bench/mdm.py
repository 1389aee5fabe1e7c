"""Meter data: import, validate and store a day of 15-minute reads for 100,000 meters from CSV.

    ohm bench mdm [--meters 100000] [--layout long|wide] [--history-meters 5] [--sample 300]
                  [--seed 1] [--keep-file]

Runs on the database that DATABASE_URL names and writes into it: meters ``BM0000001``… with
one 15-minute kWh channel each are created once (bulk inserts) and reused, and so is the day
before the benchmark day (imported once, untimed, so VEE has each channel's history as a daily
import would). The benchmark day's rows and its import are deleted before each run, so every
run stores the day afresh.

The CSV (``docs/formats/interval-csv.md``: the long layout, 96 lines per meter, or with
``--layout wide`` one line per meter; a few gaps, spikes and estimates) is written to a
temporary directory untimed. Timed: ``import_reads`` — the function
``ohm reads import FILE --format csv`` calls — on that file: parse, check, VEE in the same pass
(``ohm.metering.ingest.checks``: negatives, spikes against each channel's history, zero runs,
gaps; short gaps interpolated and flagged estimated) and the durable write, committed.

Then a reference check: for a sample of meters (all the ones given gaps, spikes or estimates,
and random others), the file's lines are read again with the ``csv`` module, the day each
meter should have is built interval by interval in plain Python (gaps interpolated by the
textbook formula), and compared with what the store returns; so are the spikes found.

Also measured: ``bytes_per_meter_year``, the interval table's bytes (with its indexes) per
channel-day times 365; ``usage_query_ms``, the median of a 13-month ``load_intervals`` for
meters given 13 months of history. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from django.db import connection, transaction

from ohm.core.audit import SystemActor
from ohm.metering.ingest.loader import file_sha256, import_reads
from ohm.metering.models import IntervalDay, Meter, MeterChannel, Quality, ReadImport
from ohm.metering.store import DayBlock, day_number, load_intervals, save_day_block
from ohm.metering.vee_config import DEFAULT, rules_for

DAY = date(2026, 3, 10)
PREFIX = "BM"
HISTORY_DAYS = 396  # 13 months and a day
ACTOR = SystemActor("bench mdm")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ohm bench mdm", description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=100_000, help="Meters (default 100000).")
    parser.add_argument(
        "--history-meters",
        type=int,
        default=5,
        help="Meters given 13 months of history for the usage query (default 5).",
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=300,
        help="Meters checked against the reference (default 300).",
    )
    parser.add_argument(
        "--layout",
        choices=("long", "wide"),
        default="long",
        help="CSV layout of the benchmark day (default long: one read per line).",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--keep-file",
        action="store_true",
        help="Leave the CSV in the temporary directory and print its path.",
    )
    return parser


def _database() -> str:
    return "postgresql" if connection.vendor == "postgresql" else connection.vendor


def ensure_meters(count: int, out) -> list[int]:
    """Channel ids of the bench meters 1..count, created in bulk when missing."""
    existing = dict(
        MeterChannel.objects.filter(meter__serial__startswith=PREFIX).values_list(
            "meter__serial", "pk"
        )
    )
    wanted = [f"{PREFIX}{i:07d}" for i in range(1, count + 1)]
    missing = [s for s in wanted if s not in existing]
    if missing:
        started = time.perf_counter()
        with transaction.atomic():
            meters = Meter.objects.bulk_create(
                [
                    Meter(
                        serial=s,
                        make="Bench",
                        model="B15",
                        kind=Meter.Kind.AMI,
                        form="2S",
                        multiplier=Decimal(1),
                        dials=6,
                        status=Meter.Status.INSTALLED,
                    )
                    for s in missing
                ],
                batch_size=5000,
            )
            channels = MeterChannel.objects.bulk_create(
                [
                    MeterChannel(
                        meter_id=m.pk,
                        number=1,
                        measure=MeterChannel.Measure.KWH_DELIVERED,
                        interval_minutes=15,
                    )
                    for m in meters
                ],
                batch_size=5000,
            )
        existing.update({m.serial: c.pk for m, c in zip(meters, channels, strict=True)})
        out.write(
            f"Created {len(missing)} bench meters in {time.perf_counter() - started:.1f} s.\n"
        )
    return [existing[s] for s in wanted]


def day_shape(rng: np.random.Generator, meters: int) -> np.ndarray:
    """kWh per 15 minutes, ``[meters, 96]``: a residential curve scaled per meter (each meter
    the same size every day), with noise."""
    hours = (np.arange(96) + 0.5) / 4
    curve = 0.25 + 0.2 * np.exp(-((hours - 8) ** 2) / 4) + 0.45 * np.exp(-((hours - 19) ** 2) / 6)
    scale = np.random.default_rng(0).lognormal(0.0, 0.4, size=(meters, 1))
    return np.round(curve[np.newaxis, :] * scale * rng.uniform(0.7, 1.3, size=(meters, 96)), 3)


class WrittenDay(NamedTuple):
    values: int
    #: Meter positions (0-based) given a gap, a spike, an estimate.
    gaps: np.ndarray
    spikes: np.ndarray
    estimates: np.ndarray


def write_csv(
    path: Path, meters: int, rng: np.random.Generator, day: date = DAY, layout: str = "long"
) -> WrittenDay:
    """A day's reads as Ohm CSV, rows by meter then time (``long``) or a row per meter
    (``wide``)."""
    values = day_shape(rng, meters)
    quality = np.full((meters, 96), "", dtype=object)
    present = np.ones((meters, 96), dtype=bool)
    # A few meters with gaps, spikes and estimates, so VEE has something to find.
    sick = rng.choice(meters, size=max(1, meters // 200), replace=False)
    present[sick, rng.integers(0, 95, size=len(sick))] = False
    spiky = rng.choice(meters, size=max(1, meters // 500), replace=False)
    values[spiky, rng.integers(0, 96, size=len(spiky))] *= 40
    estimated = rng.choice(meters, size=max(1, meters // 300), replace=False)
    quality[estimated, rng.integers(0, 96, size=len(estimated))] = "E"
    base = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    ends = [
        (base + timedelta(minutes=15 * (i + 1))).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(96)
    ]
    serials = pa.array([f"{PREFIX}{i:07d}" for i in range(1, meters + 1)])
    meter_idx = np.repeat(np.arange(meters, dtype=np.int32), 96)[present.ravel()]
    slot_idx = np.tile(np.arange(96, dtype=np.int32), meters)[present.ravel()]
    table = pa.table(
        {
            "meter": pa.DictionaryArray.from_arrays(pa.array(meter_idx), serials).cast(pa.string()),
            "channel": pa.array(np.ones(len(meter_idx), dtype=np.int8)),
            "interval_end": pa.DictionaryArray.from_arrays(pa.array(slot_idx), pa.array(ends)).cast(
                pa.string()
            ),
            "value": pa.array(values.ravel()[present.ravel()]),
            "quality": pa.array(quality.ravel()[present.ravel()].tolist(), type=pa.string()),
        }
    )
    if layout == "wide":
        table = _wide_table(serials, base, values, quality, present)
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))
    return WrittenDay(len(meter_idx), sick, spiky, estimated)


def _wide_table(serials, base: datetime, values, quality, present) -> pa.Table:
    """The wide layout: a line per meter-day, ``quality`` only where a day needs letters."""
    meters = len(serials)
    letters = np.where(present, np.where(quality == "E", "E", "A"), "M")
    odd = ~(letters == "A").all(axis=1)
    quality_column = np.full(meters, "", dtype=object)
    quality_column[odd] = ["".join(row) for row in letters[odd]]
    columns = {
        "meter": serials,
        "channel": pa.array(np.ones(meters, dtype=np.int8)),
        "start": pa.array([base.strftime("%Y-%m-%dT%H:%M:%SZ")] * meters),
        "minutes": pa.array(np.full(meters, 15, dtype=np.int16)),
        "quality": pa.array(quality_column.tolist(), type=pa.string()),
    }
    for k in range(96):
        columns[f"v{k + 1}"] = pa.array(values[:, k], mask=~present[:, k])
    return pa.table(columns)


def ensure_day_before(meters: int, seed: int, out) -> None:
    """The day before DAY, imported once like any daily file: it gives every channel the VEE
    history (``IntervalDay.vee_level``) a daily import judges spikes against."""
    before = DAY - timedelta(days=1)
    have = IntervalDay.objects.filter(
        channel__meter__serial__startswith=PREFIX,
        day=before,
        is_current=True,
        vee_level__isnull=False,
    ).count()
    if have >= meters:
        return
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="ohm-bench-mdm-"))
    path = workdir / f"reads-{before:%Y%m%d}-{meters}.csv"
    write_csv(path, meters, np.random.default_rng(seed + 1_000), day=before)
    at = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=2)
    result = import_reads(path=path, format="csv", actor=ACTOR, at=at, reprocess=True)
    path.unlink()
    workdir.rmdir()
    out.write(
        f"Imported the day before ({result.intervals_loaded} intervals) in {time.perf_counter() - started:.1f} s.\n"
    )


_QUALITY = {"": Quality.ACTUAL, "A": Quality.ACTUAL, "E": Quality.ESTIMATED, "M": Quality.MISSING}


def reference_day(lines: list[list[str]]) -> tuple[list[float], list[int]]:
    """What the store should hold for one meter's day, the slow and obvious way: each value
    and quality in its slot, parsed with ``float`` and ``datetime``; the rest missing. Lines
    of either layout: ``meter,channel,interval_end,value,quality`` or
    ``meter,channel,start,minutes,quality,v1..v96``."""
    base = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    values, flags = [0.0] * 96, [Quality.MISSING] * 96
    for line in lines:
        if len(line) == 5:
            _meter, _channel, end, value, quality = line
            reads = [(datetime.fromisoformat(end), value, quality)]
        else:
            start, minutes, letters = datetime.fromisoformat(line[2]), int(line[3]), line[4]
            reads = [
                (
                    start + timedelta(minutes=minutes * (k + 1)),
                    value,
                    "M" if not value else (letters[k] if letters else "A"),
                )
                for k, value in enumerate(line[5:])
            ]
        for end, value, quality in reads:
            slot = int((end - base).total_seconds()) // 900 - 1
            flags[slot] = _QUALITY[quality]
            values[slot] = float(value) if flags[slot] != Quality.MISSING else 0.0
    return values, flags


def reference_check(
    path: Path, written: WrittenDay, result, *, sample: int, meters: int, rng
) -> tuple[int, list[str]]:
    """Compare a sample of meters with ``reference_day``; returns (values checked, differences)."""
    odd = np.unique(np.concatenate([written.gaps, written.spikes, written.estimates]))
    others = rng.choice(meters, size=min(meters, sample), replace=False)
    chosen = np.unique(np.concatenate([odd, others]))[: max(sample, len(odd))]
    serials = {f"{PREFIX}{int(i) + 1:07d}" for i in chosen}
    lines: dict[str, list[list[str]]] = {s: [] for s in serials}
    with open(path, newline="") as handle:
        next(handle)
        for text in handle:
            if text[:9] in serials:
                lines[text[:9]].extend(csv.reader([text]))
    rules = rules_for(DEFAULT)
    channels = dict(
        MeterChannel.objects.filter(meter__serial__in=serials).values_list("meter__serial", "pk")
    )
    levels = dict(
        IntervalDay.objects.filter(
            channel_id__in=channels.values(), day=DAY - timedelta(days=1), is_current=True
        ).values_list("channel_id", "vee_level")
    )
    found = {(f.channel_id, f.code) for f in result.vee_findings}
    start_at = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    differences: list[str] = []
    checked = 0
    for serial in sorted(serials):
        values, flags = reference_day(lines[serial])
        channel = MeterChannel(pk=channels[serial], interval_minutes=15)
        got = load_intervals(
            channel=channel, start_at=start_at, end_at=start_at + timedelta(days=1)
        )
        for k in range(96):
            checked += 1
            expected = np.float32(values[k])
            if int(got.flags[k]) != flags[k] or got.values[k] != expected:
                differences.append(
                    f"{serial} slot {k}: stored {got.values[k]!r} {Quality.LABELS[int(got.flags[k])]}, expected {expected!r} {Quality.LABELS[flags[k]]}"
                )
        # The rules, by hand: a spike is an actual value above max(factor × the day before's
        # level, floor); a gap is a missing slot between the day's first and last read.
        level = levels.get(channels[serial])
        limit = (
            max(rules.spike_factor * level, rules.spike_floor_kw / 4) if level is not None else None
        )
        expect = {
            "spike": limit is not None
            and any(f == Quality.ACTUAL and v > limit for v, f in zip(values, flags, strict=True)),
            "unestimated_gap": any(
                flags[k] == Quality.MISSING
                and any(f != Quality.MISSING for f in flags[:k])
                and any(f != Quality.MISSING for f in flags[k + 1 :])
                for k in range(96)
            ),
        }
        for code, expected_finding in expect.items():
            if expected_finding != ((channels[serial], code) in found):
                differences.append(
                    f"{serial}: {code} {'expected' if expected_finding else 'not expected'} (level {level}), VEE {'found one' if not expected_finding else 'found none'}"
                )
    return checked, differences


def ensure_history(channel_ids: list[int], rng: np.random.Generator) -> None:
    """13 months of 15-minute days for the usage-query meters (before the day before DAY,
    which ``ensure_day_before`` imports)."""
    first = DAY - timedelta(days=HISTORY_DAYS)
    days = HISTORY_DAYS - 1
    for channel_id in channel_ids:
        if IntervalDay.objects.filter(channel_id=channel_id, day__lt=DAY).count() >= days:
            continue
        block = DayBlock(
            interval_minutes=15,
            channel_ids=np.full(days, channel_id, dtype=np.int64),
            day_numbers=np.arange(day_number(first), day_number(first) + days, dtype=np.int64),
            values=day_shape(rng, days).astype(np.float32),
            flags=np.full((days, 96), Quality.ACTUAL, dtype=np.uint8),
        )
        save_day_block(
            block=block, recorded_at=datetime.now(UTC), source="bench", actor_label="bench mdm"
        )


def interval_table_bytes() -> tuple[int, str]:
    table = IntervalDay._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            return int(cursor.fetchone()[0]), "pg_total_relation_size"
        try:
            # The table and its indexes, as pages on disk.
            cursor.execute(
                "SELECT SUM(pgsize) FROM dbstat WHERE name IN"
                " (SELECT name FROM sqlite_master WHERE tbl_name = %s)",
                [table],
            )
        except Exception:
            cursor.execute(f'SELECT SUM(LENGTH("values") + LENGTH(flags) + 60) FROM {table}')
            return int(cursor.fetchone()[0] or 0), "estimate"
        row = cursor.fetchone()
        return int(row[0] or 0), "dbstat"


def _server_cpu() -> float | None:
    """CPU seconds (user + system) used so far by the PostgreSQL server process of this
    connection, when the server runs on this machine and ``/proc`` shows it; None otherwise
    (and on SQLite, whose work is in the importing process). The server's background writers
    are left out: other users of the server share them."""
    if connection.vendor != "postgresql":
        return None
    host = connection.settings_dict.get("HOST") or ""
    if host not in ("", "localhost", "127.0.0.1", "::1") and not host.startswith("/"):
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def main(argv: list[str] | None = None, *, stdout=None, stderr=None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    options = _parser().parse_args(argv)
    if options.meters < 1:
        err.write("--meters must be at least 1.\n")
        return 2
    rng = np.random.default_rng(options.seed)
    channel_ids = ensure_meters(options.meters, out)
    history = channel_ids[: max(0, min(options.history_meters, len(channel_ids)))]
    ensure_history(history, rng)
    ensure_day_before(options.meters, options.seed, out)

    workdir = Path(tempfile.mkdtemp(prefix="ohm-bench-mdm-"))
    path = workdir / f"reads-{DAY:%Y%m%d}-{options.meters}-{options.layout}.csv"
    started = time.perf_counter()
    written = write_csv(path, options.meters, rng, layout=options.layout)
    values = written.values
    out.write(
        f"Wrote {values} values ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s: {path}\n"
    )
    # Each run stores the day afresh: clear the day and forget the file's earlier import.
    IntervalDay.objects.filter(channel__meter__serial__startswith=PREFIX, day=DAY).delete()
    ReadImport.objects.filter(sha256=file_sha256(path)).delete()
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # The deleted rows' space is reused, as a store that only grows would have it; and
        # the bytes figure below counts live rows, not last run's dead ones.
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {IntervalDay._meta.db_table}")

    at = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=2
    )
    # The file (written just now) and the cleared day go to disk before the clock starts: a
    # daily file has long been received when it is imported, and the import's own commits
    # should not wait behind the bench's writing.
    os.sync()
    load = os.getloadavg()
    server = _server_cpu()
    cpu = os.times()
    started = time.perf_counter()
    result = import_reads(path=path, format="csv", actor=ACTOR, at=at)
    seconds = time.perf_counter() - started
    cpu_end = os.times()
    server_end = _server_cpu()
    server_seconds = (
        round(server_end - server, 3) if server is not None and server_end is not None else None
    )
    parts = ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items())
    findings = Counter(f.code for f in result.vee_findings)
    out.write(
        f"Imported {result.intervals_loaded} intervals, {dict(result.days)} days, {sum(result.exceptions_by_code().values())} exceptions in {seconds:.2f} s ({parts}); "
        f"CPU {cpu_end.user - cpu.user:.2f} s user + {cpu_end.system - cpu.system:.2f} s system"
        + (
            f" (+ {server_seconds:.2f} s in its PostgreSQL server process)"
            if server_seconds is not None
            else ""
        )
        + f"; load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after.\n"
        f"VEE findings: {dict(findings)}.\n"
    )
    checked, differences = reference_check(
        path, written, result, sample=options.sample, meters=options.meters, rng=rng
    )
    out.write(
        f"Reference check: {checked} intervals of {checked // 96} meters, {len(differences)} differences.\n"
    )
    for line in differences[:20]:
        out.write(f"  {line}\n")
    if not options.keep_file:
        path.unlink()
        workdir.rmdir()

    size, how = interval_table_bytes()
    rows = IntervalDay.objects.count()
    per_meter_year = round(size / max(rows, 1) * 365)
    out.write(f"Interval table: {size} bytes ({how}) for {rows} channel-days.\n")

    timings = []
    if history:
        channels = list(MeterChannel.objects.filter(pk__in=history))
        end_at = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
        start_at = end_at - timedelta(days=395)
        for channel in channels:  # warm-up
            load_intervals(channel=channel, start_at=start_at, end_at=end_at)
        for _ in range(5):
            for channel in channels:
                t0 = time.perf_counter()
                series = load_intervals(channel=channel, start_at=start_at, end_at=end_at)
                timings.append((time.perf_counter() - t0) * 1000)
                assert len(series.values) == 395 * 96
    figures = {
        "bench": "mdm",
        "database": _database(),
        "meters": options.meters,
        "values": values,
        "seconds": round(seconds, 3),
        "bytes_per_meter_year": per_meter_year,
        "usage_query_ms": round(statistics.median(timings), 3) if timings else None,
        "layout": options.layout,
        "cpu_seconds": round((cpu_end.user - cpu.user) + (cpu_end.system - cpu.system), 3),
        "server_cpu_seconds": server_seconds,
        "load_average": round(load[0], 2),
    }
    out.write(json.dumps(figures) + "\n")
    return 0 if result.intervals_loaded and not differences else 1
