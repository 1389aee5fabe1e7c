"""Green Button "Download My Data": a meter's intervals as NAESB ESPI Atom XML.

The feed holds, as ESPI links them: one UsagePoint (electricity), the utility's
LocalTimeParameters (standard offset and US-style DST rules), and for each interval energy
channel a MeterReading, its ReadingType and one IntervalBlock per UTC day. Values are
integer milli-watt-hours (``powerOfTenMultiplier`` -3, ``uom`` 72 Wh), so a float32 kWh
survives the trip to within a millionth of a kWh. An estimated interval carries
ReadingQuality 8 (estimated), an edited one 7 (manually edited); missing intervals are left
out. The output validates against the strict schema set (every ``atom:link`` has ``type``;
every entry has two links and ``published``).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from xml.sax.saxutils import escape

import numpy as np

from ohm.core.localtime import utility_zone
from ohm.metering.models import Meter, MeterChannel, Quality
from ohm.metering.store import load_intervals

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
BASE = "urn:ohm:espi/1_1/resource"

#: Ohm quality -> ESPI QualityOfReading (actual carries none).
QUALITY_CODES = {Quality.ESTIMATED: 8, Quality.EDITED: 7}
FLOW: dict[str, int] = {
    MeterChannel.Measure.KWH_DELIVERED: 1,
    MeterChannel.Measure.KWH_RECEIVED: 19,
}


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utcoffset(moment: datetime) -> timedelta:
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"{moment.tzinfo!r} gives no UTC offset at {moment.isoformat()}")
    return offset


def _dst(moment: datetime) -> timedelta:
    saving = moment.dst()
    if saving is None:
        raise ValueError(f"{moment.tzinfo!r} gives no DST information at {moment.isoformat()}")
    return saving


def _transitions(zone: tzinfo, year: int) -> list[datetime]:
    """The local wall-clock moments (naive, in the offset before) the zone's offset changes."""
    found, hour = [], datetime(year, 1, 1, tzinfo=UTC)
    previous = _utcoffset(hour.astimezone(zone))
    while hour.year == year:
        nxt = hour + timedelta(hours=1)
        offset = _utcoffset(nxt.astimezone(zone))
        if offset != previous:
            found.append(nxt.replace(tzinfo=None) + previous)
            previous = offset
        hour = nxt
    return found


def dst_rule(moment: datetime) -> str:
    """ESPI DstRuleType for "the n-th <weekday> of <month> at <hour>": month in bits 28-31,
    n + 1 in bits 25-27, weekday (Monday 1 .. Sunday 7) in 17-19, hour in 12-16, seconds in
    0-11 — so the US rules read 360E2000 (second Sunday in March, 2:00) and B40E2000 (first
    Sunday in November, 2:00)."""
    nth = (moment.day - 1) // 7 + 1
    value = (
        (moment.month << 28)
        | ((nth + 1) << 25)
        | (moment.isoweekday() << 17)
        | (moment.hour << 12)
        | (moment.minute * 60 + moment.second)
    )
    return f"{value:08X}"


def local_time_parameters(zone: tzinfo, year: int) -> dict[str, str]:
    changes = _transitions(zone, year)
    january = datetime(year, 1, 15, tzinfo=UTC).astimezone(zone)
    tz_offset = int(_utcoffset(january).total_seconds() - _dst(january).total_seconds())
    if len(changes) != 2:
        return {
            "dstEndRule": "00000000",
            "dstOffset": "0",
            "dstStartRule": "00000000",
            "tzOffset": str(tz_offset),
        }
    july = datetime(year, 7, 15, tzinfo=UTC).astimezone(zone)
    return {
        "dstEndRule": dst_rule(changes[1]),
        "dstOffset": str(int(_dst(july).total_seconds())),
        "dstStartRule": dst_rule(changes[0]),
        "tzOffset": str(tz_offset),
    }


class _Feed:
    def __init__(self, updated: str):
        self.parts: list[str] = []
        self.updated = updated

    def entry(
        self, *, uid: str, title: str, links: list[tuple[str, str, str]], content: str
    ) -> None:
        link_xml = "".join(
            f'<link rel="{rel}" href="{escape(href)}" type="{kind}"/>' for rel, href, kind in links
        )
        self.parts.append(
            f"<entry><id>urn:uuid:{uid}</id>{link_xml}<title>{escape(title)}</title>"
            f'<content type="xml">{content}</content>'
            f"<published>{self.updated}</published><updated>{self.updated}</updated></entry>"
        )


def _uuid(*parts) -> str:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"


