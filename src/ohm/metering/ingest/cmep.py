"""CMEP ``MEPMD01`` records (California Metering Exchange Protocol; see
``shared/data/cmep/README.md``): interval records and ``...REG`` register records.

Times are local clock readings (``CCYYMMDDHHMM``, the end of each interval) in the zone the
sender's agreement names, given here as ``zone``. At the fall DST change a local time comes
twice; a time is read as the earliest instant after the record's previous reading, which
places the repeated hour in sequence; a repeated time that starts a record cannot be placed
and is reported. A local time that never happens (in the skipped spring hour) is reported.
An empty time means "the previous reading plus one interval" in elapsed time.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from ohm.metering.ingest.records import ParsedReads, ReadsBuilder, RegisterRecord
from ohm.metering.models import MeterChannel, Quality

#: CMEP units -> the Ohm channel measure the values go to.
UNITS = {"KWH": MeterChannel.Measure.KWH_DELIVERED, "KW": MeterChannel.Measure.KW_DEMAND}
REGISTER_UNITS = {"KWHREG": MeterChannel.Measure.KWH_DELIVERED}
#: Protocol text codes we understand. Anything else loads as actual with a note kept.
PROTOCOL_QUALITY = {
    "": Quality.ACTUAL,
    "A": Quality.ACTUAL,
    "E": Quality.ESTIMATED,
    "N": Quality.MISSING,
    "M": Quality.MISSING,
}
_HEADER_FIELDS = 14


class _Unplaceable(Exception):
    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


def local_to_utc(naive: datetime, zone: ZoneInfo, after: datetime | None) -> datetime:
    """The UTC instant of a local clock reading; ``after`` (UTC) is the record's previous one."""
    early = naive.replace(tzinfo=zone, fold=0)
    late = naive.replace(tzinfo=zone, fold=1)
    early_utc, late_utc = early.astimezone(UTC), late.astimezone(UTC)
    if early_utc.astimezone(zone).replace(tzinfo=None) != naive:
        raise _Unplaceable(
            "dst_nonexistent",
            f"local time {naive:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks skip it)",
        )
    if early_utc == late_utc:
        return early_utc
    candidates = sorted({early_utc, late_utc})
    if after is None:
        raise _Unplaceable(
            "dst_ambiguous",
            f"DST-ambiguous local time {naive:%Y-%m-%d %H:%M} in {zone.key}, with no earlier reading in the record to place it",
        )
    for candidate in candidates:
        if candidate > after:
            return candidate
    raise _Unplaceable(
        "dst_ambiguous",
        f"DST-ambiguous local time {naive:%Y-%m-%d %H:%M} in {zone.key} is not after the reading before it",
    )


def parse_interval(text: str) -> int:
    """``MMDDHHMM`` -> minutes; a month length is no fixed number of minutes."""
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"interval “{text}” is not MMDDHHMM")
    months, days, hours, minutes = int(text[:2]), int(text[2:4]), int(text[4:6]), int(text[6:])
    if months:
        raise ValueError(f"interval “{text}” is in months, not a fixed length")
    return ((days * 24) + hours) * 60 + minutes


def parse_cmep(path: Path, *, zone: ZoneInfo) -> ParsedReads:
    builder = ReadsBuilder()
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.reader(handle)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                builder.records_read += 1
                builder.problem(reader.line_num, "malformed", f"unreadable line: {exc}")
                continue
            if not row or all(not f.strip() for f in row):
                continue
            builder.records_read += 1
            _parse_record(builder, reader.line_num, [f.strip() for f in row], zone)
    return builder.build()


