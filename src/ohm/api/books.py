"""Reads of the books: an account's balance and aging, its transactions with a running
balance, and the trial balance. Amounts are integer cents (debits and what the customer
owes positive; a credit balance negative)."""

from __future__ import annotations

import re
from datetime import date

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from ninja import Query, Router, Schema

from ohm.api.auth import require_perm
from ohm.api.errors import NotFound, invalid, invalid_from_django
from ohm.api.schemas import ERRORS
from ohm.core import clock, validators
from ohm.core.localtime import localdate
from ohm.customers import queries as customer_queries
from ohm.customers.models import Account
from ohm.ledger import queries as ledger_queries
from ohm.ledger.aging import BUCKETS
from ohm.ledger.models import GLAccount

router = Router(tags=["books"])

VIEW_ACCOUNT = "customers.view_account"
VIEW_BOOKS = "ledger.view_books"


class AgingBucketsOut(Schema):
    current: int
    days_31_60: int
    days_61_90: int
    days_91_120: int
    over_120: int


class BalanceOut(Schema):
    number: str
    as_of: date
    balance_cents: int
    current_cents: int
    past_due_cents: int
    credit_cents: int
    is_credit: bool
    buckets: AgingBucketsOut


class TransactionOut(Schema):
    entry_id: int
    effective_date: date
    kind: str
    description: str
    amount_cents: int
    running_balance_cents: int
    reversed: bool
    reverses_entry_id: int | None


class TransactionsOut(Schema):
    number: str
    start: date | None
    end: date | None
    opening_balance_cents: int
    closing_balance_cents: int
    transactions: list[TransactionOut]


class TrialBalanceRowOut(Schema):
    code: str
    name: str
    kind: str
    balance_cents: int


class TrialBalanceOut(Schema):
    as_of: date
    balanced: bool
    total_cents: int
    ar_control_cents: int
    ar_subledger_total_cents: int
    unbalanced_entries: list[int]
    accounts: list[TrialBalanceRowOut]


_BUCKET_FIELDS = dict(
    zip(BUCKETS, ("current", "days_31_60", "days_61_90", "days_91_120", "over_120"), strict=True)
)


def _account(number: str) -> Account:
    try:
        validators.validate_account_number(number)
    except DjangoValidationError as exc:
        raise invalid_from_django("path", "number", exc) from exc
    try:
        return customer_queries.get_account(number=number)
    except customer_queries.AccountNotFound as exc:
        raise NotFound(f"No account {re.sub(r'[^0-9]', '', number)}.") from exc


def _today() -> date:
    return localdate(clock.now())


@router.get(
    "/accounts/{number}/balance",
    response={200: BalanceOut, **ERRORS},
    summary="Get an account's balance and aging",
)
def get_balance(
    request: HttpRequest,
    number: str,
    as_of: date | None = Query(None, description="Date of the balance; today when left out"),  # noqa: B008
):
    """What the customer owes on ``as_of`` (today by default), split into current and past
    due and aged by days since each bill (``current`` 0–30, then 31–60, 61–90, 91–120 and
    over 120). A credit balance has ``is_credit`` true, a negative ``balance_cents`` and the
    credit as a positive ``credit_cents``."""
    require_perm(request, VIEW_ACCOUNT, "view accounts")
    account = _account(number)
    day = as_of or _today()
    aging = ledger_queries.get_aging(account_id=account.pk, as_of=day)
    return {
        "number": account.number,
        "as_of": day,
        "balance_cents": aging.balance_cents,
        "current_cents": aging.current_cents,
        "past_due_cents": aging.past_due_cents,
        "credit_cents": aging.credit_cents,
        "is_credit": aging.balance_cents < 0,
        "buckets": {_BUCKET_FIELDS[key]: cents for key, cents in aging.buckets.items()},
    }


@router.get(
    "/accounts/{number}/transactions",
    response={200: TransactionsOut, **ERRORS},
    summary="List an account's transactions with a running balance",
)
def list_transactions(
    request: HttpRequest,
    number: str,
    start: date | None = Query(None, description="First effective date shown"),  # noqa: B008
    end: date | None = Query(None, description="Last effective date shown"),  # noqa: B008
    kind: list[str] | None = Query(  # noqa: B008
        None, description="Only these kinds (bill, payment, adjustment, fee, …); repeatable"
    ),
):
    """The statement of account: every transaction in effective-date order with the balance
    after it. ``opening_balance_cents`` is the balance before ``start``. Filtering by ``kind``
    hides rows but every transaction still counts in the running balance."""
    require_perm(request, VIEW_ACCOUNT, "view accounts")
    account = _account(number)
    if start and end and end < start:
        raise invalid("query", "end", "The end date is before the start date.", "date_order")
    opening, rows = ledger_queries.list_statement(
        account_id=account.pk, start_date=start, end_date=end, kinds=kind or None
    )
    closing = (
        ledger_queries.get_balance_cents(account_id=account.pk, as_of=end)
        if end
        else ledger_queries.get_balance_cents(account_id=account.pk)
    )
    return {
        "number": account.number,
        "start": start,
        "end": end,
        "opening_balance_cents": opening,
        "closing_balance_cents": closing,
        "transactions": [row.__dict__ for row in rows],
    }


@router.get(
    "/ledger/trial-balance",
    response={200: TrialBalanceOut, **ERRORS},
    summary="Get the trial balance",
)
def get_trial_balance(
    request: HttpRequest,
    as_of: date | None = Query(None, description="Date of the books; today when left out"),  # noqa: B008
):
    """Every GL account's balance (debits positive) and the books check: the total is zero,
    every entry balances, and the receivables control equals the sum of customer balances."""
    require_perm(request, VIEW_BOOKS, "view the books")
    day = as_of or _today()
    check = ledger_queries.check_books(as_of=day)
    return {
        "as_of": day,
        "balanced": check.balanced,
        "total_cents": check.trial_balance_total_cents,
        "ar_control_cents": check.ar_control_cents,
        "ar_subledger_total_cents": check.ar_subledger_total_cents,
        "unbalanced_entries": check.unbalanced_entries,
        "accounts": [
            {
                "code": gl.code,
                "name": gl.name,
                "kind": gl.kind,
                "balance_cents": check.trial_balance.get(gl.code, 0),
            }
            for gl in GLAccount.objects.order_by("code")
        ],
    }
