"""A simulated head-end: deterministic answers from synthetic meters, with real failures.

Every answer is a function of the seed, the serial, the operation and the moment asked, so a
test, a demo and a training session see the same meter behave the same way. Meters whose
intervals are in the store answer with those (an on-demand read agrees with the usage chart);
others get a synthetic load shape.

Troubleshooting paths are reachable on purpose:

- failure rates (``SimulatorConfig``) make some pings and reads go unanswered and some
  switch operations fail, the way a mesh network and old switches do;
- serials ending in ``9999`` never answer, ``9998`` answer only on the third try (slow mesh),
  ``9997`` have a jammed switch — so the demo has a few such meters among thousands;
- ``force(serial, failure)`` makes one meter fail in a test or a training scenario.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np

from ohm.core.localtime import localdate, start_of_day, to_local
from ohm.metering.adapters.headend import (
    ChannelRead,
    CommStatus,
    EventBatch,
    HeadEndEvent,
    OnDemandRead,
    PingResult,
    SwitchResult,
    SwitchState,
)


class Failure:
    UNREACHABLE = "unreachable"  # no answer at all
    SLOW = "slow"  # answers only on the last try
    TIMEOUT = "timeout"  # the head-end times out every try
    SWITCH_JAMMED = "switch_jammed"  # pings and reads work; the switch does not move


#: Serial endings that fail on purpose (see the module docstring).
FAILING_SUFFIXES = {
    "9999": Failure.UNREACHABLE,
    "9998": Failure.SLOW,
    "9997": Failure.SWITCH_JAMMED,
}


@dataclass(frozen=True)
class SimulatorConfig:
    seed: int = 1
    unreachable_rate: float = 0.02  # share of tries a meter does not answer
    timeout_rate: float = 0.01  # share of tries the head-end times out
    switch_failure_rate: float = 0.05  # share of switch operations that are not confirmed
    tries: int = 3  # how often a ping or read is tried before giving up
    event_rate_per_day: float = 0.02  # spontaneous events per meter per day


def _rng(*parts) -> random.Random:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class SimulatedHeadEnd:
    """The ``HeadEnd`` Protocol over synthetic meters.

    ``serials`` lists the meters the head-end knows (a callable, asked when needed; ``None``
    means every AMI meter in Ohm). Switch states live in this object, as they would in the
    meters: a new simulator starts with every switch closed."""

    def __init__(
        self, config: SimulatorConfig | None = None, *, serials=None, use_store: bool = True
    ):
        self.config = config or SimulatorConfig()
        self._serials = serials
        self._use_store = use_store
        self._forced: dict[str, str] = {}
        self._switch: dict[str, str] = {}

    # -- test and training hooks -----------------------------------------------------------

    def force(self, serial: str, failure: str | None) -> None:
        """Make ``serial`` fail with ``failure`` (a ``Failure``) from now on; ``None`` heals it."""
        if failure is None:
            self._forced.pop(serial, None)
        else:
            self._forced[serial] = failure

    def failure_of(self, serial: str) -> str | None:
        if serial in self._forced:
            return self._forced[serial]
        return next((f for end, f in FAILING_SUFFIXES.items() if serial.endswith(end)), None)

    # -- the Protocol ----------------------------------------------------------------------

    def _known(self, serial: str) -> bool:
        return serial in self._known_serials()

    def _known_serials(self) -> set[str]:
        if self._serials is not None:
            return set(self._serials())
        from ohm.metering.models import Meter

        return set(Meter.objects.filter(kind=Meter.Kind.AMI).values_list("serial", flat=True))

    def _tries(self, serial: str, operation: str, at: datetime) -> tuple[str, int, int | None]:
        """(comm status, tries made, latency of the answering try in ms)."""
        failure = self.failure_of(serial)
        cfg = self.config
        rng = _rng(cfg.seed, serial, operation, at.isoformat())
        for attempt in range(1, cfg.tries + 1):
            latency = int(rng.uniform(250, 1800))
            if failure == Failure.UNREACHABLE:
                continue
            if failure == Failure.TIMEOUT:
                continue
            if failure == Failure.SLOW and attempt < cfg.tries:
                continue
            draw = rng.random()
            if draw < cfg.unreachable_rate:
                continue
            if draw < cfg.unreachable_rate + cfg.timeout_rate:
                continue
            return CommStatus.OK, attempt, latency + (attempt - 1) * 5000
        status = CommStatus.TIMEOUT if failure == Failure.TIMEOUT else CommStatus.NO_RESPONSE
        return status, cfg.tries, None

    def ping(self, serial: str, *, at: datetime) -> PingResult:
        if not self._known(serial):
            return PingResult(False, None, at, CommStatus.UNKNOWN_METER, attempts=1)
        status, attempts, latency = self._tries(serial, "ping", at)
        return PingResult(status == CommStatus.OK, latency, at, status, attempts)

    def read_on_demand(self, serial: str, *, at: datetime) -> OnDemandRead:
        if not self._known(serial):
            return OnDemandRead(serial, at, CommStatus.UNKNOWN_METER)
        status, attempts, _ = self._tries(serial, "read", at)
        if status != CommStatus.OK:
            return OnDemandRead(serial, at, status, attempts=attempts)
        return OnDemandRead(serial, at, status, self._channel_reads(serial, at), attempts)

    def disconnect(self, serial: str, *, at: datetime) -> SwitchResult:
        return self._operate(serial, SwitchState.OPEN, at)

    def connect(self, serial: str, *, at: datetime) -> SwitchResult:
        return self._operate(serial, SwitchState.CLOSED, at)

    def switch_state(self, serial: str) -> str:
        """The switch as the meter has it: as last operated here, else as Ohm last recorded
        it (so a restarted simulator agrees with the meter page), else closed."""
        if serial in self._switch:
            return self._switch[serial]
        if self._use_store:
            from ohm.metering.models import MeterEvent

            latest = (
                MeterEvent.objects.filter(
                    meter__serial=serial,
                    kind__in=(MeterEvent.Kind.SWITCH_OPENED, MeterEvent.Kind.SWITCH_CLOSED),
                )
                .order_by("-occurred_at")
                .values_list("kind", flat=True)
                .first()
            )
            if latest == MeterEvent.Kind.SWITCH_OPENED:
                return SwitchState.OPEN
        return SwitchState.CLOSED

    def _operate(self, serial: str, wanted: str, at: datetime) -> SwitchResult:
        if not self._known(serial):
            return SwitchResult(
                False, SwitchState.UNKNOWN, "The head-end does not know this meter.", at
            )
        status, _, _ = self._tries(serial, f"switch-{wanted}", at)
        if status != CommStatus.OK:
            return SwitchResult(
                False, SwitchState.UNKNOWN, "The meter did not answer the switch command.", at
            )
        now_state = self.switch_state(serial)
        if self.failure_of(serial) == Failure.SWITCH_JAMMED or (
            _rng(self.config.seed, serial, "jam", at.isoformat()).random()
            < self.config.switch_failure_rate
        ):
            return SwitchResult(
                False,
                now_state,
                f"The switch did not move: the meter reports it still {now_state}.",
                at,
            )
        self._switch[serial] = wanted
        return SwitchResult(True, wanted, "", at)

    def events_since(self, cursor: str | None, *, at: datetime) -> EventBatch:
        """Spontaneous events (outages with last gasp and restore, tamper, reverse energy) in
        ``(cursor, at]``, at most a week back; the same window always gives the same events."""
        since = datetime.fromisoformat(cursor) if cursor else at - timedelta(days=1)
        since = max(since, at - timedelta(days=7))
        events: list[HeadEndEvent] = []
        if since >= at:
            return EventBatch((), at.isoformat())
        serials = sorted(self._known_serials())
        # Whole UTC hours, so two polls that split a window see the same events as one poll.
        first_hour = since.replace(minute=0, second=0, microsecond=0)
        hour = first_hour
        per_hour = self.config.event_rate_per_day / 24
        kinds = ("outage", "outage", "tamper", "reverse_energy")
        while hour < at:
            rng = np.random.default_rng(
                int.from_bytes(
                    hashlib.sha256(f"{self.config.seed}:{hour.isoformat()}".encode()).digest()[:8],
                    "big",
                )
            )
            hits = np.flatnonzero(rng.random(len(serials)) < per_hour)
            minutes = rng.integers(0, 60, size=len(hits))
            picks = rng.integers(0, len(kinds), size=len(hits))
            for index, minute, pick in zip(
                hits.tolist(), minutes.tolist(), picks.tolist(), strict=True
            ):
                occurred = hour + timedelta(minutes=minute)
                serial = serials[index]
                kind = kinds[pick]
                if kind == "outage":
                    found = [
                        HeadEndEvent(serial, "last_gasp", occurred),
                        HeadEndEvent(serial, "power_outage", occurred + timedelta(seconds=5)),
                        HeadEndEvent(
                            serial, "power_restore", occurred + timedelta(minutes=7 + minute)
                        ),
                    ]
                else:
                    found = [HeadEndEvent(serial, kind, occurred)]
                events.extend(e for e in found if since < e.occurred_at <= at)
            hour += timedelta(hours=1)
        events.sort(key=lambda e: (e.occurred_at, e.serial, e.kind))
        return EventBatch(tuple(events), at.isoformat())

    # -- synthetic meters ------------------------------------------------------------------

    def _channel_reads(self, serial: str, at: datetime) -> tuple[ChannelRead, ...]:
        """Registers and today's (local day's) intervals so far for each interval channel."""
        day_start = start_of_day(localdate(at)).astimezone(UTC)
        channels = self._channels(serial)
        reads = []
        for number, measure, minutes in channels:
            every = minutes or 60
            count = int((at - day_start).total_seconds() // (every * 60))
            starts = [day_start + timedelta(minutes=every * k) for k in range(count)]
            values = self._intervals(serial, number, measure, every, starts)
            energy = self._stored_total(serial, number) + float(sum(values))
            register = self._register_base(serial, number) + Decimal(
                str(round(energy / self._multiplier(serial), 3))
            )
            reads.append(
                ChannelRead(
                    number,
                    measure,
                    register,
                    minutes,
                    day_start,
                    tuple(round(v, 4) for v in values),
                )
            )
        return tuple(reads)

    def _channels(self, serial: str) -> list[tuple[int, str, int | None]]:
        if self._use_store:
            from ohm.metering.models import MeterChannel

            rows = list(
                MeterChannel.objects.filter(meter__serial=serial)
                .exclude(measure=MeterChannel.Measure.KW_DEMAND)
                .values_list("number", "measure", "interval_minutes")
            )
            if rows:
                return rows
        return [(1, "kwh_delivered", 60), (2, "kwh_received", 60)]

    def _multiplier(self, serial: str) -> float:
        if self._use_store:
            from ohm.metering.models import Meter

            found = Meter.objects.filter(serial=serial).values_list("multiplier", flat=True).first()
            if found:
                return float(found)
        return 1.0

    def _register_base(self, serial: str, number: int) -> Decimal:
        return Decimal(_rng(self.config.seed, serial, number, "register").randint(1000, 40000))

    def _stored_total(self, serial: str, number: int) -> float:
        if not self._use_store:
            return 0.0
        from ohm.metering.models import IntervalDay, Quality
        from ohm.metering.store import decode

        total = 0.0
        for row in IntervalDay.objects.filter(
            channel__meter__serial=serial, channel__number=number, is_current=True
        ).only("values", "flags"):
            values, flags = decode(row)
            total += float(values[flags != Quality.MISSING].sum())
        return total

    def _intervals(
        self, serial: str, number: int, measure: str, minutes: int, starts: list[datetime]
    ) -> list[float]:
        stored = self._stored_values(serial, number, starts)
        values = []
        for start in starts:
            if start in stored:
                values.append(stored[start])
                continue
            values.append(self._synthetic(serial, measure, minutes, start))
        return values

    def _stored_values(self, serial: str, number: int, starts: list[datetime]) -> dict:
        if not self._use_store or not starts:
            return {}
        from ohm.metering.models import MeterChannel, Quality
        from ohm.metering.store import load_intervals

        channel = MeterChannel.objects.filter(meter__serial=serial, number=number).first()
        if channel is None or not channel.interval_minutes:
            return {}
        series = load_intervals(
            channel=channel,
            start_at=starts[0],
            end_at=starts[-1] + timedelta(minutes=channel.interval_minutes),
        )
        found = {}
        for start, value, flag in zip(series.starts, series.values, series.flags, strict=True):
            if flag != Quality.MISSING:
                moment = start.astype("datetime64[m]").item().replace(tzinfo=UTC)
                found[moment] = float(value)
        return found

    def _synthetic(self, serial: str, measure: str, minutes: int, start: datetime) -> float:
        """A household-like load: a base, a morning and an evening peak, some noise (kWh)."""
        rng = _rng(self.config.seed, serial, measure, start.isoformat())
        size = 0.5 + _rng(self.config.seed, serial, "size").random()
        hour = to_local(start).hour
        if measure == "kwh_received":
            return 0.0
        shape = (
            0.35
            + 0.5 * float(np.exp(-((hour - 7.5) ** 2) / 3))
            + 0.9 * float(np.exp(-((hour - 19) ** 2) / 6))
        )
        return size * shape * (0.85 + 0.3 * rng.random()) * minutes / 60
