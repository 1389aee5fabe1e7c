"""A deterministic card processor for the demo, the tests and training.

It keeps its own books (``SimulatedCardCharge``) in Ohm's database, in its own
transactions, so a charge it made stays made when Ohm's transaction rolls back or Ohm's
process dies — exactly the situation a real processor creates.

Magic tokens (what the hosted fields would return for test cards):

=========================  ==============================================================
``tok_visa`` (any other)   approved (Visa •••• 4242)
``tok_mastercard``         approved (Mastercard •••• 4444)
``tok_decline``            declined: card declined
``tok_insufficient_funds`` declined: insufficient funds
``tok_timeout``            authorized at the processor, but the answer is lost (timeout)
``tok_timeout_decline``    declined at the processor, the answer lost
``tok_timeout_lost``       the request never arrives: nothing charged, timeout
``tok_capture_timeout``    authorized; the capture's answer is lost
``tok_refund_timeout``     approved; a refund of it is made but the first answer is lost
=========================  ==============================================================

``lookup`` tells what happened under a key (a charge's, or a refund's); calls repeated under
a key return the first result (no second charge, no second refund). Webhooks and the settlement file are made the way a real
processor makes them, signed with the configured secret.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime

from django.db import IntegrityError, transaction

from ohm.core.localtime import localdate
from ohm.payments.adapters.processor import (
    ChargeResult,
    ChargeStatus,
    ProcessorRefused,
    ProcessorTimeout,
    SettlementRow,
    WebhookEvent,
    is_token,
    settlement_csv,
    sign,
    verify,
)
from ohm.payments.models import SimulatedCardCharge, SimulatedCardRefund

CARDS = {"tok_mastercard": ("Mastercard", "4444"), "tok_amex": ("American Express", "0005")}
DECLINES = {
    "tok_decline": "card declined",
    "tok_insufficient_funds": "insufficient funds",
    "tok_timeout_decline": "card declined",
}
#: Interchange the simulator charges: 2.5% + 10 cents (whole cents, half up).
FEE_BASIS_POINTS = 250
FEE_FIXED_CENTS = 10


def _ref(key: str) -> str:
    return "ch_sim_" + hashlib.sha256(key.encode()).hexdigest()[:20]


def _refund_result(done: SimulatedCardRefund) -> ChargeResult:
    brand, last4 = CARDS.get(done.charge.token, ("Visa", "4242"))
    return ChargeResult(
        status=ChargeStatus.REFUNDED,
        processor_ref=done.processor_ref,
        brand=brand,
        last4=last4,
        amount_cents=done.amount_cents,
    )


def _result(charge: SimulatedCardCharge) -> ChargeResult:
    brand, last4 = CARDS.get(charge.token, ("Visa", "4242"))
    return ChargeResult(
        status=ChargeStatus(charge.status),
        processor_ref=charge.processor_ref,
        message=charge.decline_reason,
        brand=brand,
        last4=last4,
        amount_cents=charge.amount_cents,
    )


class SimulatedProcessor:
    """The fake processor. ``at`` stamps its records (the caller's clock)."""

    def __init__(self, *, secret: str, at=None):
        self.secret = secret
        self._at = at

    def _now(self) -> datetime:
        if self._at is not None:
            return self._at()
        from ohm.core import clock

        return clock.now()

    # Charges -------------------------------------------------------------------------------

    def authorize(self, *, token: str, amount_cents: int, idempotency_key: str) -> ChargeResult:
        if not is_token(token):
            raise ProcessorRefused("that is not a hosted-field token (tok_…)")
        if amount_cents <= 0:
            raise ProcessorRefused("the amount must be more than zero")
        if token == "tok_timeout_lost":
            raise ProcessorTimeout("no answer from the processor")
        existing = SimulatedCardCharge.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            declined = DECLINES.get(token)
            try:
                with transaction.atomic():
                    existing = SimulatedCardCharge.objects.create(
                        idempotency_key=idempotency_key,
                        processor_ref=_ref(idempotency_key),
                        token=token,
                        amount_cents=amount_cents,
                        status=ChargeStatus.DECLINED if declined else ChargeStatus.AUTHORIZED,
                        decline_reason=declined or "",
                        created_at=self._now(),
                    )
            except IntegrityError:
                existing = SimulatedCardCharge.objects.get(idempotency_key=idempotency_key)
        if token in ("tok_timeout", "tok_timeout_decline"):
            raise ProcessorTimeout("no answer from the processor")
        return _result(existing)

    def _charge(self, processor_ref: str) -> SimulatedCardCharge:
        charge = SimulatedCardCharge.objects.filter(processor_ref=processor_ref).first()
        if charge is None:
            raise ProcessorRefused(f"no charge {processor_ref}")
        return charge

    def capture(
        self, *, processor_ref: str, amount_cents: int, idempotency_key: str
    ) -> ChargeResult:
        charge = self._charge(processor_ref)
        if charge.status == ChargeStatus.AUTHORIZED:
            if amount_cents != charge.amount_cents:
                raise ProcessorRefused("capture the amount authorized")
            charge.status = ChargeStatus.CAPTURED
            charge.save(update_fields=["status"])
            if charge.token == "tok_capture_timeout":
                raise ProcessorTimeout("no answer from the processor")
        elif charge.status != ChargeStatus.CAPTURED:
            raise ProcessorRefused(f"charge {processor_ref} is {charge.status}")
        return _result(charge)

    def void(self, *, processor_ref: str, idempotency_key: str) -> ChargeResult:
        charge = self._charge(processor_ref)
        if charge.status in (ChargeStatus.AUTHORIZED, ChargeStatus.CAPTURED):
            charge.status = ChargeStatus.VOIDED
            charge.save(update_fields=["status"])
        elif charge.status != ChargeStatus.VOIDED:
            raise ProcessorRefused(f"charge {processor_ref} is {charge.status}")
        return _result(charge)

    def refund(
        self, *, processor_ref: str, amount_cents: int, idempotency_key: str
    ) -> ChargeResult:
        """Give back part or all of a captured charge, once per ``idempotency_key``: the same
        key again answers with the first refund (its own ``re_sim_…`` reference and amount)."""
        done = SimulatedCardRefund.objects.filter(idempotency_key=idempotency_key).first()
        if done is None:
            done = self._new_refund(processor_ref, amount_cents, idempotency_key)
            if done.charge.token == "tok_refund_timeout":
                raise ProcessorTimeout("no answer from the processor")
        elif done.charge.processor_ref != processor_ref or done.amount_cents != amount_cents:
            raise ProcessorRefused("that idempotency key was used for another refund")
        return _refund_result(done)

    def _new_refund(
        self, processor_ref: str, amount_cents: int, idempotency_key: str
    ) -> SimulatedCardRefund:
        if amount_cents <= 0:
            raise ProcessorRefused("the amount must be more than zero")
        with transaction.atomic():
            charge = (
                SimulatedCardCharge.objects.select_for_update()
                .filter(processor_ref=processor_ref)
                .first()
            )
            if charge is None:
                raise ProcessorRefused(f"no charge {processor_ref}")
            # A concurrent call under the same key may have made the refund while this one
            # waited for the charge's lock: answer with it, never refuse it as too much.
            done = SimulatedCardRefund.objects.filter(idempotency_key=idempotency_key).first()
            if done is not None:
                return done
            if charge.status not in (ChargeStatus.CAPTURED, ChargeStatus.REFUNDED):
                raise ProcessorRefused(f"charge {processor_ref} is {charge.status}")
            if charge.refunded_cents + amount_cents > charge.amount_cents:
                raise ProcessorRefused(
                    f"more than the charge: {charge.amount_cents - charge.refunded_cents} "
                    "cents are left to refund"
                )
            try:
                with transaction.atomic():
                    done = SimulatedCardRefund.objects.create(
                        idempotency_key=idempotency_key,
                        processor_ref="re" + _ref(idempotency_key)[2:],
                        charge=charge,
                        amount_cents=amount_cents,
                        created_at=self._now(),
                    )
            except IntegrityError:
                return SimulatedCardRefund.objects.get(idempotency_key=idempotency_key)
            charge.refunded_cents += amount_cents
            charge.status = ChargeStatus.REFUNDED
            charge.save(update_fields=["refunded_cents", "status"])
        return done

    def lookup(self, *, idempotency_key: str) -> ChargeResult:
        charge = SimulatedCardCharge.objects.filter(idempotency_key=idempotency_key).first()
        if charge is not None:
            return _result(charge)
        done = SimulatedCardRefund.objects.filter(idempotency_key=idempotency_key).first()
        if done is not None:
            return _refund_result(done)
        return ChargeResult(status=ChargeStatus.NOT_FOUND)

    # Webhooks and settlement ---------------------------------------------------------------

    def verify_webhook(self, *, body: bytes, signature: str, at: datetime) -> WebhookEvent:
        return verify(secret=self.secret, body=body, signature=signature, at=at)

    def webhook(self, *, kind: str, idempotency_key: str, at: datetime) -> tuple[bytes, str]:
        """(body, Ohm-Signature header) of the webhook the processor sends about a charge."""
        charge = SimulatedCardCharge.objects.get(idempotency_key=idempotency_key)
        body = json.dumps(
            {
                "id": f"evt_{kind}_{charge.processor_ref}",
                "type": kind,
                "data": {
                    "processor_ref": charge.processor_ref,
                    "idempotency_key": idempotency_key,
                    "amount_cents": charge.amount_cents,
                    "status": charge.status,
                },
            },
            sort_keys=True,
        ).encode()
        return body, sign(secret=self.secret, body=body, timestamp=int(at.timestamp()))

    def settlement_file(self, *, day: date) -> str:
        """What the processor settles for the local ``day``: the charges captured that day
        (refunded since or not) and the refunds made that day, each under its own key."""
        rows = []
        for charge in SimulatedCardCharge.objects.filter(
            status__in=[ChargeStatus.CAPTURED, ChargeStatus.REFUNDED]
        ).order_by("created_at", "id"):
            if localdate(charge.created_at) != day:
                continue
            fee = (charge.amount_cents * FEE_BASIS_POINTS + 5_000) // 10_000 + FEE_FIXED_CENTS
            rows.append(
                SettlementRow(
                    0,
                    day,
                    charge.processor_ref,
                    charge.idempotency_key,
                    "capture",
                    charge.amount_cents,
                    fee,
                )
            )
        for done in SimulatedCardRefund.objects.order_by("created_at", "id"):
            if localdate(done.created_at) == day:
                rows.append(
                    SettlementRow(
                        0, day, done.processor_ref, done.idempotency_key, "refund",
                        -done.amount_cents, 0,
                    )
                )  # fmt: skip
        return settlement_csv(rows)
