"""Many accounts' summaries at once agree with each account's statement."""

from datetime import UTC, date, datetime

import pytest

from ohm.ledger import operations, queries
from ohm.ledger.operations import EntrySpec, LineSpec
from tests.factories import SYSTEM, make_account

AT = datetime(2026, 6, 1, tzinfo=UTC)


def post(account, key, kind, cents, on):
    gl = "revenue_energy" if cents > 0 else "cash_cashier"
    operations.post_entry(
        EntrySpec(
            kind,
            on,
            key,
            kind,
            [LineSpec("receivables", cents, account.pk, due_date=on), LineSpec(gl, -cents)],
        ),
        actor=SYSTEM,
        at=AT,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("groups", [queries.WINDOW_GROUPS, 0], ids=["by-window", "each-account"])
def test_opening_balance_and_kinds_match_the_statement(monkeypatch, groups):
    monkeypatch.setattr(queries, "WINDOW_GROUPS", groups)
    first, second, quiet = make_account(), make_account(), make_account()
    post(first, "b1", "bill", 10_000, date(2026, 1, 5))
    post(first, "p1", "payment", -4_000, date(2026, 1, 20))
    post(first, "b2", "bill", 9_000, date(2026, 2, 5))
    post(first, "p2", "payment", -9_000, date(2026, 2, 15))
    post(first, "f1", "fee", 500, date(2026, 2, 20))
    post(first, "later", "bill", 7_000, date(2026, 3, 20))
    post(second, "b3", "bill", 3_000, date(2026, 2, 1))
    windows = {
        first.pk: (date(2026, 2, 6), date(2026, 3, 5)),
        second.pk: (None, date(2026, 3, 5)),
        quiet.pk: (date(2026, 2, 6), date(2026, 3, 5)),
    }

    activity = queries.list_account_activity(windows)

    for account_id, (start, end) in windows.items():
        opening, rows = queries.list_statement(
            account_id=account_id, start_date=start, end_date=end
        )
        kinds: dict[str, int] = {}
        for row in rows:
            kinds[row.kind] = kinds.get(row.kind, 0) + row.amount_cents
        assert activity[account_id] == queries.Activity(opening, kinds)
    assert activity[first.pk] == queries.Activity(15_000, {"payment": -9_000, "fee": 500})
    assert activity[quiet.pk] == queries.Activity(0, {})


@pytest.mark.django_db
def test_second_receivable_lines_count_like_the_first():
    # given a transfer: a credit to one account's receivable, a debit to another's
    first, second = make_account(), make_account()
    post(first, "b1", "bill", 10_000, date(2026, 1, 5))
    operations.post_entry(
        EntrySpec(
            "transfer",
            date(2026, 2, 10),
            "t1",
            "transfer",
            [
                LineSpec("receivables", -2_500, first.pk),
                LineSpec("receivables", 2_500, second.pk, due_date=date(2026, 2, 10)),
            ],
        ),
        actor=SYSTEM,
        at=AT,
    )
    post(second, "b2", "bill", 1_000, date(2026, 1, 10))
    windows = {first.pk: (None, date(2026, 3, 5)), second.pk: (date(2026, 2, 1), date(2026, 3, 5))}

    activity = queries.list_account_activity(windows)

    assert activity[first.pk] == queries.Activity(0, {"bill": 10_000, "transfer": -2_500})
    assert activity[second.pk] == queries.Activity(1_000, {"transfer": 2_500})


@pytest.mark.django_db
def test_a_window_starting_after_its_end_reads_up_to_its_end_as_the_statement_does():
    account = make_account()
    post(account, "b1", "bill", 10_000, date(2026, 3, 5))
    post(account, "b2", "bill", 700, date(2026, 3, 6))
    post(account, "b3", "bill", 30, date(2026, 3, 7))
    windows = {account.pk: (date(2026, 3, 7), date(2026, 3, 5))}

    activity = queries.list_account_activity(windows)

    opening, rows = queries.list_statement(
        account_id=account.pk, start_date=date(2026, 3, 7), end_date=date(2026, 3, 5)
    )
    assert activity[account.pk] == queries.Activity(10_000, {}) == queries.Activity(opening, {})
    assert rows == []
