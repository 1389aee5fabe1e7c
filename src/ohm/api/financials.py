"""Writes to the books: adjustments, fees, balance transfers, write-offs, their reversals,
recoveries, and the approvals queue where a second person decides what was above the
maker's limit.

Every write needs an ``Idempotency-Key`` header. The key is the caller's, scoped to the
token's user: the same key again returns the first result (HTTP 200, ``"replayed": true``)
and writes nothing. The acting user is the token's user, so their role limits apply: above
the limit the transaction waits for approval (HTTP 202) instead of posting (HTTP 201).
Amounts are integer cents.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from ninja import Field, Header, Router, Schema, Status
from ninja.errors import ValidationError

from ohm.api.auth import require_perm
from ohm.api.errors import Forbidden, NotFound, invalid, invalid_from_django
from ohm.api.schemas import ERRORS, ErrorOut
from ohm.core import clock, validators
from ohm.core.localtime import localdate
from ohm.core.money import format_cents
from ohm.core.permissions import limit_cents
from ohm.customers import queries as customer_queries
from ohm.customers.models import Account
from ohm.financials import operations, policies, queries
from ohm.financials.models import FinancialRequest
from ohm.ledger import queries as ledger_queries
from ohm.ledger.models import JournalEntry, Receivable

router = Router(tags=["financials"])

POST_ADJUSTMENT = "financials.post_adjustment"
ASSESS_FEE = "financials.assess_fee"
TRANSFER_BALANCE = "financials.transfer_balance"
WRITE_OFF = "financials.write_off"
APPROVE_REQUEST = "financials.approve_request"
VIEW_ACCOUNT = "customers.view_account"

KEY_HEADER = "Idempotency-Key"
KEY_MAX = 100
KEY_HELP = (
    "Your unique key for this write (at most 100 characters): sending the same key again "
    "returns the first result and writes nothing."
)

StrictCents = Field(..., strict=True, description="Integer cents, more than zero")


# Schemas -------------------------------------------------------------------------------------


class AdjustmentIn(Schema):
    amount_cents: int = StrictCents
    direction: Literal["credit", "debit"] = Field(
        ..., description="credit lowers what the customer owes; debit charges"
    )
    reason_code: str = Field(..., description="See GET /api/adjustment-reasons")
    memo: str = Field("", max_length=200, description="Shown on the statement")
    effective_date: date | None = Field(None, description="Today when left out")


class FeeIn(Schema):
    kind: str = Field(..., description="late, returned_payment, reconnect or field_trip")
    memo: str = Field("", max_length=200)
    effective_date: date | None = Field(None, description="Today when left out")


class TransferIn(Schema):
    to_account: str = Field(..., description="The account the balance moves to")
    amount_cents: int = StrictCents
    reason: str = Field(..., max_length=200)
    effective_date: date | None = Field(None, description="Today when left out")


class WriteOffIn(Schema):
    amount_cents: int = StrictCents
    reason: str = Field(..., max_length=200)
    effective_date: date | None = Field(None, description="Today when left out")


class WriteOffReversalIn(Schema):
    entry_id: int = Field(..., strict=True, description="The write-off's journal entry")
    reason: str = Field(..., max_length=200)
    effective_date: date | None = Field(None, description="Today when left out")


class RecoveryIn(Schema):
    amount_cents: int = StrictCents
    memo: str = Field("", max_length=200)
    effective_date: date | None = Field(None, description="Today when left out")


class ApproveIn(Schema):
    note: str = Field("", max_length=500)


class RejectIn(Schema):
    reason: str = Field(..., max_length=500)


class EntryLineOut(Schema):
    gl_code: str
    gl_name: str
    amount_cents: int  # debits positive, credits negative
    account_number: str | None
    due_date: date | None
    category: str
    memo: str


class EntryOut(Schema):
    id: int
    kind: str
    effective_date: date
    posted_at: datetime
    description: str
    reason_code: str
    reverses_entry_id: int | None
    lines: list[EntryLineOut]


class NeedsOut(Schema):
    maker_limit_cents: int
    approver_roles: list[str]
    message: str


class RequestOut(Schema):
    id: int
    kind: str
    status: str
    account_number: str
    amount_cents: int
    summary: str
    maker: str
    made_at: datetime
    checker: str | None
    decided_at: datetime | None
    decision_note: str
    entry_id: int | None
    needs: NeedsOut


class OutcomeOut(Schema):
    replayed: bool
    pending: bool
    entry: EntryOut | None
    request: RequestOut | None


class DecisionOut(Schema):
    request: RequestOut
    entry: EntryOut | None


class RequestListOut(Schema):
    count: int
    items: list[RequestOut]


class ReasonOut(Schema):
    code: str
    label: str
    direction: str  # credit, debit or both


WRITE_RESPONSES = {200: OutcomeOut, 201: OutcomeOut, 202: OutcomeOut, **ERRORS}
DECISION_RESPONSES = {200: DecisionOut, **ERRORS}


# Shaping results -----------------------------------------------------------------------------


def entry_out(entry: JournalEntry) -> dict:
    lines = ledger_queries.list_entry_lines(entry)
    numbers = Account.objects.in_bulk([line.account_id for line in lines if line.account_id])
    return {
        "id": entry.pk,
        "kind": entry.kind,
        "effective_date": entry.effective_date,
        "posted_at": entry.posted_at,
        "description": entry.description,
        "reason_code": entry.reason_code,
        "reverses_entry_id": entry.reverses_id,
        "lines": [
            {
                "gl_code": line.gl_account.code,
                "gl_name": line.gl_account.name,
                "amount_cents": line.amount_cents,
                "account_number": numbers[line.account_id].number if line.account_id else None,
                "due_date": line.due_date,
                "category": line.category,
                "memo": line.memo,
            }
            for line in lines
        ],
    }


def _needs(row: FinancialRequest) -> dict:
    limit_kind = policies.LIMIT_KIND.get(row.kind, "adjust")
    limit = limit_cents(row.maker, limit_kind)
    roles = queries.roles_with_limit(limit_kind=limit_kind, amount_cents=row.amount_cents)
    shown = [name for name in roles if name != "Administrator"] or roles
    who = " or ".join(shown) if shown else "no role's limit covers it"
    return {
        "maker_limit_cents": limit,
        "approver_roles": roles,
        "message": f"Above {row.maker.username}'s {format_cents(limit)} limit: approval by {who}.",
    }


def request_out(row: FinancialRequest) -> dict:
    return {
        "id": row.pk,
        "kind": row.kind,
        "status": row.status,
        "account_number": row.account.number,
        "amount_cents": row.amount_cents,
        "summary": row.summary,
        "maker": row.maker.username,
        "made_at": row.made_at,
        "checker": row.checker.username if row.checker is not None else None,
        "decided_at": row.decided_at,
        "decision_note": row.decision_note,
        "entry_id": row.journal_entry_id,
        "needs": _needs(row),
    }


def _respond(outcome: operations.Outcome):
    body = {
        "replayed": outcome.replayed,
        "pending": outcome.pending,
        "entry": entry_out(outcome.entry) if outcome.entry is not None else None,
        "request": request_out(outcome.request) if outcome.request is not None else None,
    }
    if outcome.replayed:
        return Status(200, body)
    return Status(202 if outcome.pending else 201, body)


# Input ---------------------------------------------------------------------------------------

#: Where a JSON body's fields are reported, as django-ninja reports its own checks of them.
BODY = ("body", "payload")
#: Where each field an operation names came from in the HTTP request (else the body).
FIELD_LOCATIONS = {
    "account": ("path", "number"),
    "from_account": ("path", "number"),
    "idempotency_key": ("header", KEY_HEADER),
    "entry": (*BODY, "entry_id"),
    "note": (*BODY, "reason"),
    "status": ("path", "request_id"),
}


def _unprocessable(exc: DjangoValidationError) -> ValidationError:
    """A domain ``ValidationError`` as a 422 naming each field where the caller sent it."""
    if not hasattr(exc, "error_dict"):
        return ValidationError(
            [{"loc": list(BODY), "msg": m, "type": exc.code or "invalid"} for m in exc.messages]
        )
    errors = []
    for name, error_list in exc.error_dict.items():
        loc = list(FIELD_LOCATIONS.get(name, (*BODY, name)))
        for error in error_list:
            for message in error.messages:
                errors.append({"loc": loc, "msg": message, "type": error.code or "invalid"})
    return ValidationError(errors)


def _key(request: HttpRequest, header: str | None) -> str:
    """The caller's key, scoped to the token's user so callers cannot replay each other's."""
    key = (header or "").strip()
    if not key:
        raise invalid(
            "header",
            KEY_HEADER,
            f"Send an {KEY_HEADER} header: a unique key for this write, so a retry posts once.",
            "missing",
        )
    if len(key) > KEY_MAX:
        raise invalid(
            "header", KEY_HEADER, f"The key is longer than {KEY_MAX} characters.", "too_long"
        )
    return f"api:{request.user.pk}:{key}"


