"""``import_reads``: the one way a file of reads gets into the interval store.

Good reads load and bad ones become ``ReadException`` rows naming the line and the reason.
The file's SHA-256 is kept: the same file again changes nothing. Days are written in chunks,
each its own transaction, and the store leaves an identical day alone; so an import that dies
part way leaves whole chunks behind and running it again finishes the job.

Merging into a day already stored: an interval the day lacks (missing) or holds as an
estimate takes the new read; an interval holding an actual or edited value keeps it, and a
different new value is a "conflict" exception, unless ``replace`` is given, in which case
the new value wins and the day gets a new version (the old one stays, not current).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict
from zoneinfo import ZoneInfo

import numpy as np
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from numpy._core import multiarray as numpy_multiarray

from ohm.core import audit, gctune
from ohm.core.lookups import any_of_sql
from ohm.metering.ingest.checks import (
    FACT_COLUMNS,
    FACT_JOINS,
    ChannelFacts,
    DayFinding,
    channel_facts,
    check_block,
    stored_state,
)
from ohm.metering.ingest.records import ParsedReads, Problem
from ohm.metering.models import (
    Meter,
    MeterChannel,
    Quality,
    ReadException,
    ReadImport,
    RegisterRead,
)
from ohm.metering.store import (
    FLAG_DTYPE,
    VALUE_DTYPE,
    CurrentDay,
    DayBlock,
    day_block_write,
    day_from_number,
    fetch_current_days,
)

#: Channel-days per transaction: big enough that commits cost little, small enough that the
#: arrays of one chunk stay a few megabytes and that the writing thread, which writes one
#: chunk while the next is built, starts early and is seldom left with the last one alone.
CHUNK_DAYS = 20_000
#: Files at least this big are hashed beside the checks rather than before the parse.
HASH_BESIDE_PARSE_BYTES = 8 << 20
#: Exceptions kept as rows per import; the summary still counts every one.
MAX_EXCEPTION_ROWS = 100_000
_DAY_S = 86_400
_SHIFT = 34  # bits for seconds within a file's span in the (channel, start) sort key: 544 years


@dataclass
class ImportResult:
    file_name: str
    read_import: ReadImport | None = None
    already_imported: ReadImport | None = None
    dry_run: bool = False
    records_read: int = 0
    intervals_loaded: int = 0
    register_reads_loaded: int = 0
    days: Counter = field(default_factory=Counter)
    #: What import-time VEE (``ohm.metering.ingest.checks``) found.
    vee_findings: list[DayFinding] = field(default_factory=list)
    #: Seconds spent parsing, checking, in ``before_store`` and storing.
    timings: dict[str, float] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        """Anything of the file is in the store (or would be, in a dry run)."""
        return self.already_imported is not None or bool(
            self.intervals_loaded or self.register_reads_loaded
        )

    def exceptions_by_code(self) -> Counter:
        return Counter(p.code for p in self.problems if not p.loaded)

    def notes_by_code(self) -> Counter:
        return Counter(p.code for p in self.problems if p.loaded)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_file(*, path: Path, format: str, zone: ZoneInfo | None, meter_serial: str) -> ParsedReads:
    if format == ReadImport.Format.CSV:
        from ohm.metering.ingest.csv_format import parse_csv

        return parse_csv(path)
    if format == ReadImport.Format.GREENBUTTON:
        from ohm.metering.ingest.greenbutton import parse_greenbutton

        if not meter_serial:
            raise ValidationError(
                {"meter": "A Green Button file names no meter: give the meter's serial."}
            )
        return parse_greenbutton(path, meter_serial=meter_serial.strip().upper())
    if format == ReadImport.Format.CMEP:
        from ohm.metering.ingest.cmep import parse_cmep

        if zone is None:
            raise ValidationError({"tz": "CMEP times are local: give the file's time zone."})
        return parse_cmep(path, zone=zone)
    raise ValidationError({"format": f"Unknown format “{format}” (csv, greenbutton or cmep)."})


@contextmanager
def _without_huge_pages():
    """numpy asks the kernel for transparent huge pages for every array of 4 MB or more; where
    the kernel then compacts memory on the spot (``defrag`` set to ``madvise``, as on many
    VMs) each fresh array costs more in page faults than the arithmetic on it — measured on
    the 100,000-meter benchmark: 1.8 s of system time for parsing alone, 0.55 s without. An
    import makes many such arrays, once each, so it goes without; the setting is restored."""
    setting = getattr(numpy_multiarray, "_set_madvise_hugepage", None)
    if setting is None:
        yield
        return
    before = setting(False)
    try:
        yield
    finally:
        setting(before)


def import_reads(
    *,
    path: Path,
    format: str,
    actor,
    at: datetime,
    zone: ZoneInfo | None = None,
    meter_serial: str = "",
    dry_run: bool = False,
    replace: bool = False,
    reprocess: bool = False,
    chunk_days: int = CHUNK_DAYS,
    before_store: Callable[[DayBlock], DayBlock] | None = None,
    vee: bool = True,
) -> ImportResult:
    """Import one file of reads. ``at`` is the import time: reads ending after it are refused.
    With ``vee`` (the default) each chunk of merged days is validated in the same pass, all
    channels at once (``ohm.metering.ingest.checks``); the findings come back in
    ``vee_findings`` and are kept as notes on the import. Nothing is estimated here: what is
    stored is what the file says.
    ``before_store`` then sees each chunk just before it is written and may return it changed.

    :raises ValidationError: for a missing option (the meter of a Green Button file, the zone of a CMEP file).
    """
    with _without_huge_pages(), gctune.fewer_collections():
        return _import_reads(
            path=Path(path),
            format=format,
            actor=actor,
            at=at,
            zone=zone,
            meter_serial=meter_serial,
            dry_run=dry_run,
            replace=replace,
            reprocess=reprocess,
            chunk_days=chunk_days,
            before_store=before_store,
            vee=vee,
        )


def _import_reads(
    *,
    path: Path,
    format: str,
    actor,
    at: datetime,
    zone: ZoneInfo | None,
    meter_serial: str,
    dry_run: bool,
    replace: bool,
    reprocess: bool,
    chunk_days: int,
    before_store: Callable[[DayBlock], DayBlock] | None,
    vee: bool,
) -> ImportResult:
    result = ImportResult(file_name=path.name, dry_run=dry_run)
    started = time.perf_counter()
    if path.stat().st_size < HASH_BESIDE_PARSE_BYTES:
        digest = file_sha256(path)
        previous = ReadImport.objects.filter(sha256=digest).first()
        if previous is not None and previous.status == ReadImport.Status.LOADED and not reprocess:
            result.already_imported = previous
            return result
        parsed = parse_file(path=path, format=format, zone=zone, meter_serial=meter_serial)
        result.timings["parse"] = time.perf_counter() - started
        started = time.perf_counter()
        problems = list(parsed.problems)
        reads = _checked_reads(parsed, problems, at=at)
    else:
        # A big file is hashed on a second thread (hashlib lets go of the GIL) while its
        # reads are found and checked, which is one thread's work: the parse before it keeps
        # both cores. The checks only read the database; a file imported before is then
        # parsed and checked for nothing, which is rare.
        parsed = parse_file(path=path, format=format, zone=zone, meter_serial=meter_serial)
        result.timings["parse"] = time.perf_counter() - started
        started = time.perf_counter()
        problems = list(parsed.problems)
        with ThreadPoolExecutor(max_workers=1) as pool:
            hashing = pool.submit(file_sha256, path)
            reads = _checked_reads(parsed, problems, at=at)
            digest = hashing.result()
        previous = ReadImport.objects.filter(sha256=digest).first()
        if previous is not None and previous.status == ReadImport.Status.LOADED and not reprocess:
            result.already_imported = previous
            return result
    result.timings["check"] = time.perf_counter() - started
    result.records_read = parsed.records_read
    actor_label = getattr(actor, "username", "") or str(getattr(actor, "name", "") or "system")

    read_import = None
    if not dry_run:
        read_import = _start(
            previous=previous,
            path=path,
            digest=digest,
            format=format,
            zone=zone,
            meter_serial=meter_serial,
            at=at,
            actor_label=actor_label,
        )
        result.read_import = read_import
    source = f"import:{read_import.pk}" if read_import else "import:dry-run"
    started = time.perf_counter()
    _store_days(
        reads,
        result=result,
        problems=problems,
        replace=replace,
        dry_run=dry_run,
        at=at,
        source=source,
        actor_label=actor_label,
        chunk_days=chunk_days,
        before_store=before_store,
        vee=vee,
    )
    result.timings["store"] = (
        time.perf_counter()
        - started
        - result.timings.get("before_store", 0.0)
        - result.timings.get("vee", 0.0)
    )
    _store_registers(
        parsed,
        result=result,
        problems=problems,
        replace=replace,
        dry_run=dry_run,
        at=at,
        source=source,
        actor_label=actor_label,
    )
    result.problems = _with_raw_text(path, format, problems)
    if read_import is not None:
        _finish(read_import, result=result, actor=actor, at=at)
    return result


def _checked_reads(parsed: ParsedReads, problems: list[Problem], *, at: datetime) -> _Reads:
    """The file's interval reads with their channels, checked: the ones that cannot load are
    in ``problems``."""
    reads = _Reads.resolve(parsed, problems)
    reads.check(at_s=int(at.timestamp()), problems=problems)
    reads.aggregate(problems)
    reads.dedupe(problems)
    return reads


def _start(*, previous, path, digest, format, zone, meter_serial, at, actor_label) -> ReadImport:
    fields = {
        "file_name": path.name[:255],
        "format": format,
        "status": ReadImport.Status.RUNNING,
        "time_zone": getattr(zone, "key", "") or "",
        "meter_serial": meter_serial.strip().upper(),
        "started_at": at,
        "finished_at": None,
        "actor_label": actor_label[:150],
    }
    with transaction.atomic():
        if previous is not None:
            # Resuming an interrupted or refused import (or reprocessing on request): the
            # store skips what is already there; the exceptions are found afresh.
            previous.exceptions.all().delete()
            for name, value in fields.items():
                setattr(previous, name, value)
            previous.save()
            return previous
        try:
            with transaction.atomic():
                return ReadImport.objects.create(sha256=digest, **fields)
        except IntegrityError:
            return ReadImport.objects.get(sha256=digest)


def _finish(read_import: ReadImport, *, result: ImportResult, actor, at: datetime) -> None:
    rows = [
        ReadException(
            read_import=read_import,
            line=p.line,
            meter_ref=p.meter_ref[:60],
            channel_ref=p.channel_ref[:30],
            code=p.code[:30],
            reason=p.reason[:300],
            raw=p.raw[:1000],
            loaded=p.loaded,
        )
        for p in result.problems[:MAX_EXCEPTION_ROWS]
    ]
    rows += [
        ReadException(
            read_import=read_import,
            line=None,
            meter_ref=f.meter_serial[:60],
            channel_ref=str(f.channel_number),
            code=f"vee_{f.code}"[:30],
            reason=f"{f.day:%Y-%m-%d} (UTC): {f.message}"[:300],
            loaded=True,
        )
        for f in result.vee_findings[: max(0, MAX_EXCEPTION_ROWS - len(rows))]
    ]
    read_import.status = ReadImport.Status.LOADED if result.loaded else ReadImport.Status.REJECTED
    read_import.records_read = result.records_read
    read_import.intervals_loaded = result.intervals_loaded
    read_import.days_inserted = result.days["inserted"]
    read_import.days_versioned = result.days["versioned"]
    read_import.days_unchanged = result.days["unchanged"]
    read_import.register_reads_loaded = result.register_reads_loaded
    read_import.exception_count = sum(1 for p in result.problems if not p.loaded)
    read_import.finished_at = at
    with transaction.atomic():
        ReadException.objects.bulk_create(rows, batch_size=2000)
        read_import.save()
        audit.record(
            "metering.reads.imported",
            subject=read_import,
            actor=actor,
            at=at,
            after={
                "file": read_import.file_name,
                "format": read_import.format,
                "status": read_import.status,
                "intervals": result.intervals_loaded,
                "days": dict(result.days),
                "register_reads": result.register_reads_loaded,
                "exceptions": read_import.exception_count,
                "vee_findings": len(result.vee_findings),
            },
        )


class _Refs(TypedDict, total=False):
    meter_ref: str
    channel_ref: str


class _Reads:
    """The interval reads of a file while they are checked: parallel arrays, filtered in step."""

    def __init__(self, parsed: ParsedReads, channel_id, interval_s, demand):
        self.parsed = parsed
        self.line = parsed.line
        self.meter = parsed.meter
        self.channel = parsed.channel
        self.end_s = parsed.end_s
        self.duration_s = parsed.duration_s
        self.value = parsed.value
        self.quality = parsed.quality
        self.channel_id = channel_id
        self.interval_s = interval_s
        self.demand = demand
        self.facts: ChannelFacts | None = None
        #: The reads are in (channel, end) order with no interval twice (``dedupe`` knows).
        self.ordered = False

    _FIELDS = (
        "line",
        "meter",
        "channel",
        "end_s",
        "duration_s",
        "value",
        "quality",
        "channel_id",
        "interval_s",
        "demand",
    )

    def keep(self, mask: np.ndarray) -> None:
        """Keep the reads where ``mask`` holds (their order stays)."""
        if mask.all():
            return
        for name in self._FIELDS:
            setattr(self, name, getattr(self, name)[mask])

    def refs(self, i: int) -> _Refs:
        return {
            "meter_ref": self.parsed.meter_refs[self.meter[i]],
            "channel_ref": str(self.parsed.channel_refs[self.channel[i]]),
        }

    def report(self, mask: np.ndarray, problems: list[Problem], code: str, reason) -> None:
        """One problem per line among the reads in ``mask``; ``reason(i)`` words it for read i."""
        seen: set[int] = set()
        for i in np.flatnonzero(mask).tolist():
            line = int(self.line[i])
            if line in seen:
                continue
            seen.add(line)
            problems.append(Problem(line, code, reason(i), **self.refs(i)))

    @classmethod
    def resolve(cls, parsed: ParsedReads, problems: list[Problem]) -> _Reads:
        """Find each read's channel; reads of unknown meters or channels become problems.

        Vectorized: a table ``[meter ref, channel ref] -> channel`` is filled from the
        database rows of the file's meters, and each read looks its pair up in it."""
        refs = parsed.meter_refs
        width = max(len(parsed.channel_refs), 1)
        table = _ChannelTable(len(refs), width)
        rows = _channels_of(refs)
        facts = channel_facts(rows)
        if rows:
            position = {serial: k for k, serial in enumerate(refs)}
            # As columns; a meter without channels has None in the channel's.
            serials, pks, numbers, measures, row_minutes = (
                list(column) for column in list(zip(*rows, strict=True))[:5]
            )
            row_ref = np.array([position.get(r, -1) for r in serials], dtype=np.int64)
            if None in pks:
                pks = [-1 if r is None else r for r in pks]
                numbers = [-1 if r is None else r for r in numbers]
                measures = ["" if r is None else r for r in measures]
            pk = np.array(pks, dtype=np.int64)
            number = np.array(numbers, dtype=np.int64)
            measure = np.array(measures, dtype=object)
            minutes = np.array([r or 0 for r in row_minutes], dtype=np.int64)
            table.known[row_ref[row_ref >= 0]] = True
            for j, ref in enumerate(parsed.channel_refs):
                if isinstance(ref, int):
                    pick = np.flatnonzero((row_ref >= 0) & (pk >= 0) & (number == ref))
                else:
                    # A measure names the meter's lowest-numbered interval channel of that
                    # measure (a register-only one when it has no interval channel).
                    pick = np.flatnonzero((row_ref >= 0) & (pk >= 0) & (measure == ref))
                    order = np.lexsort((number[pick], minutes[pick] == 0, row_ref[pick]))
                    pick = pick[order]
                    first = np.r_[True, row_ref[pick][1:] != row_ref[pick][:-1]]
                    pick = pick[first]
                table.channel_id[row_ref[pick], j] = pk[pick]
                table.minutes[row_ref[pick], j] = minutes[pick]
                table.number[row_ref[pick], j] = number[pick]
                table.demand[row_ref[pick], j] = measure[pick] == MeterChannel.Measure.KW_DEMAND
        # Each read's pair of codes as one index into the tables (no copy for one channel).
        if width == 1:
            pair = parsed.meter
        else:
            pair = parsed.meter.astype(np.int32 if len(refs) * width < 2**31 else np.int64)
            pair = pair * width + parsed.channel
        interval_channel = np.where(table.minutes > 0, table.channel_id, -1)
        channel_id = interval_channel.ravel()[pair]
        # Interval length and demand per read; the same for every usable read when the file's
        # channels all agree (the usual case), and then one value stands for them all (reads
        # of unusable channels are dropped below).
        usable = interval_channel >= 0
        lengths = table.minutes[usable]
        if len(lengths) and int(lengths.min()) == int(lengths.max()):
            interval_s = np.broadcast_to(np.int64(int(lengths[0]) * 60), pair.shape)
        else:
            interval_s = (table.minutes * 60).ravel()[pair]
        kinds = table.demand[usable]
        if len(kinds) and bool(kinds.min()) == bool(kinds.max()):
            demand = np.broadcast_to(np.bool_(kinds[0]), pair.shape)
        else:
            demand = table.demand.ravel()[pair]
        reads = cls(parsed, channel_id, interval_s, demand)
        reads.facts = facts
        unusable = channel_id < 0
        if unusable.any():
            seen: set[int] = set()
            for i in np.flatnonzero(unusable).tolist():
                line = int(reads.line[i])
                if line in seen:
                    continue
                seen.add(line)
                code, reason = table.reason(int(pair[i]), refs, parsed.channel_refs)
                problems.append(Problem(line, code, reason, **reads.refs(i)))
            reads.keep(~unusable)
        return reads

    def check(self, *, at_s: int, problems: list[Problem]) -> None:
        if self.duration_s.any() and not np.array_equal(self.duration_s, self.interval_s):
            # Some reads give their own length (Green Button, CMEP): it must fit the channel's.
            duration = np.where(self.duration_s > 0, self.duration_s, self.interval_s)
            mismatch = (
                (duration > self.interval_s)
                | (self.interval_s % np.maximum(duration, 1) != 0)
                | (duration <= 0)
            )
        else:
            # Every read is one interval of its channel: nothing can mismatch.
            duration, mismatch = self.interval_s, None
        self.duration_s = duration
        if mismatch is not None:
            self.report(
                mismatch,
                problems,
                "interval_mismatch",
                lambda i: (
                    f"interval length {int(self.duration_s[i])} s does not match channel {int(self.interval_s[i])} s"
                ),
            )
        future = self.end_s > at_s
        if mismatch is not None:
            future &= ~mismatch
        self.report(
            future,
            problems,
            "future",
            lambda i: f"the interval ending {_iso(self.end_s[i])} ends after the import time",
        )
        # On a boundary: the start, and so the end, is a multiple of the length.
        if len(duration) and int(duration.min()) == int(duration.max()):
            step = max(int(duration[0]), 1)
            off = _blockwise(lambda a, b: self.end_s[a:b] % step != 0, len(self.end_s))
        else:
            off = self.end_s % np.maximum(duration, 1) != 0
        off &= ~future
        if mismatch is not None:
            off &= ~mismatch
        self.report(
            off,
            problems,
            "off_boundary",
            lambda i: (
                f"{_iso(self.end_s[i])} is not on a {int(self.duration_s[i]) // 60}-minute boundary"
            ),
        )
        bad = future | off
        if mismatch is not None:
            bad |= mismatch
        if bad.any():
            self.keep(~bad)

    def aggregate(self, problems: list[Problem]) -> None:
        """Reads shorter than their channel's interval (15-minute reads for an hourly channel)
        are summed (energy) or averaged (demand) into it, when every part is there."""
        short = self.duration_s < self.interval_s
        if not short.any():
            return
        self.dedupe(problems, only=short)
        short = self.duration_s < self.interval_s
        idx = np.flatnonzero(short)
        slot_end = (
            self.end_s[idx]
            - (self.end_s[idx] - self.duration_s[idx]) % self.interval_s[idx]
            - self.duration_s[idx]
            + self.interval_s[idx]
        )
        key = (self.channel_id[idx] << _SHIFT) + (slot_end - slot_end.min())
        order = np.argsort(key, kind="stable")
        idx, key, slot_end = idx[order], key[order], slot_end[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        covered = np.add.reduceat(self.duration_s[idx], starts)
        total = np.add.reduceat(self.value[idx], starts)
        counts = np.diff(np.r_[starts, len(idx)])
        missing = (
            np.maximum.reduceat((self.quality[idx] == Quality.MISSING).astype(np.int8), starts) > 0
        )
        estimated = (
            np.maximum.reduceat((self.quality[idx] == Quality.ESTIMATED).astype(np.int8), starts)
            > 0
        )
        first = idx[starts]
        slot_end = slot_end[starts]
        complete = covered == self.interval_s[first]
        for j in np.flatnonzero(~complete).tolist():
            i = first[j]
            problems.append(
                Problem(
                    int(self.line[i]),
                    "incomplete",
                    f"{int(covered[j])} s of readings for the {int(self.interval_s[i])} s interval ending {_iso(slot_end[j])}: not stored",
                    **self.refs(i),
                )
            )
        value = np.where(self.demand[first], total / counts, total)
        quality = np.where(
            missing, Quality.MISSING, np.where(estimated, Quality.ESTIMATED, Quality.ACTUAL)
        ).astype(np.uint8)
        rows = first[complete]
        self.end_s[rows] = slot_end[complete]
        self.duration_s[rows] = self.interval_s[rows]
        self.value[rows] = value[complete]
        self.quality[rows] = quality[complete]
        keep = ~short
        keep[rows] = True
        self.keep(keep)

    def dedupe(self, problems: list[Problem], only: np.ndarray | None = None) -> None:
        """Two reads of the same interval in one file: the same value loads once (the second
        is reported as a duplicate); different values are a conflict and neither loads."""
        if not len(self.end_s):
            return
        if only is None:
            if _increasing(self.channel_id, self.end_s):
                self.ordered = True
                return
            key = self.channel_id << _SHIFT
            key += self.end_s
            key -= self.end_s.min()
        else:
            idx = np.flatnonzero(only)
            key = (self.channel_id[idx] << _SHIFT) + (self.end_s[idx] - self.end_s[idx].min())
        if len(key) < 2 or bool(np.all(key[1:] > key[:-1])):
            self.ordered = only is None
            return
        if only is None:
            idx = np.arange(len(self.end_s))
        order = np.argsort(key, kind="stable")
        idx, key = idx[order], key[order]
        same_as_previous = np.r_[False, key[1:] == key[:-1]]
        if not same_as_previous.any():
            return
        drop = np.zeros(len(self.end_s), dtype=bool)
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        counts = np.diff(np.r_[starts, len(idx)])
        for s, c in zip(starts[counts > 1].tolist(), counts[counts > 1].tolist(), strict=True):
            members = idx[s : s + c]
            lines = ", ".join(str(int(self.line[m])) for m in members)
            when = _iso(self.end_s[members[0]])
            values = self.value[members].astype(VALUE_DTYPE)
            if np.all(values == values[0]) and np.all(
                self.quality[members] == self.quality[members[0]]
            ):
                for m in members[1:].tolist():
                    problems.append(
                        Problem(
                            int(self.line[m]),
                            "duplicate",
                            f"the interval ending {when} is read again (lines {lines}); loaded once",
                            **self.refs(m),
                        )
                    )
                drop[members[1:]] = True
            else:
                for m in members.tolist():
                    problems.append(
                        Problem(
                            int(self.line[m]),
                            "conflict",
                            f"conflicting reads for the interval ending {when} in this file (lines {lines}); none loaded",
                            **self.refs(m),
                        )
                    )
                drop[members] = True
        self.keep(~drop)


#: Reads per block when a pass over all reads is done in blocks: its temporary arrays (a few
#: megabytes) are then reused from the heap instead of being fresh pages of memory each time,
#: which for arrays of 9.6 million reads costs more than the arithmetic.
_BLOCK = 1 << 19


def _blockwise(mask, size: int, dtype=bool) -> np.ndarray:
    """``mask(a, b)`` for the reads [a, b) of each block, as one array."""
    out = np.empty(size, dtype=dtype)
    for a in range(0, size, _BLOCK):
        b = min(a + _BLOCK, size)
        out[a:b] = mask(a, b)
    return out


def _increasing(channel_id: np.ndarray, end_s: np.ndarray) -> bool:
    """The reads are in (channel, end) order with no interval twice, checked block by block."""
    size = len(end_s)
    for a in range(0, size - 1, _BLOCK):
        b = min(a + _BLOCK + 1, size)
        channel, end = channel_id[a:b], end_s[a:b]
        later = channel[1:] > channel[:-1]
        later |= (channel[1:] == channel[:-1]) & (end[1:] > end[:-1])
        if not later.all():
            return False
    return True


def _iso(seconds) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%MZ")


class _ChannelTable:
    """``[meter ref, channel ref]`` -> the channel: id (-1: none), interval minutes (0:
    register only), number, and whether it measures demand."""

    def __init__(self, meters: int, width: int):
        self.width = width
        self.known = np.zeros(meters, dtype=bool)
        self.channel_id = np.full((meters, width), -1, dtype=np.int64)
        self.minutes = np.zeros((meters, width), dtype=np.int64)
        self.number = np.zeros((meters, width), dtype=np.int64)
        self.demand = np.zeros((meters, width), dtype=bool)

    def reason(self, pair: int, meter_refs, channel_refs) -> tuple[str, str]:
        meter, j = divmod(pair, self.width)
        serial, ref = meter_refs[meter], channel_refs[j]
        if not self.known[meter]:
            return "unknown_meter", f"no meter {serial} in Ohm"
        if self.channel_id[meter, j] < 0:
            named = (
                f"channel {ref}"
                if isinstance(ref, int)
                else f"a {MeterChannel.Measure(ref).label} channel"
                if ref in MeterChannel.Measure.values
                else f"a “{ref}” channel"
            )
            return "unknown_channel", f"meter {serial} has no {named}"
        return (
            "unknown_channel",
            f"channel {self.number[meter, j]} of meter {serial} keeps register reads only, no intervals",
        )


def _channels_of(serials: list[str]) -> list[tuple]:
    """``(serial, channel id, number, measure, interval minutes, *facts)`` of the meters with
    those serials, one row per channel (channel fields None for a meter without channels);
    ``facts`` are what import-time VEE needs (``checks.FACT_COLUMNS``). The serials go to the
    database as one parameter, however many there are."""
    if not serials:
        return []
    meter_table = connection.ops.quote_name(Meter._meta.db_table)
    channel_table = connection.ops.quote_name(MeterChannel._meta.db_table)
    sql = (
        f"SELECT m.serial, c.id, c.number, c.measure, c.interval_minutes, {FACT_COLUMNS}"
        f" FROM {meter_table} m LEFT JOIN {channel_table} c ON c.meter_id = m.id {FACT_JOINS}"
    )
    where, params = any_of_sql("m.serial", serials)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} WHERE {where}", params)
        return cursor.fetchall()