def _parse_record(builder: ReadsBuilder, line: int, row: list[str], zone: ZoneInfo) -> None:
    if row[0] != "MEPMD01":
        builder.problem(
            line,
            "unsupported",
            f"record type “{row[0][:20]}” is not MEPMD01 interval data; skipped",
        )
        return
    if len(row) < _HEADER_FIELDS:
        builder.problem(
            line,
            "malformed",
            f"a MEPMD01 record has at least {_HEADER_FIELDS} fields, this has {len(row)}",
        )
        return
    meter, purpose, commodity, units, constant_text, interval_text, count_text = (
        row[7].upper(),
        row[8],
        row[9],
        row[10].upper(),
        row[11],
        row[12],
        row[13],
    )
    refs = {"meter_ref": meter[:60], "channel_ref": units[:30]}
    if not meter:
        builder.problem(line, "malformed", "no meter ID", **refs)
        return
    if commodity and commodity.upper() != "E":
        builder.problem(line, "unsupported", f"commodity “{commodity}” is not electricity", **refs)
        return
    if purpose.upper() == "TEST":
        builder.problem(line, "unsupported", "a TEST record; skipped", **refs)
        return
    register = units in REGISTER_UNITS
    if not register and units not in UNITS:
        builder.problem(line, "unsupported", f"units “{units}” are not KWH, KW or KWHREG", **refs)
        return
    try:
        constant = Decimal(constant_text or "1")
        interval_minutes = parse_interval(interval_text)
        count = int(count_text)
    except (InvalidOperation, ValueError) as exc:
        builder.problem(
            line,
            "malformed",
            str(exc)
            if isinstance(exc, ValueError) and "interval" in str(exc)
            else f"bad calculation constant, interval or count ({constant_text!r}, {interval_text!r}, {count_text!r})",
            **refs,
        )
        return
    triplets = row[_HEADER_FIELDS:]
    if len(triplets) != 3 * count:
        builder.problem(
            line,
            "malformed",
            f"count says {count} readings but {len(triplets)} fields follow (need {3 * count})",
            **refs,
        )
        return
    if not register and interval_minutes <= 0:
        builder.problem(line, "malformed", "interval length is zero", **refs)
        return
    channel = REGISTER_UNITS[units] if register else UNITS[units]
    previous: datetime | None = None
    unplaced = False
    for k in range(count):
        when, code, value_text = triplets[3 * k : 3 * k + 3]
        reading_no = k + 1
        try:
            if when:
                if len(when) != 12 or not when.isdigit():
                    raise _Unplaceable(
                        "bad_time", f"reading {reading_no}: time “{when}” is not CCYYMMDDHHMM"
                    )
                try:
                    naive = datetime.strptime(when, "%Y%m%d%H%M")  # noqa: DTZ007 -- a local clock reading, placed in ``zone`` next
                except ValueError as exc:
                    raise _Unplaceable(
                        "bad_time", f"reading {reading_no}: time “{when}” is not a date and time"
                    ) from exc
                end_at = local_to_utc(naive, zone, previous)
            elif previous is None or unplaced:
                raise _Unplaceable(
                    "bad_time", f"reading {reading_no} has no time and follows no placed reading"
                )
            else:
                end_at = previous + timedelta(minutes=interval_minutes)
        except _Unplaceable as exc:
            builder.problem(
                line,
                exc.code,
                exc.reason
                if exc.reason.startswith("reading")
                else f"reading {reading_no}: {exc.reason}",
                **refs,
            )
            unplaced = True
            continue
        previous, unplaced = end_at, False
        quality = PROTOCOL_QUALITY.get(code.upper())
        if not value_text and quality != Quality.MISSING:
            builder.problem(
                line, "malformed", f"reading {reading_no} ({when or 'next'}) has no value", **refs
            )
            continue
        try:
            value = Decimal(value_text or "0") * constant
        except InvalidOperation:
            builder.problem(
                line,
                "malformed",
                f"reading {reading_no}: value “{value_text}” is not a number",
                **refs,
            )
            continue
        if not value.is_finite():
            builder.problem(
                line,
                "malformed",
                f"reading {reading_no}: value “{value_text}” is not a finite number",
                **refs,
            )
            continue
        if quality is None:
            builder.problem(
                line,
                "unknown_quality",
                f"reading {reading_no}: protocol text “{code}” is not a known quality code; loaded as actual",
                loaded=True,
                **refs,
            )
            quality = Quality.ACTUAL
        if register:
            if quality == Quality.MISSING:
                continue
            builder.registers.append(
                RegisterRecord(
                    line, meter, channel, end_at, Decimal(value_text) if value_text else Decimal(0)
                )
            )
            continue
        builder.add(
            line=line,
            meter_ref=meter,
            channel_ref=channel,
            end_s=int(end_at.timestamp()),
            duration_s=interval_minutes * 60,
            value=float(value),
            quality=quality,
        )