def _account(number: str) -> Account:
    """The account in the path: 422 for a malformed number, 404 for one not on file."""
    try:
        validators.validate_account_number(number)
    except DjangoValidationError as exc:
        raise invalid_from_django("path", "number", exc) from exc
    try:
        return customer_queries.get_account(number=number)
    except customer_queries.AccountNotFound as exc:
        raise NotFound(f"No account {re.sub(r'[^0-9]', '', number)}.") from exc


def _named_account(number: str, *loc: str) -> Account:
    """An account named in the body or query: any fault is bad input at ``loc``."""
    try:
        validators.validate_account_number(number)
        return customer_queries.get_account(number=number)
    except DjangoValidationError as exc:
        raise ValidationError(
            [{"loc": list(loc), "msg": m, "type": "invalid"} for m in exc.messages]
        ) from exc
    except customer_queries.AccountNotFound as exc:
        message = f"There is no account {re.sub(r'[^0-9]', '', number)}."
        raise ValidationError([{"loc": list(loc), "msg": message, "type": "not_found"}]) from exc


def _today() -> date:
    return localdate(clock.now())


def _same_write(outcome: operations.Outcome, *, kinds: set[str], account: Account) -> bool:
    """Whether a replayed key was first used for this kind of write on this account."""
    if outcome.entry is not None:
        return outcome.entry.kind in kinds and (
            ledger_queries.entry_touches_account(outcome.entry, account_id=account.pk)
        )
    row = outcome.request
    return row is not None and row.kind in kinds and row.account_id == account.pk


