"""What every parser produces: reads as parallel numpy arrays, register reads, and problems.

Arrays rather than one object per read: a day of 15-minute reads for 100,000 meters is
9.6 million reads, and per-read Python objects would cost more than the rest of the import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np

#: Channel references name a channel by number (CSV) or by what it measures (Green Button,
#: CMEP), e.g. ``MeterChannel.Measure.KWH_DELIVERED``.
ChannelRef = int | str


@dataclass(frozen=True)
class Problem:
    """A read (or a line) that did not load, or loaded with a note (``loaded=True``)."""

    line: int | None
    code: str
    reason: str
    meter_ref: str = ""
    channel_ref: str = ""
    raw: str = ""
    loaded: bool = False


@dataclass(frozen=True)
class RegisterRecord:
    line: int
    meter_ref: str
    channel_ref: ChannelRef
    read_at: datetime
    reading: Decimal


@dataclass
class ParsedReads:
    """Interval reads of a file. Element *i* of each array is one read:

    - ``line``: 1-based line in the file (XML: the line of the reading element);
    - ``meter``/``channel``: codes into ``meter_refs``/``channel_refs``;
    - ``end_s``: the interval's end, whole seconds since the Unix epoch, UTC;
    - ``duration_s``: its length in seconds, or 0 for "the channel's interval length";
    - ``value``: kWh (energy) or kW (demand) with every multiplier of the file applied;
    - ``quality``: ``Quality`` code.
    """

    line: np.ndarray
    meter: np.ndarray
    channel: np.ndarray
    end_s: np.ndarray
    duration_s: np.ndarray
    value: np.ndarray
    quality: np.ndarray
    meter_refs: list[str]
    channel_refs: list[ChannelRef]
    registers: list[RegisterRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: Lines (records) the file held, good or bad.
    records_read: int = 0

    def __len__(self) -> int:
        return len(self.end_s)


class ReadsBuilder:
    """Collects reads one at a time, for the formats whose files are small (XML, CMEP)."""

    def __init__(self) -> None:
        self._meters: dict[str, int] = {}
        self._channels: dict[ChannelRef, int] = {}
        self._rows: list[tuple[int, int, int, int, int, float, int]] = []
        self.registers: list[RegisterRecord] = []
        self.problems: list[Problem] = []
        self.records_read = 0

    def add(
        self,
        *,
        line: int,
        meter_ref: str,
        channel_ref: ChannelRef,
        end_s: int,
        duration_s: int,
        value: float,
        quality: int,
    ) -> None:
        meter = self._meters.setdefault(meter_ref, len(self._meters))
        channel = self._channels.setdefault(channel_ref, len(self._channels))
        self._rows.append((line, meter, channel, end_s, duration_s, value, quality))

    def problem(self, line: int | None, code: str, reason: str, **kwargs) -> None:
        self.problems.append(Problem(line, code, reason, **kwargs))

    def build(self) -> ParsedReads:
        rows = self._rows
        columns = list(zip(*rows, strict=True)) if rows else [()] * 7
        return ParsedReads(
            line=np.array(columns[0], dtype=np.int64),
            meter=np.array(columns[1], dtype=np.int32),
            channel=np.array(columns[2], dtype=np.int32),
            end_s=np.array(columns[3], dtype=np.int64),
            duration_s=np.array(columns[4], dtype=np.int64),
            value=np.array(columns[5], dtype=np.float64),
            quality=np.array(columns[6], dtype=np.uint8),
            meter_refs=list(self._meters),
            channel_refs=list(self._channels),
            registers=self.registers,
            problems=self.problems,
            records_read=self.records_read,
        )
