"""The HTTP head-end client against a small head-end served on loopback in the test."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ohm.metering.adapters.headend import CommStatus, SwitchState
from ohm.metering.adapters.http_headend import HeadEndUnavailable, HttpHeadEnd

AT = datetime(2026, 3, 3, 18, 0, tzinfo=UTC)


class FakeHeadEnd(BaseHTTPRequestHandler):
    calls: list[str] = []
    fail_first: int = 0

    def log_message(self, *args):
        pass

    def _send(self, status: int, body) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _route(self) -> None:
        type(self).calls.append(f"{self.command} {self.path}")
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self._send(503, {"error": "busy"})
            return
        if "/meters/SLOW/" in self.path:
            time.sleep(0.5)
        if "/meters/GONE/" in self.path:
            self._send(404, {"error": "no such meter"})
        elif self.path.endswith("/ping"):
            self._send(200, {"reachable": True, "latency_ms": 840, "comm_status": "ok"})
        elif self.path.endswith("/reads"):
            self._send(
                200,
                {
                    "comm_status": "ok",
                    "channels": [
                        {
                            "number": 1,
                            "measure": "kwh_delivered",
                            "register_kwh": "12345.678",
                            "interval_minutes": 60,
                            "start_at": "2026-03-03T08:00:00+00:00",
                            "values": [0.5, 0.75],
                        }
                    ],
                },
            )
        elif self.path.endswith("/disconnect"):
            self._send(200, {"confirmed": True, "state": "open", "failure_reason": ""})
        elif self.path.startswith("/api/events"):
            self._send(
                200,
                {
                    "events": [
                        {
                            "serial": "M1",
                            "kind": "tamper",
                            "occurred_at": "2026-03-03T17:00:00+00:00",
                        }
                    ],
                    "cursor": "c-2",
                },
            )
        else:
            self._send(500, {"error": "?"})

    do_GET = _route
    do_POST = _route


@pytest.fixture
def base_url():
    FakeHeadEnd.calls, FakeHeadEnd.fail_first = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHeadEnd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()
    server.server_close()


class TestHttpHeadEnd:
    def test_pings_a_meter(self, base_url):
        result = HttpHeadEnd(base_url).ping("M1", at=AT)

        assert result.reachable
        assert result.latency_ms == 840
        assert FakeHeadEnd.calls == ["GET /api/meters/M1/ping"]

    def test_reads_registers_and_intervals(self, base_url):
        read = HttpHeadEnd(base_url).read_on_demand("M1", at=AT)

        channel = read.channels[0]
        assert read.succeeded
        assert channel.register_kwh == Decimal("12345.678")
        assert channel.values == (0.5, 0.75)
        assert channel.start_at.hour == 8

    def test_confirms_a_disconnect(self, base_url):
        result = HttpHeadEnd(base_url).disconnect("M1", at=AT)

        assert result.confirmed
        assert result.state == SwitchState.OPEN

    def test_maps_404_to_an_unknown_meter(self, base_url):
        assert HttpHeadEnd(base_url).ping("GONE", at=AT).comm_status == CommStatus.UNKNOWN_METER

    def test_retries_a_busy_head_end_and_counts_the_tries(self, base_url):
        FakeHeadEnd.fail_first = 1

        result = HttpHeadEnd(base_url, tries=2).ping("M1", at=AT)

        assert result.reachable
        assert result.attempts == 2

    def test_gives_up_after_its_tries_with_a_head_end_error(self, base_url):
        FakeHeadEnd.fail_first = 5

        result = HttpHeadEnd(base_url, tries=2).ping("M1", at=AT)

        assert result.comm_status == CommStatus.HEADEND_ERROR
        assert len(FakeHeadEnd.calls) == 2

    def test_times_out_on_a_slow_answer(self, base_url):
        result = HttpHeadEnd(base_url, timeout_s=0.1, tries=1).ping("SLOW", at=AT)

        assert not result.reachable
        assert result.comm_status == CommStatus.TIMEOUT

    def test_reports_a_head_end_that_is_not_there(self):
        result = HttpHeadEnd("http://127.0.0.1:9", tries=1).ping("M1", at=AT)

        assert result.comm_status == CommStatus.HEADEND_ERROR

    def test_polls_events_from_a_cursor(self, base_url):
        batch = HttpHeadEnd(base_url).events_since("c-1", at=AT)

        assert [e.kind for e in batch.events] == ["tamper"]
        assert batch.cursor == "c-2"
        assert FakeHeadEnd.calls == ["GET /api/events?since=c-1"]

    def test_raises_when_the_event_feed_cannot_be_read(self):
        with pytest.raises(HeadEndUnavailable):
            HttpHeadEnd("http://127.0.0.1:9", tries=1).events_since(None, at=AT)
