"""Green Button / NAESB ESPI XML: an Atom feed whose entries hold UsagePoint, MeterReading,
ReadingType and IntervalBlock resources, tied together by their ``link`` hrefs.

ESPI names no meter, so the caller says which Ohm meter the file is for. Each MeterReading's
ReadingType picks the channel: energy (uom 72, Wh) goes to kWh delivered or received by
``flowDirection`` (1 forward, 19 reverse), power (uom 38, W) to kW demand. Values are scaled
by ``10^powerOfTenMultiplier`` and from Wh/W to kWh/kW. Real files stray from the schema;
what can still be read unambiguously is, and the rest is reported reading by reading.

The XML is parsed with entity expansion, DTD loading and network access off, and a file with
a document type declaration is refused outright (no external entities, no entity bombs).
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from ohm.metering.ingest.records import ParsedReads, ReadsBuilder
from ohm.metering.models import MeterChannel, Quality

ATOM = "http://www.w3.org/2005/Atom"
#: ESPI QualityOfReading -> Ohm quality. Others (10 questionable, 16 other, ...) load as
#: actual with a note, so a person can look.
READING_QUALITY = {
    0: Quality.ACTUAL,
    14: Quality.ACTUAL,
    17: Quality.ACTUAL,
    18: Quality.ACTUAL,
    19: Quality.ACTUAL,
    7: Quality.EDITED,
    8: Quality.ESTIMATED,
    9: Quality.ESTIMATED,
    11: Quality.ESTIMATED,
    12: Quality.ESTIMATED,
    13: Quality.ESTIMATED,
    15: Quality.ESTIMATED,
}
UOM_WH, UOM_W = 72, 38
FLOW_FORWARD, FLOW_REVERSE = 1, 19
#: accumulationBehaviour: 0 not given, 4 deltaData (interval quantities), 6 indicating (demand).
ACCUMULATIONS = {0, 4, 6}


class UnsafeXML(ValueError):
    pass


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _local(element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element, name: str):
    for child in element:
        if _local(child) == name:
            return child
    return None


def _children(element, name: str):
    return [child for child in element if _local(child) == name]


def _text(element, name: str) -> str | None:
    found = _child(element, name) if element is not None else None
    return (found.text or "").strip() if found is not None else None


def _int(element, name: str) -> int | None:
    text = _text(element, name)
    if text is None or text == "":
        return None
    return int(text)


def parse_greenbutton(path: Path, *, meter_serial: str) -> ParsedReads:
    builder = ReadsBuilder()
    try:
        tree = etree.parse(str(path), _parser())
    except etree.XMLSyntaxError as exc:
        builder.problem(
            getattr(exc, "lineno", None), "malformed", f"not well-formed XML: {exc.msg}"
        )
        return builder.build()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        builder.problem(
            1,
            "unsafe_xml",
            "the file has a document type declaration (DOCTYPE); Green Button files have none and it is refused unread",
        )
        return builder.build()
    root = tree.getroot()
    entries = (
        _children(root, "entry")
        if _local(root) == "feed"
        else [root]
        if _local(root) == "entry"
        else []
    )
    if not entries:
        builder.problem(
            root.sourceline,
            "malformed",
            f"the root element is <{_local(root)}>, not an Atom feed or entry",
        )
        return builder.build()
    _Feed(entries, builder, meter_serial).read()
    return builder.build()


class _Feed:
    def __init__(self, entries, builder: ReadsBuilder, meter: str):
        self.builder, self.meter = builder, meter
        self.usage_points, self.meter_readings, self.reading_types, self.blocks = [], [], {}, []
        for entry in entries:
            links = [
                (link.get("rel", ""), (link.get("href") or "").strip())
                for link in _children(entry, "link")
            ]
            content = _child(entry, "content")
            for resource in content if content is not None else []:
                kind = _local(resource)
                if kind == "UsagePoint":
                    self.usage_points.append(resource)
                elif kind == "MeterReading":
                    self.meter_readings.append((links, resource))
                elif kind == "ReadingType":
                    self.reading_types[_href(links, "self")] = resource
                elif kind == "IntervalBlock":
                    self.blocks.append((links, resource))

    def read(self) -> None:
        for point in self.usage_points:
            kind = _text(_child(point, "ServiceCategory"), "kind")
            if kind not in (None, "", "0"):
                self.builder.problem(
                    point.sourceline,
                    "unsupported",
                    f"the UsagePoint's service kind is {kind}, not electricity (0); its readings are not loaded",
                )
                return
        for links, block in self.blocks:
            reading_links, reading = self._meter_reading_of(links)
            reading_type = self._reading_type_of(reading_links, reading)
            channel, scale, reason = _channel_of(reading_type)
            for interval in _children(block, "IntervalReading"):
                self._reading(interval, channel, scale, reason)

    def _meter_reading_of(self, block_links):
        up = _href(block_links, "up")
        self_href = _href(block_links, "self")
        for links, reading in self.meter_readings:
            mine = _href(links, "self")
            related = {href for rel, href in links if rel == "related"}
            if (up and up in related) or (
                mine and (up.startswith(mine + "/") or self_href.startswith(mine + "/"))
            ):
                return links, reading
        if len(self.meter_readings) == 1:
            return self.meter_readings[0]
        return [], None

    def _reading_type_of(self, links, reading):
        if reading is not None and _child(reading, "ReadingType") is not None:
            return _child(reading, "ReadingType")
        for rel, href in links:
            if rel == "related" and href in self.reading_types:
                return self.reading_types[href]
        if len(self.reading_types) == 1:
            return next(iter(self.reading_types.values()))
        return None

    def _reading(self, interval, channel, scale, reason) -> None:
        line = interval.sourceline
        refs = {"meter_ref": self.meter, "channel_ref": str(channel or "")}
        self.builder.records_read += 1
        if channel is None:
            self.builder.problem(line, "unsupported", reason, **refs)
            return
        period = _child(interval, "timePeriod")
        start_text, duration_text, value_text = (
            _text(period, "start"),
            _text(period, "duration"),
            _text(interval, "value"),
        )
        if period is None or not start_text or not duration_text:
            self.builder.problem(
                line,
                "malformed",
                "the IntervalReading has no timePeriod start and duration",
                **refs,
            )
            return
        if not _is_long(start_text) or not _is_long(duration_text):
            self.builder.problem(
                line,
                "bad_time",
                f"timePeriod start {start_text!r} / duration {duration_text!r} are not whole seconds",
                **refs,
            )
            return
        if value_text is None or value_text == "":
            self.builder.problem(line, "malformed", "the IntervalReading has no value", **refs)
            return
        try:
            value = float(value_text)
        except ValueError:
            self.builder.problem(line, "malformed", f"value {value_text!r} is not a number", **refs)
            return
        quality = Quality.ACTUAL
        codes = [
            c for c in (_text(q, "quality") for q in _children(interval, "ReadingQuality")) if c
        ]
        for code in codes:
            mapped = READING_QUALITY.get(int(code)) if code.isdigit() else None
            if mapped is None:
                self.builder.problem(
                    line,
                    "unknown_quality",
                    f"ReadingQuality {code} has no Ohm equivalent; loaded as actual",
                    loaded=True,
                    **refs,
                )
            elif mapped != Quality.ACTUAL:
                quality = max(quality, mapped)
        start, duration = int(start_text), int(duration_text)
        self.builder.add(
            line=line,
            meter_ref=self.meter,
            channel_ref=channel,
            end_s=start + duration,
            duration_s=duration,
            value=value * scale,
            quality=quality,
        )


def _is_long(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _href(links, rel: str) -> str:
    return next((href for r, href in links if r == rel), "")


def _channel_of(reading_type) -> tuple[str | None, float, str]:
    """(channel measure, factor from the file's numbers to kWh or kW, why not when None)."""
    if reading_type is None:
        return None, 0.0, "no ReadingType describes this MeterReading"
    try:
        uom = _int(reading_type, "uom")
        power = _int(reading_type, "powerOfTenMultiplier") or 0
        flow = _int(reading_type, "flowDirection")
        accumulation = _int(reading_type, "accumulationBehaviour") or 0
        commodity = _int(reading_type, "commodity")
    except ValueError:
        return None, 0.0, "the ReadingType has a field that is not a number"
    if uom is None:
        return None, 0.0, "the ReadingType gives no unit of measure (uom)"
    if commodity not in (None, 0, 1, 2):
        return None, 0.0, f"ReadingType commodity {commodity} is not electricity"
    if accumulation not in ACCUMULATIONS:
        return (
            None,
            0.0,
            f"accumulationBehaviour {accumulation} is not interval data (only 4, deltaData, and 6, indicating)",
        )
    scale = 10.0**power / 1000.0
    if uom == UOM_W:
        return MeterChannel.Measure.KW_DEMAND, scale, ""
    if uom != UOM_WH:
        return None, 0.0, f"unit of measure {uom} is neither Wh (72) nor W (38)"
    if flow in (None, 0, FLOW_FORWARD):
        return MeterChannel.Measure.KWH_DELIVERED, scale, ""
    if flow == FLOW_REVERSE:
        return MeterChannel.Measure.KWH_RECEIVED, scale, ""
    return None, 0.0, f"flowDirection {flow} is neither forward (1) nor reverse (19)"