def _channels_by_ref(serials: list[str]):
    """Meters (by serial) and their channels by number and by measure, as dicts: for the
    few register reads of a file."""
    known: set[str] = set()
    by_number: dict = {}
    by_measure: dict = {}
    for serial, pk, number, measure, minutes, *_ in sorted(
        _channels_of(serials), key=lambda r: (r[0], r[2] or 0)
    ):
        known.add(serial)
        if pk is None:
            continue
        entry = (pk, minutes, measure, number)
        by_number[(serial, number)] = entry
        # A measure names the meter's lowest-numbered interval channel of that measure.
        if (serial, measure) not in by_measure or (
            by_measure[(serial, measure)][1] is None and minutes is not None
        ):
            by_measure[(serial, measure)] = entry
    return known, by_number, by_measure


def _store_days(
    reads: _Reads,
    *,
    result,
    problems,
    replace,
    dry_run,
    at,
    source,
    actor_label,
    chunk_days,
    before_store,
    vee,
) -> None:
    """Scatter the reads into day rows (``[channel-days, intervals]`` matrices), chunk by chunk,
    and store each chunk. Reads sorted by channel and time (as files usually are, and as
    ``dedupe`` found out) are not sorted again. A chunk is written on a second thread while
    the next one is prepared (``_Writer``)."""
    lengths = reads.interval_s
    if not len(lengths):
        return
    chunks: list[_Chunk] = []
    uniform = int(lengths.min()) == int(lengths.max())
    for interval_s in [int(lengths[0])] if uniform else np.unique(lengths).tolist():
        sel: np.ndarray | None = None if uniform else np.flatnonzero(lengths == interval_s)
        end_s = reads.end_s if sel is None else reads.end_s[sel]
        channel_id = reads.channel_id if sel is None else reads.channel_id[sel]
        slot: np.ndarray | None = None
        if reads.ordered and uniform:
            # Already in order: only the day of each read is needed now (to find the day
            # rows), its slot chunk by chunk; both worked out block by block.
            day = _blockwise(
                lambda a, b, e=end_s, i=interval_s: (e[a:b] - i) // _DAY_S, len(end_s), np.int32
            )
        else:
            day, slot = np.divmod(end_s - interval_s, _DAY_S)
            slot //= interval_s
        if not (reads.ordered and uniform):
            key = (channel_id << 20) + (day - day.min())
            if not bool(np.all(key[1:] >= key[:-1])):
                order = np.argsort(key, kind="stable")
                sel = order if sel is None else sel[order]
                assert slot is not None  # worked out above whenever reads are not in order
                day, slot, channel_id = day[order], slot[order], channel_id[order]
        new_row = np.empty(len(day), dtype=bool)
        new_row[:1] = True
        np.not_equal(channel_id[1:], channel_id[:-1], out=new_row[1:])
        new_row[1:] |= day[1:] != day[:-1]
        group_starts = np.flatnonzero(new_row)
        bounds = np.r_[group_starts, len(day)]
        value = reads.value if sel is None else reads.value[sel]
        quality = reads.quality if sel is None else reads.quality[sel]
        for lo in range(0, len(group_starts), chunk_days):
            hi = min(lo + chunk_days, len(group_starts))
            chunks.append(
                _Chunk(
                    interval_s=interval_s,
                    channel_ids=channel_id[group_starts[lo:hi]],
                    day_numbers=day[group_starts[lo:hi]].astype(np.int64),
                    a=int(bounds[lo]),
                    b=int(bounds[hi]),
                    new_row=new_row,
                    end_s=end_s,
                    slot=slot,
                    sel=sel,
                    value=value,
                    quality=quality,
                )
            )
    # A caller's ``before_store`` may use the database: then one chunk after the other.
    writer = _Writer(result, threaded=not dry_run and len(chunks) > 1 and before_store is None)
    try:
        # What the store holds for the first chunk; each next chunk's is read before the
        # chunk before it is handed to the writer (one connection: reads and writes take
        # turns), except where a channel's days go on from one chunk into the next: the
        # next chunk's VEE state is then the row just written, read after it.
        stored = _chunk_state(chunks[0], vee) if chunks else None
        for k, chunk in enumerate(chunks):
            assert stored is not None  # read for the first chunk, then after each write
            pending = _prepare_chunk(
                chunk,
                stored,
                reads,
                result=result,
                problems=problems,
                replace=replace,
                dry_run=dry_run,
                at=at,
                source=source,
                actor_label=actor_label,
                before_store=before_store,
                vee=vee,
            )
            writer.wait()
            following = chunks[k + 1] if k + 1 < len(chunks) else None
            continues = following is not None and following.continues(chunk)
            if following is not None and not continues:
                stored = _chunk_state(following, vee)
            if pending is not None:
                writer.submit(pending)
            if continues:
                assert following is not None  # continues says so
                writer.wait()
                stored = _chunk_state(following, vee)
        writer.wait()
    finally:
        writer.close()


