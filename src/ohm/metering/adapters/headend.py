"""The AMI head-end as Ohm sees it: a small Protocol and the results it returns.

A head-end is the vendor system that talks to the meters over the AMI network. Ohm asks it
to ping a meter, read it now, open or close its remote switch, and for the events meters
sent since the last poll. Every answer is a result, never an exception for an everyday
failure (no response, switch jammed): those are what a CSR troubleshoots, so they are data.

Times are passed in (``at``): the adapter lives in the domain layer, which never reads the
clock. Energy is kWh with the meter multiplier applied, as in the interval store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol


class CommStatus:
    """Why a meter did or did not answer."""

    OK = "ok"
    NO_RESPONSE = "no_response"  # the meter did not answer: outage, comm failure, tamper
    TIMEOUT = "timeout"  # the head-end or network was too slow
    UNKNOWN_METER = "unknown_meter"  # the head-end has no such meter
    HEADEND_ERROR = "headend_error"  # the head-end itself failed or could not be reached
    LABELS = {
        OK: "Reachable",
        NO_RESPONSE: "No response",
        TIMEOUT: "Timed out",
        UNKNOWN_METER: "Not known to the head-end",
        HEADEND_ERROR: "Head-end error",
    }


class SwitchState:
    CLOSED = "closed"  # connected: the premise has power
    OPEN = "open"  # disconnected
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PingResult:
    reachable: bool
    latency_ms: int | None
    at: datetime
    comm_status: str
    attempts: int = 1


@dataclass(frozen=True)
class ChannelRead:
    """One channel read on demand: its register now, and today's intervals so far.

    ``register_kwh`` is the register as the meter shows it (before the multiplier, not yet
    rolled over at the meter's dials); ``values`` are kWh with the multiplier applied.

    ``start_at`` is the UTC start of ``values[0]``; the values run on in ``interval_minutes``
    steps up to the last whole interval before the read."""

    number: int
    measure: str
    register_kwh: Decimal
    interval_minutes: int | None
    start_at: datetime
    values: tuple[float, ...] = ()


@dataclass(frozen=True)
class OnDemandRead:
    """An on-demand read; ``comm_status`` says why ``channels`` is empty when it is."""

    serial: str
    at: datetime
    comm_status: str
    channels: tuple[ChannelRead, ...] = ()
    attempts: int = 1

    @property
    def succeeded(self) -> bool:
        return self.comm_status == CommStatus.OK


@dataclass(frozen=True)
class SwitchResult:
    confirmed: bool
    state: str
    failure_reason: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class HeadEndEvent:
    serial: str
    kind: str  # a ``MeterEvent.Kind`` value
    occurred_at: datetime
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EventBatch:
    """Events since a cursor; pass ``cursor`` to the next ``events_since`` to continue."""

    events: tuple[HeadEndEvent, ...]
    cursor: str


class HeadEnd(Protocol):
    def ping(self, serial: str, *, at: datetime) -> PingResult: ...

    def read_on_demand(self, serial: str, *, at: datetime) -> OnDemandRead: ...

    def disconnect(self, serial: str, *, at: datetime) -> SwitchResult: ...

    def connect(self, serial: str, *, at: datetime) -> SwitchResult: ...

    def events_since(self, cursor: str | None, *, at: datetime) -> EventBatch: ...
