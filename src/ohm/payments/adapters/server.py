"""The simulated processor behind the HTTP API that ``HttpProcessor`` speaks (a WSGI app),
so the HTTP adapter is exercised end to end on loopback in tests and training."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from ohm.payments.adapters.processor import ProcessorRefused, ProcessorTimeout
from ohm.payments.adapters.simulator import SimulatedProcessor


def _charge(result) -> dict:
    return {
        "processor_ref": result.processor_ref,
        "status": str(result.status),
        "message": result.message,
        "brand": result.brand,
        "last4": result.last4,
        "amount_cents": result.amount_cents,
    }


def make_app(processor: SimulatedProcessor, *, api_key: str):
    def app(environ, start_response):
        def reply(status: str, data: dict | None):
            body = json.dumps(data or {}).encode()
            start_response(status, [("Content-Type", "application/json")])
            return [body]

        if environ.get("HTTP_AUTHORIZATION") != f"Bearer {api_key}":
            return reply("401 Unauthorized", {"error": "bad key"})
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        key = environ.get("HTTP_IDEMPOTENCY_KEY", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
        parts = [p for p in path.split("/") if p]
        try:
            if method == "POST" and parts == ["v1", "authorizations"]:
                result = processor.authorize(
                    token=body.get("token", ""),
                    amount_cents=int(body.get("amount_cents", 0)),
                    idempotency_key=key,
                )
            elif method == "POST" and len(parts) == 4 and parts[:2] == ["v1", "charges"]:
                ref, verb = parts[2], parts[3]
                if verb == "capture":
                    result = processor.capture(
                        processor_ref=ref,
                        amount_cents=int(body["amount_cents"]),
                        idempotency_key=key,
                    )
                elif verb == "void":
                    result = processor.void(processor_ref=ref, idempotency_key=key)
                elif verb == "refunds":
                    result = processor.refund(
                        processor_ref=ref,
                        amount_cents=int(body["amount_cents"]),
                        idempotency_key=key,
                    )
                else:
                    return reply("404 Not Found", {"error": "no such action"})
            elif method == "GET" and parts == ["v1", "charges"]:
                wanted = parse_qs(environ.get("QUERY_STRING", "")).get("idempotency_key", [""])[0]
                result = processor.lookup(idempotency_key=wanted)
                if result.status == "not_found":
                    return reply("404 Not Found", {"error": "no charge under that key"})
            else:
                return reply("404 Not Found", {"error": "no such endpoint"})
        except ProcessorTimeout:
            return reply("504 Gateway Timeout", {"error": "timeout"})
        except ProcessorRefused as exc:
            return reply("400 Bad Request", {"error": str(exc)})
        return reply("200 OK", _charge(result))

    return app