@dataclass(frozen=True)
class _Chunk:
    """One transaction's worth of day rows: reads ``[a, b)`` (positions in ``sel`` when
    given) of one interval length, starting a new row where ``new_row`` says."""

    interval_s: int
    channel_ids: np.ndarray
    day_numbers: np.ndarray
    a: int
    b: int
    new_row: np.ndarray
    end_s: np.ndarray
    slot: np.ndarray | None
    sel: np.ndarray | None
    value: np.ndarray
    quality: np.ndarray

    def continues(self, before: _Chunk) -> bool:
        """A channel's days go on from ``before`` into this chunk."""
        return (
            self.interval_s == before.interval_s
            and int(self.channel_ids[0]) == int(before.channel_ids[-1])
            and int(self.day_numbers[0]) == int(before.day_numbers[-1]) + 1
        )

    def block(self) -> tuple[DayBlock, np.ndarray]:
        """The chunk's day rows and, per read, its cell in the flattened matrices."""
        a, b, n = self.a, self.b, _DAY_S // self.interval_s
        rows = len(self.channel_ids)
        # Row of each read in the chunk, then its cell in the flattened matrices.
        cell: np.ndarray = np.cumsum(
            self.new_row[a:b], dtype=np.dtype(np.int32 if rows * n < 2**31 else np.int64)
        )
        cell -= 1
        cell *= n
        if self.slot is not None:
            cell += self.slot[a:b]
        else:
            for c in range(a, b, _BLOCK):
                d = min(c + _BLOCK, b)
                cell[c - a : d - a] += (
                    (self.end_s[c:d] - self.interval_s) % _DAY_S // self.interval_s
                )
        values = np.zeros((rows, n), dtype=VALUE_DTYPE)
        flags = np.full((rows, n), Quality.MISSING, dtype=FLAG_DTYPE)
        values.reshape(-1)[cell] = self.value[a:b]
        flags.reshape(-1)[cell] = self.quality[a:b]
        if (self.quality[a:b] == Quality.MISSING).any():
            # A read flagged missing says only that there is no value: its cell stays a
            # missing interval, value 0 (rather than dropping it, which copies every read).
            values[flags == Quality.MISSING] = 0.0
        block = DayBlock(
            interval_minutes=self.interval_s // 60,
            channel_ids=self.channel_ids,
            day_numbers=self.day_numbers,
            values=values,
            flags=flags,
        )
        return block, cell


