"""Accounts owing money, a cashier with an open drawer, and a way to read the books."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ohm.core.models import AuditEvent
from ohm.ledger import operations as ledger
from ohm.ledger import queries as ledger_queries
from ohm.ledger.models import JournalEntry
from ohm.ledger.operations import EntrySpec, LineSpec
from ohm.payments import drawers
from ohm.payments.models import Payment
from ohm.workqueue.models import WorkItem
from tests.factories import AT, SYSTEM, make_account
from tests.journal import line_count

#: 10:00 Pacific on Monday March 2, 2026.
TAKEN_AT = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)


def bill(account, cents: int, *, key: str, on: date = date(2026, 2, 1)):
    return ledger.post_entry(
        EntrySpec(
            "bill",
            on,
            key,
            "Bill",
            [
                LineSpec("receivables", cents, account_id=account.pk, due_date=on),
                LineSpec("revenue_energy", -cents),
            ],
        ),
        actor=SYSTEM,
        at=AT,
    )


def balance(account) -> int:
    return ledger_queries.get_balance_cents(account_id=account.pk)


def gl(role: str) -> int:
    """Balance of the GL account with ``role`` (debits positive)."""
    from ohm.ledger.models import GLAccount

    code = GLAccount.objects.get(role=role).code
    return ledger_queries.get_trial_balance()[code]


def books_clean() -> bool:
    return ledger_queries.check_books().balanced


def writes() -> tuple[int, ...]:
    return (
        Payment.objects.count(),
        JournalEntry.objects.count(),
        line_count(),
        WorkItem.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def owing(db):
    """An account owing $200.00 billed Feb 1, 2026."""
    account = make_account()
    bill(account, 200_00, key=f"bill:{account.pk}")
    return account


@pytest.fixture
def cashier(make_staff):
    return make_staff("cashier", "cass")


@pytest.fixture
def drawer(cashier):
    return drawers.open_drawer(
        cashier=cashier, name="Window 1", float_cents=100_00, actor=cashier, at=TAKEN_AT
    )