def export_greenbutton(
    *,
    meter: Meter,
    start_date: date,
    end_date: date,
    tz: tzinfo | None = None,
    generated_at: datetime | None = None,
) -> bytes:
    """ESPI XML of ``meter``'s energy intervals on the local days ``[start_date, end_date)``."""
    zone = tz or utility_zone()
    start_at = datetime.combine(start_date, time.min, tzinfo=zone).astimezone(UTC)
    end_at = datetime.combine(end_date, time.min, tzinfo=zone).astimezone(UTC)
    # The feed's timestamps come from the data, not the clock, so one export is reproducible.
    updated = _iso(generated_at or end_at)
    point = f"{BASE}/Subscription/{meter.serial}/UsagePoint/1"
    time_href = f"{BASE}/LocalTimeParameters/1"
    feed = _Feed(updated)
    channels = [
        c
        for c in meter.channels.all().order_by("number")
        if c.interval_minutes and c.measure in FLOW
    ]
    readings = [f"{point}/MeterReading/{c.number}" for c in channels]
    feed.entry(
        uid=_uuid(meter.serial, "usagepoint"),
        title=f"Meter {meter.serial}",
        links=[
            ("self", point, "espi-entry/UsagePoint"),
            ("up", f"{BASE}/Subscription/{meter.serial}/UsagePoint", "espi-feed/UsagePoint"),
            ("related", f"{point}/MeterReading", "espi-feed/MeterReading"),
            ("related", time_href, "espi-entry/LocalTimeParameters"),
        ],
        content=(
            f'<UsagePoint xmlns="{ESPI}"><ServiceCategory><kind>0</kind></ServiceCategory>'
            "<status>1</status></UsagePoint>"
        ),
    )
    rules = local_time_parameters(zone, start_date.year)
    feed.entry(
        uid=_uuid(meter.serial, "localtime", str(zone)),
        title=str(zone),
        links=[
            ("self", time_href, "espi-entry/LocalTimeParameters"),
            ("up", f"{BASE}/LocalTimeParameters", "espi-feed/LocalTimeParameters"),
        ],
        content=(
            f'<LocalTimeParameters xmlns="{ESPI}">'
            + "".join(f"<{k}>{v}</{k}>" for k, v in rules.items())
            + "</LocalTimeParameters>"
        ),
    )
    for channel, reading_href in zip(channels, readings, strict=True):
        minutes = channel.interval_minutes
        assert minutes is not None  # register-only channels were left out above
        type_href = f"{BASE}/ReadingType/{meter.serial}-{channel.number}"
        feed.entry(
            uid=_uuid(meter.serial, "meterreading", channel.number),
            title=channel.get_measure_display(),
            links=[
                ("self", reading_href, "espi-entry/MeterReading"),
                ("up", f"{point}/MeterReading", "espi-feed/MeterReading"),
                ("related", f"{reading_href}/IntervalBlock", "espi-feed/IntervalBlock"),
                ("related", type_href, "espi-entry/ReadingType"),
            ],
            content=f'<MeterReading xmlns="{ESPI}"/>',
        )
        feed.entry(
            uid=_uuid(meter.serial, "readingtype", channel.number),
            title=f"Energy ({channel.interval_minutes}-minute)",
            links=[
                ("self", type_href, "espi-entry/ReadingType"),
                ("up", f"{BASE}/ReadingType", "espi-feed/ReadingType"),
            ],
            content=(
                f'<ReadingType xmlns="{ESPI}"><accumulationBehaviour>4</accumulationBehaviour>'
                f"<commodity>1</commodity><dataQualifier>12</dataQualifier>"
                f"<flowDirection>{FLOW[channel.measure]}</flowDirection>"
                f"<intervalLength>{minutes * 60}</intervalLength>"
                "<kind>12</kind><phase>769</phase><powerOfTenMultiplier>-3</powerOfTenMultiplier>"
                "<timeAttribute>0</timeAttribute><uom>72</uom></ReadingType>"
            ),
        )
        series = load_intervals(channel=channel, start_at=start_at, end_at=end_at)
        _blocks(feed, meter, channel, reading_href, series)
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="{ATOM}">'
        f"<id>urn:uuid:{_uuid(meter.serial, 'feed', start_date, end_date)}</id>"
        f'<link rel="self" href="{BASE}/Batch/Subscription/{meter.serial}" type="espi-feed/Subscription"/>'
        f"<title>Green Button usage for meter {escape(meter.serial)}</title>"
        f"<updated>{updated}</updated>"
    )
    return (head + "".join(feed.parts) + "</feed>\n").encode("utf-8")


def _blocks(feed: _Feed, meter: Meter, channel: MeterChannel, reading_href: str, series) -> None:
    """One IntervalBlock per UTC day that has any interval present."""
    if channel.interval_minutes is None:
        raise ValueError(f"{channel} is a register-only channel; it has no interval blocks")
    seconds = channel.interval_minutes * 60
    present = series.flags != Quality.MISSING
    if not present.any():
        return
    starts = series.starts.astype("datetime64[s]").astype(np.int64)
    milli_wh = np.rint(series.values * 1_000_000).astype(np.int64)
    days = starts // 86400
    for day in np.unique(days[present]).tolist():
        mine = np.flatnonzero((days == day) & present)
        readings = []
        for k in mine.tolist():
            quality = QUALITY_CODES.get(int(series.flags[k]))
            quality_xml = (
                f"<ReadingQuality><quality>{quality}</quality></ReadingQuality>" if quality else ""
            )
            readings.append(
                f"<IntervalReading>{quality_xml}<timePeriod><duration>{seconds}</duration>"
                f"<start>{starts[k]}</start></timePeriod><value>{milli_wh[k]}</value></IntervalReading>"
            )
        block_start = int(starts[mine[0]])
        block_href = f"{reading_href}/IntervalBlock/{day}"
        feed.entry(
            uid=_uuid(meter.serial, "block", channel.number, day),
            title="",
            links=[
                ("self", block_href, "espi-entry/IntervalBlock"),
                ("up", f"{reading_href}/IntervalBlock", "espi-feed/IntervalBlock"),
            ],
            content=(
                f'<IntervalBlock xmlns="{ESPI}"><interval><duration>'
                f"{int(starts[mine[-1]]) + seconds - block_start}</duration><start>{block_start}"
                f"</start></interval>{''.join(readings)}</IntervalBlock>"
            ),
        )