@dataclass(frozen=True)
class _Stored:
    """What the store holds for a chunk's rows: the current day rows (to merge with) and each
    row's VEE state from the day before (``checks.stored_state``; None without VEE)."""

    current: dict[tuple[int, int], CurrentDay]
    state: tuple[np.ndarray, np.ndarray] | None


def _chunk_state(chunk: _Chunk, vee: bool) -> _Stored:
    return _Stored(
        current=fetch_current_days(
            channel_ids=chunk.channel_ids,
            first_day=day_from_number(chunk.day_numbers.min()),
            last_day=day_from_number(chunk.day_numbers.max()),
        ),
        state=stored_state(chunk.channel_ids, chunk.day_numbers) if vee else None,
    )


@dataclass(frozen=True)
class _ReadIndex:
    """Which read fills each cell of a chunk's matrices, worked out only when a conflict
    must name its line: reads ``[a, b)`` (positions in ``sel`` when given) went to ``cell``."""

    a: int
    b: int
    cell: np.ndarray
    sel: np.ndarray | None
    rows: int
    n: int

    def matrix(self) -> np.ndarray:
        index = np.full(self.rows * self.n, -1, dtype=np.int64)
        positions = np.arange(self.a, self.b, dtype=np.int64)
        index[self.cell] = positions if self.sel is None else self.sel[positions]
        return index.reshape(self.rows, self.n)


