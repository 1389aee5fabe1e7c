"""Payments for integrations: IVR and portal vendors, pay agents, collection agencies, and
the card processor's webhooks.

``POST /api/payments`` needs an ``Idempotency-Key`` header, scoped to the token's user: the
same key again returns the first payment (HTTP 200, ``"replayed": true``) and posts nothing,
however many times a caller retries a request whose answer it lost. A card is sent as the
processor's hosted-field token (``tok_…``), never as a number. Amounts are integer cents.

``POST /api/payments/card-webhook`` takes no token: it is authenticated by the processor's
HMAC signature (``Ohm-Signature`` header) and answers 400 to anything unsigned or stale.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from ninja import Field, Header, Router, Schema, Status
from ninja.errors import HttpError, ValidationError

from ohm.api.auth import require_perm
from ohm.api.errors import NotFound, invalid
from ohm.api.schemas import ERRORS
from ohm.core import clock, validators
from ohm.core.audit import SystemActor
from ohm.core.localtime import localdate
from ohm.customers import queries as customer_queries
from ohm.payments import cards, operations, queries
from ohm.payments.adapters.processor import SIGNATURE_HEADER
from ohm.payments.models import Channel, Payment, Tender

router = Router(tags=["payments"])

TAKE = "payments.take_payment"
VIEW = "payments.view_payment"
KEY_HEADER = "Idempotency-Key"
KEY_MAX = 100
API_CHANNELS = (Channel.PHONE_IVR, Channel.PORTAL, Channel.PAY_AGENT, Channel.COLLECTION_AGENCY)


class PaymentIn(Schema):
    account_number: str | None = Field(
        None, description="The payer's account; left out, the payment goes to suspense"
    )
    amount_cents: int = Field(..., strict=True, description="Integer cents, more than zero")
    channel: str = Field(..., description="phone_ivr, portal, pay_agent or collection_agency")
    tender: str = Field(
        ..., description="card, ach, cash, check or money_order (as the channel takes)"
    )
    card_token: str = Field("", description="For card: the processor's hosted-field token (tok_…)")
    reference: str = Field("", max_length=80, description="Check, trace or agent receipt number")
    payer_name: str = Field("", max_length=120)
    effective_date: date | None = Field(None, description="Today when left out")


class PaymentOut(Schema):
    id: int
    replayed: bool
    status: str
    account_number: str | None
    amount_cents: int
    channel: str
    tender: str
    tender_detail: str
    reference: str
    payer_name: str
    received_at: datetime
    effective_date: date
    entry_id: int | None
    reversal_entry_id: int | None
    unapplied_reason: str
    processor_message: str


class PaymentListOut(Schema):
    count: int
    items: list[PaymentOut]


class WebhookOut(Schema):
    event_id: str
    outcome: str


def payment_out(payment: Payment, *, replayed: bool = False) -> dict:
    return {
        "id": payment.pk,
        "replayed": replayed,
        "status": payment.status,
        "account_number": payment.account.number if payment.account is not None else None,
        "amount_cents": payment.amount_cents,
        "channel": payment.channel,
        "tender": payment.tender,
        "tender_detail": payment.tender_detail,
        "reference": payment.reference,
        "payer_name": payment.payer_name,
        "received_at": payment.received_at,
        "effective_date": payment.effective_date,
        "entry_id": payment.entry.pk if payment.entry is not None else None,
        "reversal_entry_id": (
            payment.reversal_entry.pk if payment.reversal_entry is not None else None
        ),
        "unapplied_reason": payment.unapplied_reason,
        "processor_message": payment.processor_message,
    }


def _unprocessable(exc: DjangoValidationError) -> ValidationError:
    locations = {
        "idempotency_key": ["header", KEY_HEADER],
        "token": ["body", "payload", "card_token"],
    }
    errors = []
    for name, messages in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        loc = locations.get(name, ["body", "payload", name])
        errors += [{"loc": loc, "msg": message, "type": "invalid"} for message in messages]
    return ValidationError(errors)


@router.post(
    "/payments",
    response={200: PaymentOut, 201: PaymentOut, **ERRORS},
    summary="Post a payment (exactly once per Idempotency-Key)",
)
def post_payment(
    request: HttpRequest,
    payload: PaymentIn,
    idempotency_key: str = Header(
        None, alias=KEY_HEADER, description="Your unique key for this payment"
    ),
):
    require_perm(request, TAKE, "take payments")
    key = (idempotency_key or "").strip()
    if not key:
        raise invalid(
            "header",
            KEY_HEADER,
            "Send an Idempotency-Key header: retries then post once.",
            "missing",
        )
    if len(key) > KEY_MAX:
        raise invalid(
            "header", KEY_HEADER, f"The key is longer than {KEY_MAX} characters.", "too_long"
        )
    if payload.channel not in API_CHANNELS:
        raise invalid(
            "body", "channel", f"Payments through the API come by {', '.join(API_CHANNELS)}."
        )
    account_id = None
    if payload.account_number:
        try:
            validators.validate_account_number(payload.account_number)
        except DjangoValidationError as exc:
            raise invalid("body", "account_number", exc.messages[0]) from exc
        digits = re.sub(r"\D", "", payload.account_number)
        try:
            account_id = customer_queries.get_account(number=digits).pk
        except customer_queries.AccountNotFound:
            account_id = None  # unknown: the money is real, it goes to suspense for a CSR
    now = clock.now()
    key = f"api:{request.user.pk}:{key}"
    effective = payload.effective_date or localdate(now)
    try:
        if payload.tender == Tender.CARD:
            payment = cards.take_card_payment(
                account_id=account_id,
                amount_cents=payload.amount_cents,
                token=payload.card_token,
                channel=payload.channel,
                idempotency_key=key,
                received_at=now,
                effective_date=effective,
                actor=request.user,
                payer_name=payload.payer_name,
            )
        else:
            if payload.card_token:
                raise invalid("body", "card_token", "A card token goes with tender card only.")
            payment = operations.post_payment(
                account_id=account_id,
                amount_cents=payload.amount_cents,
                tender=payload.tender,
                channel=payload.channel,
                idempotency_key=key,
                received_at=now,
                effective_date=effective,
                actor=request.user,
                payer_name=payload.payer_name,
                reference=payload.reference,
                stated_account=payload.account_number or "",
            )
    except DjangoValidationError as exc:
        raise _unprocessable(exc) from exc
    replayed = bool(getattr(payment, "replayed", False))
    return Status(200 if replayed else 201, payment_out(payment, replayed=replayed))


@router.get("/payments/{int:payment_id}", response={200: PaymentOut, **ERRORS}, summary="A payment")
def get_payment(request: HttpRequest, payment_id: int):
    require_perm(request, VIEW, "view payments")
    try:
        return payment_out(queries.get_payment(payment_id=payment_id))
    except queries.PaymentNotFound as exc:
        raise NotFound(f"No payment {payment_id}.") from exc


@router.get(
    "/accounts/{number}/payments",
    response={200: PaymentListOut, **ERRORS},
    summary="An account's payments, latest first",
)
def list_account_payments(request: HttpRequest, number: str, limit: int = 50):
    require_perm(request, VIEW, "view payments")
    try:
        account = customer_queries.get_account(number=number)
    except DjangoValidationError as exc:
        raise invalid("path", "number", exc.messages[0]) from exc
    except customer_queries.AccountNotFound as exc:
        raise NotFound(f"No account {number}.") from exc
    rows = queries.list_account_payments(account_id=account.pk).select_related("account")
    items = [payment_out(p) for p in rows[: max(1, min(limit, 500))]]
    return {"count": rows.count(), "items": items}


@router.post(
    "/payments/card-webhook",
    auth=None,
    response={200: WebhookOut, 400: dict},
    summary="The card processor's signed webhook",
)
def card_webhook(request: HttpRequest):
    try:
        event = cards.handle_webhook(
            body=request.body,
            signature=request.headers.get(SIGNATURE_HEADER, ""),
            at=clock.now(),
            actor=SystemActor("card-webhook"),
        )
    except cards.WebhookRefused as exc:
        raise HttpError(400, f"Refused: {exc}.") from exc
    return {"event_id": event.event_id, "outcome": event.outcome}