def _submit(call, *, kinds: set[str], account: Account):
    try:
        outcome = call()
    except DjangoValidationError as exc:
        raise _unprocessable(exc) from exc
    if outcome.replayed and not _same_write(outcome, kinds=kinds, account=account):
        raise invalid(
            "header",
            KEY_HEADER,
            "This key was already used for a different write: send a new key.",
            "key_reused",
        )
    return _respond(outcome)


# Writes ---------------------------------------------------------------------------------------


@router.post(
    "/accounts/{number}/adjustments",
    response=WRITE_RESPONSES,
    summary="Charge or credit an account with a reason code",
)
def post_adjustment(
    request: HttpRequest,
    number: str,
    payload: AdjustmentIn,
    idempotency_key: str | None = Header(None, alias=KEY_HEADER, description=KEY_HELP),
):
    """A credit (lowers what the customer owes) or a charge, for one of the reason codes of
    ``GET /api/adjustment-reasons``. Above your role's adjust limit it waits for approval
    (202) and the response says who must approve."""
    require_perm(request, POST_ADJUSTMENT, "post adjustments")
    key = _key(request, idempotency_key)
    account = _account(number)
    return _submit(
        lambda: operations.post_adjustment(
            account=account,
            amount_cents=payload.amount_cents,
            direction=payload.direction,
            reason_code=payload.reason_code,
            memo=payload.memo,
            effective_date=payload.effective_date or _today(),
            actor=request.user,
            at=clock.now(),
            idempotency_key=key,
        ),
        kinds={"adjustment"},
        account=account,
    )