def _prepare_chunk(
    chunk: _Chunk,
    stored: _Stored,
    reads: _Reads,
    *,
    result,
    problems,
    replace,
    dry_run,
    at,
    source,
    actor_label,
    before_store,
    vee,
) -> Callable[[], dict[str, int]] | None:
    """Build a chunk's day rows, merge them with the store's, validate them; returns the
    write still to be done (None in a dry run)."""
    block, cell = chunk.block()
    read_index = _ReadIndex(chunk.a, chunk.b, cell, chunk.sel, *block.values.shape)
    current = stored.current
    present = block.flags != Quality.MISSING
    if current:
        new_values = block.values
        block, conflicts = _merge(block, current, replace=replace)
        if conflicts.any():
            index = read_index.matrix()
            for k, s in zip(*np.nonzero(conflicts), strict=True):
                old = current[(int(block.channel_ids[k]), int(block.day_numbers[k]))]
                end_s = (int(block.day_numbers[k]) * _DAY_S) + (
                    int(s) + 1
                ) * block.interval_minutes * 60
                reason = f"the interval ending {_iso(end_s)} is stored as {Quality.LABELS[int(old.flags[s])]} {float(old.values[s]):g}; this file reads {float(new_values[k, s]):g} (import with replace to overwrite)"
                i = int(index[k, s])
                problems.append(Problem(int(reads.line[i]), "conflict", reason, **reads.refs(i)))
            present &= ~conflicts
    result.intervals_loaded += int(np.count_nonzero(present))
    level: np.ndarray | None = None
    zero_run: np.ndarray | None = None
    if vee:
        started = time.perf_counter()
        checked = check_block(block, facts=reads.facts, stored=stored.state)
        block = checked.block
        level, zero_run = checked.level, checked.zero_run
        result.vee_findings += checked.findings
        result.timings["vee"] = result.timings.get("vee", 0.0) + time.perf_counter() - started
    if before_store is not None:
        started = time.perf_counter()
        block = before_store(block)
        result.timings["before_store"] = (
            result.timings.get("before_store", 0.0) + time.perf_counter() - started
        )
    if dry_run:
        result.days.update({k: v for k, v in _classify(block, current).items() if v})
        return None
    # The rows to write are put together here, so the writing thread only writes.
    return day_block_write(
        block=block,
        recorded_at=at,
        source=source,
        actor_label=actor_label,
        current=current,
        vee_level=level,
        vee_zero_run=zero_run,
    ).run


