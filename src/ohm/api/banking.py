"""Autopay enrolment and refund requests for integrations (the portal, IVR).

Bank account numbers go in and never come out: every response shows the last four digits
(``"account_number": "••••9012"``). A refund request needs an ``Idempotency-Key`` header;
within the token user's refund limit it is approved at once (HTTP 201), above it it waits
for a different person (HTTP 202); the same key again returns the first refund (HTTP 200).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from ninja import Field, Header, Router, Schema, Status
from ninja.errors import ValidationError

from ohm.api.auth import require_perm
from ohm.api.errors import NotFound
from ohm.api.financials import KEY_HEADER, KEY_HELP, _account, _key
from ohm.api.schemas import ERRORS
from ohm.banking import operations as autopay
from ohm.banking import refunds
from ohm.banking.models import AutopayEnrolment, Refund
from ohm.core import clock
from ohm.core.localtime import localdate
from ohm.payments.models import Payment

router = Router(tags=["banking"])

VIEW_ACCOUNT = "customers.view_account"
CHANGE_ACCOUNT = "customers.change_account"
REQUEST_REFUND = "financials.post_adjustment"


class AutopayIn(Schema):
    holder_name: str = Field(..., max_length=22, description="The name on the bank account")
    routing_number: str = Field(..., description="Nine digits; the last is the ABA check digit")
    account_number: str = Field(..., description="4 to 17 digits; never returned")
    account_type: Literal["checking", "savings"]
    start_date: date | None = Field(None, description="First due date to debit (today if left out)")
    prenote: bool = Field(True, description="Send a $0 prenote before the first debit")


class AutopayOut(Schema):
    id: int
    account_number: str  # the customer account
    status: str
    holder_name: str
    routing_number: str
    bank_account: str  # masked: the last four digits only
    account_type: str
    prenote_status: str
    start_date: date
    enrolled_at: datetime
    bank_changed_at: datetime
    status_reason: str


class RefundIn(Schema):
    amount_cents: int = Field(..., strict=True, description="Integer cents, more than zero")
    reason: Literal["overpayment", "final_bill", "deposit_return"]
    method: Literal["check", "ach", "card"]
    payment_id: int | None = Field(
        None, description="For method card: the card payment whose card gets the money back"
    )
    memo: str = Field("", max_length=200)


class RefundOut(Schema):
    id: int
    account_number: str
    amount_cents: int
    reason: str
    method: str
    status: str
    replayed: bool
    maker: str
    made_at: datetime
    checker: str | None
    decided_at: datetime | None
    approval_entry_id: int | None
    issue_entry_id: int | None
    payment_id: int | None
    processor_ref: str
    processor_message: str


def _autopay_out(e: AutopayEnrolment) -> dict:
    return {
        "id": e.pk,
        "account_number": e.account.number,
        "status": e.status,
        "holder_name": e.holder_name,
        "routing_number": e.routing_number,
        "bank_account": e.masked_account,
        "account_type": e.account_type,
        "prenote_status": e.prenote_status,
        "start_date": e.start_date,
        "enrolled_at": e.enrolled_at,
        "bank_changed_at": e.bank_changed_at,
        "status_reason": e.status_reason,
    }


def _refund_out(r: Refund, replayed: bool = False) -> dict:
    return {
        "id": r.pk,
        "account_number": r.account.number,
        "amount_cents": r.amount_cents,
        "reason": r.reason,
        "method": r.method,
        "status": r.status,
        "replayed": replayed,
        "maker": r.maker.username,
        "made_at": r.made_at,
        "checker": r.checker.username if r.checker is not None else None,
        "decided_at": r.decided_at,
        "approval_entry_id": r.approval_entry_id,
        "issue_entry_id": r.issue_entry_id,
        "payment_id": r.payment_id,
        "processor_ref": r.processor_ref,
        "processor_message": r.processor_message,
    }


def _unprocessable(
    exc: DjangoValidationError, fields: dict[str, str] | None = None
) -> ValidationError:
    fields = fields or {}
    if not hasattr(exc, "error_dict"):
        return ValidationError(
            [{"loc": ["body", "payload"], "msg": m, "type": "invalid"} for m in exc.messages]
        )
    errors: list[dict] = []
    for name, error_list in exc.error_dict.items():
        loc = (
            ["header", KEY_HEADER]
            if name == "idempotency_key"
            else ["body", "payload", fields.get(name, name)]
        )
        if name == "account":
            loc = ["path", "number"]
        for error in error_list:
            errors.extend(
                {"loc": loc, "msg": m, "type": error.code or "invalid"} for m in error.messages
            )
    return ValidationError(errors)


def _live(account) -> AutopayEnrolment | None:
    return (
        AutopayEnrolment.objects.filter(account=account)
        .exclude(status=AutopayEnrolment.Status.CANCELLED)
        .select_related("account")
        .first()
    )


@router.get(
    "/accounts/{number}/autopay",
    response={200: AutopayOut, **ERRORS},
    summary="The account's autopay",
)
def get_autopay(request: HttpRequest, number: str):
    require_perm(request, VIEW_ACCOUNT, "view accounts")
    enrolment = _live(_account(number))
    if enrolment is None:
        raise NotFound(f"Account {number} has no autopay.")
    return _autopay_out(enrolment)


@router.put(
    "/accounts/{number}/autopay",
    response={200: AutopayOut, 201: AutopayOut, **ERRORS},
    summary="Enrol in autopay, or change the bank details",
)
def put_autopay(request: HttpRequest, number: str, payload: AutopayIn):
    """Enrols the account (201) or, when autopay is live, changes its bank details (200): a
    change restarts the prenote and the refund cooling-off period."""
    require_perm(request, CHANGE_ACCOUNT, "change accounts")
    account = _account(number)
    enrolment = _live(account)
    at = clock.now()
    try:
        if enrolment is None:
            created = autopay.enrol_autopay(
                account=account, holder_name=payload.holder_name, routing_number=payload.routing_number,
                account_number=payload.account_number, account_type=payload.account_type,
                start_date=payload.start_date or localdate(at), prenote=payload.prenote,
                actor=request.user, at=at,
            )  # fmt: skip
            created.account = account
            return Status(201, _autopay_out(created))
        changed = autopay.change_bank_details(
            enrolment=enrolment, routing_number=payload.routing_number, account_number=payload.account_number,
            account_type=payload.account_type, holder_name=payload.holder_name, prenote=payload.prenote,
            reason="API", actor=request.user, at=at,
        )  # fmt: skip
    except DjangoValidationError as exc:
        raise _unprocessable(exc) from exc
    changed.account = account
    return Status(200, _autopay_out(changed))


@router.delete(
    "/accounts/{number}/autopay", response={200: AutopayOut, **ERRORS}, summary="Cancel autopay"
)
def delete_autopay(request: HttpRequest, number: str, reason: str):
    require_perm(request, CHANGE_ACCOUNT, "change accounts")
    account = _account(number)
    enrolment = _live(account)
    if enrolment is None:
        raise NotFound(f"Account {number} has no autopay.")
    try:
        cancelled = autopay.cancel_autopay(
            enrolment=enrolment, reason=reason, actor=request.user, at=clock.now()
        )
    except DjangoValidationError as exc:
        raise ValidationError(
            [{"loc": ["query", "reason"], "msg": m, "type": "invalid"} for m in exc.messages]
        ) from exc
    cancelled.account = account
    return _autopay_out(cancelled)


@router.post(
    "/accounts/{number}/refunds",
    response={200: RefundOut, 201: RefundOut, 202: RefundOut, **ERRORS},
    summary="Ask for a refund of a credit balance",
)
def post_refund(
    request: HttpRequest,
    number: str,
    payload: RefundIn,
    idempotency_key: str | None = Header(None, alias=KEY_HEADER, description=KEY_HELP),
):
    """No more than the credit less uncleared payments and pending refunds; ACH only to the
    autopay bank account that paid; a card refund only to a card payment of the account
    (``payment_id``), given back through the card processor as soon as it is approved; a
    check to the mailing address of record; neither ACH nor check within the cooling-off
    period after a bank or address change (422 says which)."""
    require_perm(request, REQUEST_REFUND, "ask for refunds")
    account = _account(number)
    key = _key(request, idempotency_key)
    payment = (
        Payment.objects.filter(pk=payload.payment_id).first()
        if payload.payment_id is not None
        else None
    )
    if payload.payment_id is not None and payment is None:
        raise ValidationError(
            [{"loc": ["body", "payload", "payment_id"], "msg": f"There is no payment {payload.payment_id}.", "type": "invalid"}]
        )  # fmt: skip
    try:
        refund = refunds.request_refund(
            account=account, amount_cents=payload.amount_cents, reason=payload.reason, method=payload.method,
            memo=payload.memo, actor=request.user, at=clock.now(), idempotency_key=key, payment=payment,
        )  # fmt: skip
    except DjangoValidationError as exc:
        raise _unprocessable(exc, {"payment": "payment_id"}) from exc
    replayed = bool(getattr(refund, "replayed", False))
    if replayed and refund.account_id != account.pk:
        raise ValidationError(
            [
                {
                    "loc": ["header", KEY_HEADER],
                    "msg": "This key was used for another account.",
                    "type": "reused",
                }
            ]
        )
    if refund.method == Refund.Method.CARD and refund.status == Refund.Status.APPROVED:
        # The processor is called outside the request's transaction; its key makes a retry
        # (this same request again, after a timeout) safe.
        refund = refunds.issue_card_refund(refund=refund, actor=request.user, at=clock.now())
    body = _refund_out(refund, replayed)
    if replayed:
        return Status(200, body)
    return Status(202 if refund.status == Refund.Status.PENDING else 201, body)


@router.get("/refunds/{refund_id}", response={200: RefundOut, **ERRORS}, summary="One refund")
def get_refund(request: HttpRequest, refund_id: int):
    require_perm(request, VIEW_ACCOUNT, "view accounts")
    refund = (
        Refund.objects.select_related("account", "maker", "checker").filter(pk=refund_id).first()
    )
    if refund is None:
        raise NotFound(f"No refund {refund_id}.")
    return _refund_out(refund)
