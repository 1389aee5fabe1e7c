"""The card processor, as Ohm needs it: a Protocol, signed webhooks and the settlement file.

Card numbers never reach Ohm. The browser's hosted fields (the processor's own iframe) turn
a card into a one-time token (``tok_…``); Ohm sends only the token and the amount. Every
call carries an idempotency key, so a call repeated after a timeout never charges twice,
and ``lookup`` answers "what happened under this key?" when Ohm never heard back.

Webhooks are signed with HMAC-SHA256 over ``"{timestamp}.{body}"`` and sent in the header
``Ohm-Signature: t=<unix seconds>,v1=<hex>``; a signature older than five minutes is refused,
so a captured webhook cannot be replayed later.

The settlement file is CSV with a header row:
``settled_on,processor_ref,idempotency_key,kind,amount_cents,fee_cents`` where kind is
``capture`` or ``refund`` and amounts are integer cents.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

TOKEN = re.compile(r"^tok_[A-Za-z0-9_]{3,60}$")
SIGNATURE_HEADER = "Ohm-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300
SETTLEMENT_COLUMNS = [
    "settled_on",
    "processor_ref",
    "idempotency_key",
    "kind",
    "amount_cents",
    "fee_cents",
]


class ChargeStatus(StrEnum):
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    DECLINED = "declined"
    VOIDED = "voided"
    REFUNDED = "refunded"
    NOT_FOUND = "not_found"  # lookup: the processor never received a call under the key


@dataclass(frozen=True)
class ChargeResult:
    status: ChargeStatus
    processor_ref: str = ""
    message: str = ""
    brand: str = ""
    last4: str = ""
    amount_cents: int = 0

    @property
    def masked(self) -> str:
        """E.g. "Visa •••• 4242": all Ohm ever keeps of a card."""
        return f"{self.brand} •••• {self.last4}".strip() if self.last4 else self.brand


class ProcessorTimeout(Exception):
    """No answer in time: the call may or may not have happened (ask ``lookup`` later)."""


class ProcessorRefused(Exception):
    """The processor refused the request itself (bad token, unknown charge, bad amount)."""


class BadSignature(Exception):
    """A webhook whose signature is missing, wrong or too old."""


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str
    kind: str  # charge.captured, charge.declined, charge.refunded, charge.disputed, …
    processor_ref: str
    idempotency_key: str
    amount_cents: int
    payload: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SettlementRow:
    line: int
    settled_on: date
    processor_ref: str
    idempotency_key: str
    kind: str
    amount_cents: int
    fee_cents: int


class PaymentProcessor(Protocol):
    """What Ohm asks of a card processor. Every method may raise ``ProcessorTimeout``."""

    def authorize(self, *, token: str, amount_cents: int, idempotency_key: str) -> ChargeResult:
        """Hold ``amount_cents`` on the card behind ``token``: AUTHORIZED or DECLINED."""
        ...  # pragma: no cover

    def capture(
        self, *, processor_ref: str, amount_cents: int, idempotency_key: str
    ) -> ChargeResult:
        """Take an authorized amount: CAPTURED."""
        ...  # pragma: no cover

    def void(self, *, processor_ref: str, idempotency_key: str) -> ChargeResult:
        """Cancel before settlement: VOIDED (nothing reaches the card statement)."""
        ...  # pragma: no cover

    def refund(
        self, *, processor_ref: str, amount_cents: int, idempotency_key: str
    ) -> ChargeResult:
        """Give back (part of) a captured charge: REFUNDED."""
        ...  # pragma: no cover

    def lookup(self, *, idempotency_key: str) -> ChargeResult:
        """What the processor did under ``idempotency_key`` (NOT_FOUND: nothing)."""
        ...  # pragma: no cover

    def verify_webhook(self, *, body: bytes, signature: str, at: datetime) -> WebhookEvent:
        """The event, if ``signature`` is the processor's over ``body`` and recent.

        :raises BadSignature:
        """
        ...  # pragma: no cover


def is_token(text: str) -> bool:
    return bool(TOKEN.match(text or ""))


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The ``Ohm-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(*, secret: str, body: bytes, signature: str, at: datetime) -> WebhookEvent:
    """Check a webhook's signature and age, and read its event.

    :raises BadSignature: naming what is wrong.
    """
    parts = dict(part.split("=", 1) for part in (signature or "").split(",") if "=" in part)
    if "t" not in parts or "v1" not in parts:
        raise BadSignature("the Ohm-Signature header is missing or malformed")
    try:
        timestamp = int(parts["t"])
    except ValueError as exc:
        raise BadSignature("the signature's timestamp is not a number") from exc
    expected = sign(secret=secret, body=body, timestamp=timestamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, parts["v1"]):
        raise BadSignature("the signature does not match the body")
    if abs(at.timestamp() - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        raise BadSignature("the signature is too old (or from the future)")
    try:
        data = json.loads(body)
        charge = data.get("data", {})
        return WebhookEvent(
            event_id=str(data["id"]),
            kind=str(data["type"]),
            processor_ref=str(charge.get("processor_ref", "")),
            idempotency_key=str(charge.get("idempotency_key", "")),
            amount_cents=int(charge.get("amount_cents", 0)),
            payload=data,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadSignature(f"the body is not a webhook event: {exc}") from exc


def parse_settlement(content: bytes) -> list[SettlementRow]:
    """Read a settlement file.

    :raises ValueError: naming the line and field of the first problem.
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("The settlement file is not UTF-8 text.") from exc
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames != SETTLEMENT_COLUMNS:
        raise ValueError(
            f"line 1: the header must be {','.join(SETTLEMENT_COLUMNS)}, not "
            f"{','.join(reader.fieldnames or [])}"
        )
    rows = []
    for number, record in enumerate(reader, start=2):
        try:
            settled_on = date.fromisoformat(record["settled_on"])
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"line {number}, settled_on: “{record['settled_on']}” is not a date"
            ) from exc
        for name in ("amount_cents", "fee_cents"):
            if not re.fullmatch(r"-?\d+", record[name] or ""):
                raise ValueError(f"line {number}, {name}: “{record[name]}” is not whole cents")
        if record["kind"] not in ("capture", "refund"):
            raise ValueError(f"line {number}, kind: “{record['kind']}” is not capture or refund")
        rows.append(
            SettlementRow(
                line=number,
                settled_on=settled_on,
                processor_ref=record["processor_ref"],
                idempotency_key=record["idempotency_key"],
                kind=record["kind"],
                amount_cents=int(record["amount_cents"]),
                fee_cents=int(record["fee_cents"]),
            )
        )
    return rows


def settlement_csv(rows: list[SettlementRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SETTLEMENT_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.settled_on.isoformat(),
                row.processor_ref,
                row.idempotency_key,
                row.kind,
                row.amount_cents,
                row.fee_cents,
            ]
        )
    return buffer.getvalue()