class _Writer:
    """Runs each chunk's write (its own transaction) on a second thread, so that the next
    chunk is built and validated meanwhile: the database's work (SQLite's inserts run without
    Python's lock; PostgreSQL's in its own process) overlaps numpy's. One write at a time, and
    the caller waits for it before it uses the connection again: the thread works on the
    caller's connection (shared, never at the same time), so a test's transaction and an
    in-memory database hold for it too."""

    def __init__(self, result: ImportResult, *, threaded: bool):
        self.result = result
        self.pending: Future[dict[str, int]] | None = None
        self.connection = connections[DEFAULT_DB_ALIAS]
        self.pool = None
        if threaded:
            self.connection.inc_thread_sharing()
            self.pool = ThreadPoolExecutor(max_workers=1, initializer=self._share)

    def _share(self) -> None:
        connections[DEFAULT_DB_ALIAS] = self.connection

    def submit(self, write: Callable[[], dict[str, int]]) -> None:
        if self.pool is None:
            self._done(write())
        else:
            self.pending = self.pool.submit(write)

    def wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self._done(pending.result())

    def _done(self, counts: dict[str, int]) -> None:
        self.result.days.update({k: v for k, v in counts.items() if v})

    def close(self) -> None:
        if self.pool is None:
            return
        try:
            if self.pending is not None:
                # Leaving on an error: the write under way finishes (or fails) first.
                wait([self.pending])
                self.pending = None
        finally:
            self.pool.shutdown(wait=True)
            self.connection.dec_thread_sharing()


