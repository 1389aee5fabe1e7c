"""The card processor over HTTPS: the real form of ``PaymentProcessor``.

A JSON API in the shape most processors share (Ohm's integration contract; a utility's
processor connector maps it if its names differ):

===============================  =====================================================
``POST /v1/authorizations``      ``{"token", "amount_cents"}`` → a charge
``POST /v1/charges/{ref}/capture``  ``{"amount_cents"}`` → the charge
``POST /v1/charges/{ref}/void``  → the charge
``POST /v1/charges/{ref}/refunds``  ``{"amount_cents"}`` → the charge
``GET /v1/charges?idempotency_key=K``  → the charge, or 404 when nothing was received
===============================  =====================================================

A charge is ``{"processor_ref", "status", "message", "brand", "last4", "amount_cents"}``.
Every request sends ``Authorization: Bearer <key>`` and ``Idempotency-Key``. A timeout or a
5xx is ``ProcessorTimeout`` (the call may have happened: ask ``lookup``); a 4xx is
``ProcessorRefused``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

from ohm.payments.adapters.processor import (
    ChargeResult,
    ChargeStatus,
    ProcessorRefused,
    ProcessorTimeout,
    WebhookEvent,
    verify,
)


class HttpProcessor:
    def __init__(self, *, base_url: str, api_key: str, webhook_secret: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.timeout = timeout

    def _call(
        self, method: str, path: str, *, key: str = "", body: dict | None = None
    ) -> dict | None:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Content-Type": "application/json",
                **({"Idempotency-Key": key} if key else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and method == "GET":
                return None
            if exc.code >= 500:
                raise ProcessorTimeout(f"processor error {exc.code}") from exc
            detail = exc.read().decode("utf-8", "replace")[:200]
            raise ProcessorRefused(f"{exc.code}: {detail}") from exc
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            raise ProcessorTimeout(str(exc)) from exc

    @staticmethod
    def _result(data: dict | None) -> ChargeResult:
        if data is None:
            return ChargeResult(status=ChargeStatus.NOT_FOUND)
        try:
            return ChargeResult(
                status=ChargeStatus(data["status"]),
                processor_ref=str(data.get("processor_ref", "")),
                message=str(data.get("message", "")),
                brand=str(data.get("brand", "")),
                last4=str(data.get("last4", ""))[-4:],
                amount_cents=int(data.get("amount_cents", 0)),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ProcessorTimeout(f"unreadable answer from the processor: {exc}") from exc

    def authorize(self, *, token: str, amount_cents: int, idempotency_key: str) -> ChargeResult:
        return self._result(
            self._call(
                "POST",
                "/v1/authorizations",
                key=idempotency_key,
                body={"token": token, "amount_cents": amount_cents},
            )
        )

    def capture(
        self, *, processor_ref: str, amount_cents: int, idempotency_key: str
    ) -> ChargeResult:
        ref = urllib.parse.quote(processor_ref, safe="")
        return self._result(
            self._call(
                "POST",
                f"/v1/charges/{ref}/capture",
                key=idempotency_key,
                body={"amount_cents": amount_cents},
            )
        )

    def void(self, *, processor_ref: str, idempotency_key: str) -> ChargeResult:
        ref = urllib.parse.quote(processor_ref, safe="")
        return self._result(
            self._call("POST", f"/v1/charges/{ref}/void", key=idempotency_key, body={})
        )

    def refund(
        self, *, processor_ref: str, amount_cents: int, idempotency_key: str
    ) -> ChargeResult:
        ref = urllib.parse.quote(processor_ref, safe="")
        return self._result(
            self._call(
                "POST",
                f"/v1/charges/{ref}/refunds",
                key=idempotency_key,
                body={"amount_cents": amount_cents},
            )
        )

    def lookup(self, *, idempotency_key: str) -> ChargeResult:
        query = urllib.parse.urlencode({"idempotency_key": idempotency_key})
        return self._result(self._call("GET", f"/v1/charges?{query}"))

    def verify_webhook(self, *, body: bytes, signature: str, at: datetime) -> WebhookEvent:
        return verify(secret=self.webhook_secret, body=body, signature=signature, at=at)