@router.post(
    "/accounts/{number}/fees",
    response=WRITE_RESPONSES,
    summary="Charge a fee from the fee schedule",
)
def assess_fee(
    request: HttpRequest,
    number: str,
    payload: FeeIn,
    idempotency_key: str | None = Header(None, alias=KEY_HEADER, description=KEY_HELP),
):
    """The fee schedule's amount in effect on ``effective_date``; the late fee is a share of
    what is past due that day. Fees follow the schedule, so they need no approval."""
    require_perm(request, ASSESS_FEE, "charge fees")
    key = _key(request, idempotency_key)
    account = _account(number)
    return _submit(
        lambda: operations.assess_fee(
            account=account,
            kind=payload.kind,
            memo=payload.memo,
            effective_date=payload.effective_date or _today(),
            actor=request.user,
            at=clock.now(),
            idempotency_key=key,
        ),
        kinds={"fee"},
        account=account,
    )


@router.post(
    "/accounts/{number}/transfers",
    response=WRITE_RESPONSES,
    summary="Move a balance to another account",
)
def transfer_balance(
    request: HttpRequest,
    number: str,
    payload: TransferIn,
    idempotency_key: str | None = Header(None, alias=KEY_HEADER, description=KEY_HELP),
):
    """Move up to what account ``number`` owes onto ``to_account`` in one balanced entry
    (e.g. a final bill moved to the customer's new account). Measured by the adjust limit."""
    require_perm(request, TRANSFER_BALANCE, "transfer balances")
    key = _key(request, idempotency_key)
    account = _account(number)
    target = _named_account(payload.to_account, *BODY, "to_account")
    return _submit(
        lambda: operations.transfer_balance(
            from_account=account,
            to_account=target,
            amount_cents=payload.amount_cents,
            reason=payload.reason,
            effective_date=payload.effective_date or _today(),
            actor=request.user,
            at=clock.now(),
            idempotency_key=key,
        ),
        kinds={"transfer"},
        account=account,
    )


@router.post(
    "/accounts/{number}/write-offs",
    response=WRITE_RESPONSES,
    summary="Write off a balance",
)
def write_off(
    request: HttpRequest,
    number: str,
    payload: WriteOffIn,
    idempotency_key: str | None = Header(None, alias=KEY_HEADER, description=KEY_HELP),
):
    """Write off up to the open balance (debit bad-debt expense, credit receivables). Above
    your role's write-off limit it waits for approval."""
    require_perm(request, WRITE_OFF, "write off balances")
    key = _key(request, idempotency_key)
    account = _account(number)
    return _submit(
        lambda: operations.write_off_balance(
            account=account,
            amount_cents=payload.amount_cents,
            reason=payload.reason,
            effective_date=payload.effective_date or _today(),
            actor=request.user,
            at=clock.now(),
            idempotency_key=key,
        ),
        kinds={"write_off"},
        account=account,
    )


@router.post(
    "/accounts/{number}/write-offs/reverse",
    response=WRITE_RESPONSES,
    summary="Reverse a write-off made in error",
)
def reverse_write_off(
    request: HttpRequest,
    number: str,
    payload: WriteOffReversalIn,
    idempotency_key: str | None = Header(None, alias=KEY_HEADER, description=KEY_HELP),
):
    """The mirror of write-off ``entry_id`` (a write-off on this account), pointing at it: the
    balance is owed again and the expense is taken back. Measured by the write-off limit."""
    require_perm(request, WRITE_OFF, "reverse write-offs")
    key = _key(request, idempotency_key)
    account = _account(number)
    entry = JournalEntry.objects.filter(
        pk=payload.entry_id,
        kind="write_off",
        pk__in=Receivable.objects.filter(account=account).values("entry_id"),
    ).first()
    if entry is None:
        message = (
            f"Journal entry {payload.entry_id} is not a write-off on account {account.number}."
        )
        raise ValidationError([{"loc": [*BODY, "entry_id"], "msg": message, "type": "not_found"}])
    return _submit(
        lambda: operations.reverse_write_off(
            entry=entry,
            reason=payload.reason,
            effective_date=payload.effective_date or _today(),
            actor=request.user,
            at=clock.now(),
            idempotency_key=key,
        ),
        kinds={"reversal", "write_off_reversal"},
        account=account,
    )


