"""A head-end over HTTP/JSON: the MultiSpeak-style REST gateway most AMI vendors offer.

Endpoints, under a configurable base URL::

    GET  {base}/meters/{serial}/ping        -> {"reachable", "latency_ms", "comm_status"}
    POST {base}/meters/{serial}/reads       -> {"comm_status", "channels": [{"number", "measure",
                                                "register_kwh", "interval_minutes", "start_at",
                                                "values"}]}
    POST {base}/meters/{serial}/disconnect  -> {"confirmed", "state", "failure_reason"}
    POST {base}/meters/{serial}/connect     -> (same)
    GET  {base}/events?since=CURSOR         -> {"events": [{"serial", "kind", "occurred_at",
                                                "detail"}], "cursor"}

Each call has a timeout and a few tries (a switch command is safe to repeat: opening an open
switch leaves it open). Failures become results with a ``comm_status`` (404: unknown meter;
timeouts; anything else: head-end error), never exceptions, so the console can say what
happened. Only ``events_since`` raises (``HeadEndUnavailable``): a poll that fails must not
look like a poll that found nothing.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from decimal import Decimal

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


class HeadEndUnavailable(RuntimeError):
    """The head-end could not be asked (after the tries allowed)."""


class _Failed(Exception):
    def __init__(self, status: str, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


class HttpHeadEnd:
    def __init__(self, base_url: str, *, timeout_s: float = 10.0, tries: int = 2, token: str = ""):
        if not base_url:
            raise ValueError("the HTTP head-end needs a base URL (OHM_HEADEND_URL)")
        self.base_url = base_url.rstrip("/")
        self.timeout_s, self.tries, self.token = timeout_s, max(1, tries), token

    def _call(self, method: str, path: str) -> tuple[dict, int]:
        """(JSON body, tries made). Retries timeouts, refused connections and 5xx only."""
        url = f"{self.base_url}{path}"
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        last = _Failed(CommStatus.HEADEND_ERROR, "not tried")
        for attempt in range(1, self.tries + 1):
            request = urllib.request.Request(
                url, method=method, headers=headers, data=b"" if method == "POST" else None
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return json.loads(response.read().decode("utf-8")), attempt
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    raise _Failed(
                        CommStatus.UNKNOWN_METER, "The head-end does not know this meter."
                    ) from exc
                last = _Failed(CommStatus.HEADEND_ERROR, f"The head-end answered HTTP {exc.code}.")
                if exc.code < 500:
                    raise last from exc
            except TimeoutError as exc:
                last = _Failed(
                    CommStatus.TIMEOUT, f"No answer from the head-end in {self.timeout_s:g} s."
                )
                last.__cause__ = exc
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, TimeoutError | socket.timeout):
                    last = _Failed(
                        CommStatus.TIMEOUT, f"No answer from the head-end in {self.timeout_s:g} s."
                    )
                else:
                    last = _Failed(
                        CommStatus.HEADEND_ERROR,
                        f"The head-end could not be reached: {exc.reason}.",
                    )
            except (ValueError, UnicodeDecodeError) as exc:
                raise _Failed(
                    CommStatus.HEADEND_ERROR, "The head-end's answer was not JSON."
                ) from exc
        raise last

    def _meter_path(self, serial: str, action: str) -> str:
        return f"/meters/{urllib.parse.quote(serial, safe='')}/{action}"

    def ping(self, serial: str, *, at: datetime) -> PingResult:
        try:
            body, attempts = self._call("GET", self._meter_path(serial, "ping"))
        except _Failed as failed:
            return PingResult(False, None, at, failed.status, self.tries)
        reachable = bool(body.get("reachable"))
        status = body.get("comm_status") or (CommStatus.OK if reachable else CommStatus.NO_RESPONSE)
        latency = body.get("latency_ms")
        return PingResult(
            reachable, int(latency) if latency is not None else None, at, status, attempts
        )

    def read_on_demand(self, serial: str, *, at: datetime) -> OnDemandRead:
        try:
            body, attempts = self._call("POST", self._meter_path(serial, "reads"))
            status = body.get("comm_status", CommStatus.OK)
            channels = tuple(
                ChannelRead(
                    number=int(c["number"]),
                    measure=str(c["measure"]),
                    register_kwh=Decimal(str(c["register_kwh"])),
                    interval_minutes=c.get("interval_minutes"),
                    start_at=datetime.fromisoformat(c["start_at"]),
                    values=tuple(float(v) for v in c.get("values", ())),
                )
                for c in body.get("channels", ())
            )
        except _Failed as failed:
            return OnDemandRead(serial, at, failed.status, attempts=self.tries)
        except (KeyError, TypeError, ValueError, ArithmeticError):
            return OnDemandRead(serial, at, CommStatus.HEADEND_ERROR)
        return OnDemandRead(
            serial, at, status, channels if status == CommStatus.OK else (), attempts
        )

    def _switch(self, serial: str, action: str, at: datetime) -> SwitchResult:
        try:
            body, _ = self._call("POST", self._meter_path(serial, action))
        except _Failed as failed:
            return SwitchResult(False, SwitchState.UNKNOWN, failed.detail, at)
        return SwitchResult(
            bool(body.get("confirmed")),
            body.get("state") or SwitchState.UNKNOWN,
            body.get("failure_reason") or "",
            at,
        )

    def disconnect(self, serial: str, *, at: datetime) -> SwitchResult:
        return self._switch(serial, "disconnect", at)

    def connect(self, serial: str, *, at: datetime) -> SwitchResult:
        return self._switch(serial, "connect", at)

    def events_since(self, cursor: str | None, *, at: datetime) -> EventBatch:
        query = f"?{urllib.parse.urlencode({'since': cursor})}" if cursor else ""
        try:
            body, _ = self._call("GET", f"/events{query}")
            events = tuple(
                HeadEndEvent(
                    serial=str(e["serial"]),
                    kind=str(e["kind"]),
                    occurred_at=datetime.fromisoformat(e["occurred_at"]),
                    detail=dict(e.get("detail") or {}),
                )
                for e in body.get("events", ())
            )
            return EventBatch(events, str(body.get("cursor") or cursor or ""))
        except _Failed as failed:
            raise HeadEndUnavailable(failed.detail) from failed
        except (KeyError, TypeError, ValueError) as exc:
            raise HeadEndUnavailable(f"The head-end's event feed was malformed: {exc}") from exc
