"""Card payments: exactly once, whatever the processor or the network does.

The order of writes is what makes it safe:

1. ``take_card_payment`` first commits a PENDING payment (no journal entry yet) under the
   caller's key. The same key again returns that payment and never calls the processor
   a second time.
2. Outside any transaction it asks the processor to authorize and capture, with the
   processor idempotency key ``ohm-payment-<id>`` (so even a retried call cannot charge
   twice).
3. The answer is committed: CAPTURED → the payment posts (cash clearing — card, against
   the account); DECLINED → declined, nothing in the books; no answer (timeout) → UNKNOWN.
4. ``resolve_unsettled`` (the janitor: ``ohm payments card-janitor``, also run by
   ``ohm schedule``) asks the processor about every payment still PENDING/UNKNOWN and
   finishes it the same way; a charge the processor never received is declined ("not
   charged"). A signed webhook from the processor (``handle_webhook``) does the same as
   soon as it arrives.

Nothing is lost: a crash between any two steps leaves a PENDING/UNKNOWN payment that the
janitor settles. Nothing is charged twice: Ohm calls ``authorize`` once per payment, and
the processor's key makes even that call idempotent. Card numbers never reach Ohm: only a
hosted-field token, and only the brand and last four digits are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ohm.core import audit
from ohm.core.localtime import localdate
from ohm.core.money import format_cents
from ohm.customers.models import Account
from ohm.payments import operations, policies
from ohm.payments.adapters.processor import (
    BadSignature,
    ChargeResult,
    ChargeStatus,
    PaymentProcessor,
    ProcessorRefused,
    ProcessorTimeout,
    is_token,
    parse_settlement,
)
from ohm.payments.models import CardWebhookEvent, CashDrawer, Payment, Tender
from ohm.workqueue import operations as workqueue

UNSETTLED = [Payment.Status.PENDING, Payment.Status.UNKNOWN]
#: A charge the processor has no record of after this long never reached it.
NOT_FOUND_GIVE_UP = timedelta(minutes=10)
UNRESOLVED_CATEGORY = "card_unresolved"


def get_processor() -> PaymentProcessor:
    """The configured processor: ``OHM_CARD_PROCESSOR`` = ``simulator`` (default) or ``http``
    (``OHM_CARD_PROCESSOR_URL``, ``OHM_CARD_PROCESSOR_KEY``); webhooks are checked with
    ``OHM_CARD_WEBHOOK_SECRET``."""
    kind = getattr(settings, "OHM_CARD_PROCESSOR", "simulator")
    secret = webhook_secret()
    if kind == "http":
        from ohm.payments.adapters.http import HttpProcessor

        return HttpProcessor(
            base_url=getattr(settings, "OHM_CARD_PROCESSOR_URL", ""),
            api_key=getattr(settings, "OHM_CARD_PROCESSOR_KEY", ""),
            webhook_secret=secret,
        )
    from ohm.payments.adapters.simulator import SimulatedProcessor

    return SimulatedProcessor(secret=secret)


def webhook_secret() -> str:
    """The configured secret; for the simulator, one derived from SECRET_KEY (never a
    secret written in the repository)."""
    configured = getattr(settings, "OHM_CARD_WEBHOOK_SECRET", "")
    if configured:
        return configured
    import hashlib

    return hashlib.sha256(f"card-webhook:{settings.SECRET_KEY}".encode()).hexdigest()


def processor_key(payment: Payment) -> str:
    return f"ohm-payment-{payment.pk}"


def _label(actor) -> str:
    return getattr(actor, "username", "") or str(actor)


# Step 1: the pending payment -----------------------------------------------------------------


@transaction.atomic
def _start(
    *,
    account_id: int | None,
    amount_cents: int,
    channel: str,
    key: str,
    received_at: datetime,
    effective_date: date,
    actor,
    payer_name: str,
    drawer: CashDrawer | None,
) -> Payment:
    existing = Payment.objects.filter(channel=channel, idempotency_key=key).first()
    if existing is not None:
        return operations._replay(existing, amount_cents=amount_cents, tender=Tender.CARD)
    account = Account.objects.filter(pk=account_id).first() if account_id is not None else None
    target, reason = operations.destination(
        account=account, account_id=account_id, tender=Tender.CARD, channel=channel
    )
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                account=target,
                amount_cents=amount_cents,
                tender=Tender.CARD,
                channel=channel,
                status=Payment.Status.PENDING,
                idempotency_key=key,
                payer_name=payer_name.strip()[:120],
                stated_account=account.number if account else "",
                unapplied_reason=reason[:200],
                received_at=received_at,
                effective_date=effective_date,
                drawer=drawer,
                created_by_label=_label(actor),
            )
    except IntegrityError:
        existing = Payment.objects.filter(channel=channel, idempotency_key=key).first()
        if existing is None:
            raise
        return operations._replay(existing, amount_cents=amount_cents, tender=Tender.CARD)
    audit.record(
        "payments.card.started",
        subject=payment,
        actor=actor,
        at=received_at,
        account_id=payment.account_id,
        after={"amount_cents": amount_cents, "channel": channel},
    )
    payment.replayed = False  # type: ignore[attr-defined]
    return payment


# Step 3: what the processor said ------------------------------------------------------------


@transaction.atomic
def settle(payment: Payment, result: ChargeResult, *, actor, at: datetime) -> Payment:
    """Record the processor's answer on a pending/unknown payment (once; later answers about
    a settled payment change nothing)."""
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status not in UNSETTLED:
        return payment
    if result.processor_ref:
        payment.processor_ref = result.processor_ref[:80]
    if result.masked:
        payment.tender_detail = result.masked[:60]
    if result.status == ChargeStatus.CAPTURED:
        payment.status = (
            Payment.Status.POSTED if payment.account_id is not None else Payment.Status.UNAPPLIED
        )
        payment.entry_id = operations.journal_key(payment.channel, payment.idempotency_key)
        payment.processor_message = "captured"
        payment.save()
        operations.post_to_books(payment, actor=actor, at=at)
    elif result.status in (ChargeStatus.DECLINED, ChargeStatus.NOT_FOUND, ChargeStatus.VOIDED):
        payment.status = Payment.Status.DECLINED
        payment.processor_message = (
            result.message
            or (
                "never reached the processor: not charged"
                if result.status == ChargeStatus.NOT_FOUND
                else result.status
            )
        )[:200]
        payment.save()
        audit.record(
            "payments.card.declined",
            subject=payment,
            actor=actor,
            at=at,
            account_id=payment.account_id,
            after={"message": payment.processor_message},
        )
    else:
        # Authorized but not captured, or still no answer: keep waiting for the janitor.
        payment.status = Payment.Status.UNKNOWN
        payment.processor_message = (result.message or str(result.status))[:200]
        payment.save(
            update_fields=["status", "processor_ref", "tender_detail", "processor_message"]
        )
    return payment


def _mark_unknown(payment: Payment, *, message: str, actor, at: datetime) -> Payment:
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status in UNSETTLED:
            payment.status = Payment.Status.UNKNOWN
            payment.processor_message = message[:200]
            payment.save(update_fields=["status", "processor_message"])
            audit.record(
                "payments.card.unknown",
                subject=payment,
                actor=actor,
                at=at,
                account_id=payment.account_id,
                after={"message": message},
            )
    return payment


def _authorize_and_capture(
    payment: Payment, *, processor: PaymentProcessor, token: str
) -> ChargeResult:
    """May raise ProcessorTimeout (the payment then stays for the janitor)."""
    key = processor_key(payment)
    result = processor.authorize(
        token=token, amount_cents=payment.amount_cents, idempotency_key=key
    )
    if result.status != ChargeStatus.AUTHORIZED:
        return result
    return processor.capture(
        processor_ref=result.processor_ref,
        amount_cents=payment.amount_cents,
        idempotency_key=f"{key}:capture",
    )


def take_card_payment(
    *,
    account_id: int | None,
    amount_cents: int,
    token: str,
    channel: str,
    idempotency_key: str,
    received_at: datetime,
    effective_date: date,
    actor,
    payer_name: str = "",
    drawer: CashDrawer | None = None,
    processor: PaymentProcessor | None = None,
) -> Payment:
    """Charge a card (by its hosted-field token) and post the payment.

    Returns the payment: POSTED (or UNAPPLIED when no account), DECLINED, or UNKNOWN when the
    processor did not answer (the janitor finishes it). The same key again returns the same
    payment without calling the processor.

    :raises ValidationError: a card number instead of a token, a bad amount or key, a
        channel that takes no cards.
    """
    key = operations._key(idempotency_key)
    operations.check_tender(tender=Tender.CARD, channel=channel)
    amount = operations._cents(amount_cents)
    if not is_token(token):
        message = (
            "This looks like a card number. Ohm never takes card numbers: use the card form's "
            "hosted fields."
            if policies.contains_card_number(token)
            else "Give the card token from the hosted card form (tok_…)."
        )
        raise ValidationError({"token": message}, code="not_a_token")
    payment = _start(
        account_id=account_id,
        amount_cents=amount,
        channel=channel,
        key=key,
        received_at=operations._aware(received_at, "received_at"),
        effective_date=effective_date,
        actor=actor,
        payer_name=payer_name,
        drawer=drawer,
    )
    if payment.replayed:  # type: ignore[attr-defined]
        return payment
    processor = processor or get_processor()
    try:
        result = _authorize_and_capture(payment, processor=processor, token=token)
    except ProcessorTimeout as exc:
        payment = _mark_unknown(payment, message=f"no answer: {exc}", actor=actor, at=received_at)
    except ProcessorRefused as exc:
        payment = settle(
            payment,
            ChargeResult(status=ChargeStatus.DECLINED, message=f"refused: {exc}"),
            actor=actor,
            at=received_at,
        )
    else:
        payment = settle(payment, result, actor=actor, at=received_at)
    payment.replayed = False  # type: ignore[attr-defined]
    return payment


# Step 4: the janitor and webhooks -------------------------------------------------------------


@dataclass
class JanitorOutcome:
    checked: int = 0
    posted: int = 0
    declined: int = 0
    still_unknown: int = 0
    payments: list[int] = field(default_factory=list)


def resolve_payment(
    payment: Payment, *, processor: PaymentProcessor, actor, at: datetime
) -> Payment:
    """Ask the processor what happened to one pending/unknown payment and settle it."""
    key = processor_key(payment)
    try:
        result = processor.lookup(idempotency_key=key)
        if result.status == ChargeStatus.AUTHORIZED:
            result = processor.capture(
                processor_ref=result.processor_ref,
                amount_cents=payment.amount_cents,
                idempotency_key=f"{key}:capture",
            )
    except ProcessorTimeout:
        return payment
    if result.status == ChargeStatus.NOT_FOUND and at - payment.received_at < NOT_FOUND_GIVE_UP:
        return payment  # the call may still be on its way
    return settle(payment, result, actor=actor, at=at)


def resolve_unsettled(
    *,
    actor,
    clock: Callable[[], datetime],
    older_than_seconds: int | None = None,
    processor: PaymentProcessor | None = None,
) -> JanitorOutcome:
    """The janitor: settle every card payment pending or unknown for at least
    ``older_than_seconds`` (default: the policy's). A payment still unknown an hour after it
    was taken gets a work item for a supervisor (once)."""
    processor = processor or get_processor()
    now = clock()
    wait = policies.card_recheck_seconds() if older_than_seconds is None else older_than_seconds
    outcome = JanitorOutcome()
    for payment in Payment.objects.filter(
        status__in=UNSETTLED, received_at__lte=now - timedelta(seconds=wait)
    ).order_by("received_at", "id"):
        outcome.checked += 1
        outcome.payments.append(payment.pk)
        settled = resolve_payment(payment, processor=processor, actor=actor, at=clock())
        if settled.status in (Payment.Status.POSTED, Payment.Status.UNAPPLIED):
            outcome.posted += 1
        elif settled.status == Payment.Status.DECLINED:
            outcome.declined += 1
        else:
            outcome.still_unknown += 1
            if now - settled.received_at > timedelta(hours=1) and settled.work_item_id is None:
                with transaction.atomic():
                    item = workqueue.raise_work_item(
                        category_code=UNRESOLVED_CATEGORY,
                        title=f"Card payment {settled.pk} ({format_cents(settled.amount_cents)}) "
                        "has no answer from the processor",
                        description="The janitor keeps asking. Check the processor's portal; "
                        "nothing posts until the processor confirms the charge.",
                        subject=settled,
                        account_id=settled.account_id,
                        actor=actor,
                        at=now,
                    )
                    Payment.objects.filter(pk=settled.pk).update(work_item=item)
    return outcome


class WebhookRefused(Exception):
    """The webhook is not the processor's (bad signature) or names no payment of ours."""


def handle_webhook(
    *, body: bytes, signature: str, at: datetime, actor, processor: PaymentProcessor | None = None
) -> CardWebhookEvent:
    """Verify and apply a processor webhook. A resent event (same id) changes nothing.

    ``charge.captured`` / ``charge.declined`` settle a pending or unknown payment;
    ``charge.disputed`` reverses a posted payment as a chargeback (with the returned-payment
    fee); ``charge.refunded`` is recorded (refunds are made from Ohm and post there).

    :raises WebhookRefused: on a bad signature.
    """
    processor = processor or get_processor()
    try:
        event = processor.verify_webhook(body=body, signature=signature, at=at)
    except BadSignature as exc:
        raise WebhookRefused(str(exc)) from exc
    with transaction.atomic():
        existing = CardWebhookEvent.objects.filter(event_id=event.event_id).first()
        if existing is not None:
            return existing
        record = CardWebhookEvent.objects.create(
            event_id=event.event_id[:80],
            kind=event.kind[:40],
            processor_ref=event.processor_ref[:80],
            payload=event.payload,
            received_at=at,
        )
        payment = None
        if event.idempotency_key.startswith("ohm-payment-"):
            payment = Payment.objects.filter(
                pk=int(event.idempotency_key.removeprefix("ohm-payment-").split(":")[0] or 0)
            ).first()
        if payment is None and event.processor_ref:
            payment = Payment.objects.filter(processor_ref=event.processor_ref).first()
        if payment is None:
            record.outcome = "no payment of ours"
        elif event.kind == "charge.captured":
            settled = settle(
                payment,
                ChargeResult(ChargeStatus.CAPTURED, processor_ref=event.processor_ref),
                actor=actor,
                at=at,
            )
            record.outcome = f"payment {payment.pk} {settled.status}"
        elif event.kind == "charge.declined":
            settled = settle(
                payment,
                ChargeResult(
                    ChargeStatus.DECLINED, processor_ref=event.processor_ref, message="declined"
                ),
                actor=actor,
                at=at,
            )
            record.outcome = f"payment {payment.pk} {settled.status}"
        elif event.kind == "charge.disputed" and payment.is_in_books:
            operations.reverse_payment(
                payment=payment,
                reason_code="chargeback",
                effective_date=localdate(at),
                actor=actor,
                at=at,
                idempotency_key=f"chargeback:{event.event_id}",
            )
            record.outcome = f"payment {payment.pk} reversed (chargeback)"
        else:
            record.outcome = f"payment {payment.pk}: {event.kind} noted"
        record.save(update_fields=["outcome"])
        audit.record(
            "payments.card.webhook",
            subject=record,
            actor=actor,
            at=at,
            account_id=payment.account_id if payment else None,
            after={"kind": event.kind, "outcome": record.outcome},
        )
    return record


def void_card_payment(
    *, payment: Payment, reason: str, actor, at: datetime, processor: PaymentProcessor | None = None
) -> Payment:
    """Same-day cancel of a card payment: void it at the processor, then cancel it in Ohm.

    If Ohm stops between the two, the settlement reconciliation shows a voided charge whose
    payment is still posted; cancelling again finishes it (the void is idempotent).
    """
    if payment.tender != Tender.CARD or not payment.processor_ref:
        raise ValidationError({"payment": f"Payment {payment.pk} is not a captured card payment."})
    if payment.status == Payment.Status.CANCELLED:
        return payment
    processor = processor or get_processor()
    # One transaction: the cancel's checks (same day, drawer open) run first, and a void the
    # processor refuses rolls the cancel back.
    with transaction.atomic():
        operations.cancel_payment_same_day(payment=payment, reason=reason, actor=actor, at=at)
        try:
            processor.void(
                processor_ref=payment.processor_ref,
                idempotency_key=f"{processor_key(payment)}:void",
            )
        except (ProcessorRefused, ProcessorTimeout) as exc:
            raise ValidationError(
                {"payment": f"The processor did not void the charge: {exc}"}
            ) from exc
    payment.refresh_from_db()
    return payment


# Settlement -------------------------------------------------------------------------------------


@dataclass
class SettlementReport:
    matched: int = 0
    matched_cents: int = 0
    fees_cents: int = 0
    refunds_cents: int = 0
    missing_in_file: list[Payment] = field(default_factory=list)
    unknown_in_file: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    @property
    def reconciled(self) -> bool:
        return not (self.missing_in_file or self.unknown_in_file or self.mismatched)

    def as_dict(self) -> dict:
        return {
            "matched": self.matched,
            "matched_cents": self.matched_cents,
            "fees_cents": self.fees_cents,
            "refunds_cents": self.refunds_cents,
            "missing_in_file": [p.pk for p in self.missing_in_file],
            "unknown_in_file": self.unknown_in_file,
            "mismatched": self.mismatched,
            "reconciled": self.reconciled,
        }

    def lines(self) -> list[str]:
        out = [
            f"Matched {self.matched} captures ({format_cents(self.matched_cents)}); processor fees "
            f"{format_cents(self.fees_cents)}; refunds {format_cents(self.refunds_cents)}."
        ]
        out += [
            f"  In Ohm, not in the file: payment {p.pk} {format_cents(p.amount_cents)}"
            for p in self.missing_in_file
        ]
        out += [f"  In the file, not in Ohm: {text}" for text in self.unknown_in_file]
        out += [f"  Different: {text}" for text in self.mismatched]
        out.append("Reconciled." if self.reconciled else "NOT reconciled.")
        return out


def reconcile_settlement(*, content: bytes) -> SettlementReport:
    """Compare the processor's settlement file with Ohm's captured card payments of the
    days it covers.

    :raises ValueError: a malformed file (line and field named).
    """
    rows = parse_settlement(content)
    report = SettlementReport()
    days = {row.settled_on for row in rows}
    seen: set[int] = set()
    for row in rows:
        if row.kind == "refund":
            report.refunds_cents += -row.amount_cents
            continue
        report.fees_cents += row.fee_cents
        payment = Payment.objects.filter(processor_ref=row.processor_ref).first()
        if payment is None:
            report.unknown_in_file.append(
                f"line {row.line}: {row.processor_ref} {format_cents(row.amount_cents)}"
            )
            continue
        seen.add(payment.pk)
        if payment.amount_cents != row.amount_cents:
            report.mismatched.append(
                f"line {row.line}: payment {payment.pk} is {format_cents(payment.amount_cents)}, "
                f"the file says {format_cents(row.amount_cents)}"
            )
        elif not payment.is_in_books and payment.status != Payment.Status.REVERSED:
            report.mismatched.append(
                f"line {row.line}: payment {payment.pk} is {payment.get_status_display().lower()} "
                "in Ohm but settled by the processor"
            )
        else:
            report.matched += 1
            report.matched_cents += row.amount_cents
    for payment in Payment.objects.filter(tender=Tender.CARD).exclude(processor_ref=""):
        if payment.pk in seen or not payment.is_in_books:
            continue
        if localdate(payment.received_at) in days:
            report.missing_in_file.append(payment)
    return report