@router.post(
    "/accounts/{number}/recoveries",
    response=WRITE_RESPONSES,
    summary="Record money recovered on an amount written off",
)
def record_recovery(
    request: HttpRequest,
    number: str,
    payload: RecoveryIn,
    idempotency_key: str | None = Header(None, alias=KEY_HEADER, description=KEY_HELP),
):
    """Put up to what was written off (and not yet reversed or recovered) back on the account
    as owed, crediting write-off recoveries; post the payment that brought it in next."""
    require_perm(request, WRITE_OFF, "record recoveries")
    key = _key(request, idempotency_key)
    account = _account(number)
    return _submit(
        lambda: operations.record_recovery(
            account=account,
            amount_cents=payload.amount_cents,
            memo=payload.memo,
            effective_date=payload.effective_date or _today(),
            actor=request.user,
            at=clock.now(),
            idempotency_key=key,
        ),
        kinds={"recovery"},
        account=account,
    )


# Approvals -----------------------------------------------------------------------------------


def _request_or_404(request_id: int) -> FinancialRequest:
    try:
        return queries.get_request(pk=request_id)
    except FinancialRequest.DoesNotExist as exc:
        raise NotFound(f"No request {request_id}.") from exc


@router.get(
    "/approvals",
    response={200: RequestListOut, **ERRORS},
    summary="List requests waiting for approval",
)
def list_approvals(request: HttpRequest, account: str | None = None):
    """Pending requests, oldest first; ``account`` limits them to one account's."""
    require_perm(request, APPROVE_REQUEST, "see the approvals queue")
    account_id = _named_account(account, "query", "account").pk if account else None
    rows = queries.list_pending_requests(account_id=account_id)
    items = [request_out(row) for row in rows]
    return {"count": len(items), "items": items}


def _decide(request: HttpRequest, request_id: int, decide):
    require_perm(request, APPROVE_REQUEST, "decide requests")
    row = _request_or_404(request_id)
    try:
        decided = decide(row)
    except DjangoValidationError as exc:
        checker = getattr(exc, "error_dict", {}).get("checker")
        if checker:
            # Not bad input: this person may not decide this request (theirs, or too large).
            raise Forbidden(" ".join(m for e in checker for m in e.messages)) from exc
        raise _unprocessable(exc) from exc
    decided = queries.get_request(pk=decided.pk)
    return {
        "request": request_out(decided),
        "entry": entry_out(decided.journal_entry) if decided.journal_entry is not None else None,
    }


@router.post(
    "/approvals/{request_id}/approve",
    response=DECISION_RESPONSES,
    summary="Approve a pending request: it posts now",
)
def approve(request: HttpRequest, request_id: int, payload: ApproveIn | None = None):
    """Posts the request's transaction in your name, checked again as of now. You may not
    approve your own request, nor one above your limit (403)."""
    note = payload.note if payload is not None else ""
    return _decide(
        request,
        request_id,
        lambda row: operations.approve_request(
            request=row, actor=request.user, at=clock.now(), note=note
        ),
    )


@router.post(
    "/approvals/{request_id}/reject",
    response=DECISION_RESPONSES,
    summary="Reject a pending request: nothing posts",
)
def reject(request: HttpRequest, request_id: int, payload: RejectIn):
    """Refuse the request with a ``reason``. You may not reject your own (cancel it in the
    console instead), nor one above your limit (403)."""
    return _decide(
        request,
        request_id,
        lambda row: operations.reject_request(
            request=row, actor=request.user, at=clock.now(), note=payload.reason
        ),
    )


@router.get(
    "/adjustment-reasons",
    response={200: list[ReasonOut], 401: ErrorOut, 403: ErrorOut},
    summary="List the adjustment reason codes",
)
def list_adjustment_reasons(request: HttpRequest):
    """The active reason codes an adjustment may name, and which direction each allows."""
    require_perm(request, VIEW_ACCOUNT, "view accounts")
    return [
        {"code": r.code, "label": r.label, "direction": r.direction}
        for r in queries.list_active_reasons()
    ]