def _merge(
    block: DayBlock, current: dict[tuple[int, int], CurrentDay], *, replace: bool
) -> tuple[DayBlock, np.ndarray]:
    """Fill the stored days with the new reads; returns the merged block and the conflicts."""
    old_values = np.zeros_like(block.values)
    old_flags = np.full_like(block.flags, Quality.MISSING)
    for k, (channel_id, number) in enumerate(
        zip(block.channel_ids.tolist(), block.day_numbers.tolist(), strict=True)
    ):
        old = current.get((channel_id, number))
        if old is not None and len(old.values) == block.values.shape[1]:
            old_values[k], old_flags[k] = old.values, old.flags
    present = block.flags != Quality.MISSING
    protected = np.isin(old_flags, (Quality.ACTUAL, Quality.EDITED))
    conflicts = present & protected & (old_values != block.values) & (not replace)
    take = present & (~protected | replace)
    merged = DayBlock(
        interval_minutes=block.interval_minutes,
        channel_ids=block.channel_ids,
        day_numbers=block.day_numbers,
        values=np.where(take, block.values, old_values),
        flags=np.where(take, block.flags, old_flags).astype(FLAG_DTYPE),
    )
    return merged, conflicts


def _classify(block: DayBlock, current: dict[tuple[int, int], CurrentDay]) -> Counter:
    counts: Counter = Counter()
    for k, (channel_id, number) in enumerate(
        zip(block.channel_ids.tolist(), block.day_numbers.tolist(), strict=True)
    ):
        old = current.get((channel_id, number))
        if old is None:
            counts["inserted"] += 1
        elif np.array_equal(old.values, block.values[k]) and np.array_equal(
            old.flags, block.flags[k]
        ):
            counts["unchanged"] += 1
        else:
            counts["versioned"] += 1
    return counts


