"""Accounts with something owed, and a way to count every write."""

from __future__ import annotations

from datetime import date

import pytest

from ohm.core.models import AuditEvent
from ohm.financials.models import FinancialRequest
from ohm.ledger import operations as ledger
from ohm.ledger.models import JournalEntry
from ohm.ledger.operations import EntrySpec, LineSpec
from ohm.workqueue.models import WorkItem
from tests.factories import AT, SYSTEM, make_account
from tests.journal import line_count, lines_of  # noqa: F401  (lines_of: for the tests here)


def bill(account, cents: int, *, key: str, on: date = date(2026, 2, 1), due: date | None = None):
    """A bill as billing will post it: receivable debit, energy revenue credit."""
    return ledger.post_entry(
        EntrySpec(
            "bill",
            on,
            key,
            "Bill",
            [
                LineSpec("receivables", cents, account_id=account.pk, due_date=due or on),
                LineSpec("revenue_energy", -cents),
            ],
        ),
        actor=SYSTEM,
        at=AT,
    )


def writes() -> tuple[int, ...]:
    return (
        JournalEntry.objects.count(),
        line_count(),
        FinancialRequest.objects.count(),
        WorkItem.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def owing(db):
    """An account owing $200.00 billed Feb 1, 2026 (due Feb 1)."""
    account = make_account()
    bill(account, 200_00, key=f"bill:{account.pk}")
    return account


@pytest.fixture
def lead(make_staff):
    return make_staff("lead_csr", "lee")
