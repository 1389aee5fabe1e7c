"""Accounts with bills due, enrolled in autopay, a way to read the books, and the bank's side
(a returns file for the entries we sent)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ohm.banking import nacha
from ohm.banking import operations as autopay
from ohm.ledger import operations as ledger
from ohm.ledger import queries as ledger_queries
from ohm.ledger.models import GLAccount
from ohm.ledger.operations import EntrySpec, LineSpec
from tests.factories import AT, SYSTEM, make_account

DUE = date(2026, 3, 20)
#: 09:00 Pacific on Thursday March 19, 2026: the file for the 20th is built the day before.
BUILD_AT = datetime(2026, 3, 19, 16, 0, tzinfo=UTC)
ROUTING = "231380104"
BANK_ACCOUNT = "123456789012"


def bill(account, cents: int, *, key: str, on: date = date(2026, 3, 1), due: date = DUE):
    return ledger.post_entry(
        EntrySpec(
            "bill",
            on,
            key,
            "Bill",
            [
                LineSpec("receivables", cents, account_id=account.pk, due_date=due),
                LineSpec("revenue_energy", -cents),
            ],
        ),
        actor=SYSTEM,
        at=AT,
    )


def balance(account) -> int:
    return ledger_queries.get_balance_cents(account_id=account.pk)


def gl(role: str) -> int:
    code = GLAccount.objects.get(role=role).code
    return ledger_queries.get_trial_balance().get(code, 0)


def books_clean() -> bool:
    return ledger_queries.check_books().balanced


def enrol(account, *, prenote: bool = False, number: str = BANK_ACCOUNT, at=AT):
    return autopay.enrol_autopay(
        account=account,
        holder_name="Pat Customer",
        routing_number=ROUTING,
        account_number=number,
        account_type="checking",
        start_date=date(2026, 3, 1),
        prenote=prenote,
        actor=SYSTEM,
        at=at,
    )


@pytest.fixture
def billed(db):
    """An account owing $120.00 due March 20, enrolled in autopay (no prenote)."""
    account = make_account()
    bill(account, 120_00, key=f"bill:{account.pk}")
    enrol(account)
    return account


def returns_file(
    items: list[tuple[object, str]], *, changes: list[tuple[object, str, str]] = ()
) -> bytes:
    """The bank's returns file: ``items`` are (AchEntry, R-code); ``changes`` are
    (AchEntry, C-code, corrected data)."""
    rdfi = ROUTING[:8]
    entries = []
    sequence = 0
    for entry, code in items:
        sequence += 1
        entries.append(
            nacha.Entry(
                transaction_code=26 if entry.kind != "credit" else 21,
                routing_number=ROUTING,
                account_number=BANK_ACCOUNT,
                amount_cents=entry.amount_cents,
                individual_id=entry.account.number,
                individual_name="PAT CUSTOMER",
                trace_number=nacha.trace_number(rdfi, sequence),
                addenda=(
                    nacha.ReturnAddenda(code, entry.trace_number, entry.trace_number[:8], nacha.trace_number(rdfi, sequence)),
                ),
            )
        )  # fmt: skip
    for entry, code, data in changes:
        sequence += 1
        entries.append(
            nacha.Entry(
                transaction_code=26 if entry.kind != "credit" else 21,
                routing_number=ROUTING,
                account_number=BANK_ACCOUNT,
                amount_cents=0,
                individual_id=entry.account.number,
                individual_name="PAT CUSTOMER",
                trace_number=nacha.trace_number(rdfi, sequence),
                addenda=(
                    nacha.ChangeAddenda(code, entry.trace_number, entry.trace_number[:8], data, nacha.trace_number(rdfi, sequence)),
                ),
            )
        )  # fmt: skip
    batch = nacha.Batch(
        company_name="CITY OF OHM",
        company_id="1946000123",
        sec_code="PPD",
        description="RETURNS",
        effective_date=None,
        odfi=rdfi,
        batch_number=1,
        entries=tuple(entries),
    )
    header = nacha.FileHeader(
        immediate_destination="121042882",
        immediate_origin="231380104",
        creation_date=date(2026, 3, 24),
    )
    return nacha.build_file(nacha.NachaFile(header=header, batches=(batch,))).encode()