def _store_registers(
    parsed: ParsedReads, *, result, problems, replace, dry_run, at, source, actor_label
) -> None:
    if not parsed.registers:
        return
    known, by_number, by_measure = _channels_by_ref(sorted({r.meter_ref for r in parsed.registers}))
    with transaction.atomic():
        for record in parsed.registers:
            refs: _Refs = {"meter_ref": record.meter_ref, "channel_ref": str(record.channel_ref)}
            found = (by_number if isinstance(record.channel_ref, int) else by_measure).get(
                (record.meter_ref, record.channel_ref)
            )
            if record.meter_ref not in known:
                problems.append(
                    Problem(
                        record.line, "unknown_meter", f"no meter {record.meter_ref} in Ohm", **refs
                    )
                )
                continue
            if found is None:
                problems.append(
                    Problem(
                        record.line,
                        "unknown_channel",
                        f"meter {record.meter_ref} has no {record.channel_ref} channel",
                        **refs,
                    )
                )
                continue
            if record.read_at > at:
                problems.append(
                    Problem(
                        record.line,
                        "future",
                        f"the register read at {record.read_at:%Y-%m-%dT%H:%MZ} is after the import time",
                        **refs,
                    )
                )
                continue
            old = RegisterRead.objects.filter(
                channel_id=found[0], read_at=record.read_at, is_current=True
            ).first()
            if old is not None and old.reading == record.reading:
                result.register_reads_loaded += 1
                continue
            if old is not None and not replace:
                problems.append(
                    Problem(
                        record.line,
                        "conflict",
                        f"the register read at {record.read_at:%Y-%m-%dT%H:%MZ} is stored as {old.reading}; this file reads {record.reading} (import with replace to overwrite)",
                        **refs,
                    )
                )
                continue
            result.register_reads_loaded += 1
            if dry_run:
                continue
            if old is not None:
                RegisterRead.objects.filter(pk=old.pk).update(is_current=False)
            RegisterRead.objects.create(
                channel_id=found[0],
                read_at=record.read_at,
                reading=record.reading,
                read_type=RegisterRead.ReadType.AMI,
                version=(old.version + 1) if old else 1,
                recorded_at=at,
                source=source,
                actor_label=actor_label,
            )


def _with_raw_text(path: Path, format: str, problems: list[Problem]) -> list[Problem]:
    """Problems of text files get their line's text, read once at the end for just those lines."""
    if format == ReadImport.Format.GREENBUTTON:
        return sorted(problems, key=lambda p: p.line or 0)
    wanted = {p.line for p in problems[:MAX_EXCEPTION_ROWS] if not p.raw and p.line}
    texts: dict[int, str] = {}
    if wanted:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            for number, text in enumerate(handle, start=1):
                if number in wanted:
                    texts[number] = text.rstrip("\r\n")[:1000]
                    if len(texts) == len(wanted):
                        break
    out = [
        p
        if p.raw or p.line not in texts
        else Problem(p.line, p.code, p.reason, p.meter_ref, p.channel_ref, texts[p.line], p.loaded)
        for p in problems
    ]
    return sorted(out, key=lambda p: p.line or 0)
