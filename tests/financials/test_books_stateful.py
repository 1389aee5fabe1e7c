"""Random sequences of the real financial operations keep the books' invariants.

After every step: every entry balances, the trial balance is zero, the receivables control
account equals the sum of customer balances (``check_books``), each customer's balance is
what the successful operations made it, nothing posted into a month after it closed, and
each idempotency key posted at most once. A refused step writes nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.test import TestCase
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ohm.core.audit import SystemActor
from ohm.core.permissions import ensure_roles, role_group
from ohm.customers.models import Account
from ohm.financials import operations
from ohm.financials.models import FinancialRequest
from ohm.ledger import operations as ledger
from ohm.ledger import queries as ledger_queries
from ohm.ledger.models import GLAccount, JournalEntry
from ohm.ledger.operations import EntrySpec, LineSpec
from ohm.workqueue.models import WorkItem
from tests.factories import make_account

EXAMPLES = int(__import__("os").environ.get("BOOKS_EXAMPLES", "1000"))
START = datetime(2026, 5, 1, 17, 0, tzinfo=UTC)
MONTHS = [1, 2, 3, 4]
REASONS = ["billing_error", "courtesy_credit", "tax_correction", "deposit_correction", "nope"]
FEES = ["late", "returned_payment", "reconnect", "field_trip"]
cents = st.integers(min_value=-100, max_value=700_00)
days = st.integers(min_value=1, max_value=28)


def writes() -> tuple[int, ...]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT SUM(lines) FROM ledger_gltotal),"
            " (SELECT COUNT(*) FROM financials_financialrequest),"
            " (SELECT COUNT(*) FROM workqueue_workitem)"
        )
        return cursor.fetchone()


def ar_deltas(entry: JournalEntry) -> dict[int, int]:
    deltas: dict[int, int] = {}
    for line in entry.line_list():
        if line.gl_account_id == Books.receivables_id:
            deltas[line.account_id] = deltas.get(line.account_id, 0) + line.amount_cents
    return deltas


class Books(RuleBasedStateMachine):
    # Set by the TestCase before the run: accounts and staff made once, outside the examples.
    accounts: list = []
    staff: dict = {}
    receivables_id = 0

    def __init__(self):
        super().__init__()
        # Each example runs in its own savepoint and rolls back, so every example starts clean.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.step = 0
        self.balances = {a.pk: 0 for a in self.accounts}
        self.calls: dict[str, object] = {}
        self.pending: list[int] = []
        self.write_offs: list[int] = []
        self.closed: dict[int, datetime] = {}
        self.entries = 0

    def teardown(self):
        check = ledger_queries.check_books()
        assert check.balanced, check
        assert check.ar_control_cents == sum(self.balances.values())
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers ---------------------------------------------------------------------------

    def _at(self) -> datetime:
        self.step += 1
        return START + timedelta(minutes=self.step)

    def _key(self) -> str:
        return f"k{self.step}-{len(self.calls)}"

    def _attempt(self, call, *, key: str, accounts: list[int], must_refuse: bool = False):
        """Run ``call``; a refusal must write nothing, a success moves the balances it says."""
        before = writes()
        outcome = None
        try:
            outcome = call()
        except ValidationError as exc:
            refusal = exc
        else:
            refusal = None
        if refusal is not None:
            assert refusal.message_dict, "a refusal names the field"
            assert writes() == before
            return None
        assert not must_refuse, "posted into a closed month"
        assert not outcome.replayed
        self.calls[key] = call
        if outcome.entry is not None:
            self.entries += 1
            deltas = ar_deltas(outcome.entry)
            assert set(deltas) <= set(accounts)
            for pk, cents in deltas.items():
                self.balances[pk] += cents
        else:
            assert outcome.pending
            self.pending.append(outcome.request.pk)
        return outcome

    def _effective(self, month: int, day: int) -> date:
        return date(2026, month, day)

    # --- rules -------------------------------------------------------------------------------

    @rule(
        which=st.integers(0, 2),
        amount=st.integers(1, 400_00),
        month=st.sampled_from(MONTHS),
        day=days,
    )
    def bill(self, which, amount, month, day):
        account, key, at = self.accounts[which], self._key(), self._at()
        on = self._effective(month, day)

        def call():
            entry = ledger.post_entry(
                EntrySpec(
                    "bill",
                    on,
                    key,
                    "Bill",
                    [
                        LineSpec("receivables", amount, account_id=account.pk, due_date=on),
                        LineSpec("revenue_energy", -amount),
                    ],
                ),
                actor=self.staff["system"],
                at=at,
            )
            return operations.Outcome(entry=entry, replayed=entry.replayed)

        self._attempt(call, key=key, accounts=[account.pk], must_refuse=month in self.closed)

    @rule(
        which=st.integers(0, 2),
        amount=cents,
        direction=st.sampled_from(["credit", "debit"]),
        reason=st.sampled_from(REASONS),
        maker=st.sampled_from(["csr", "lead"]),
        month=st.sampled_from(MONTHS),
        day=days,
    )
    def adjust(self, which, amount, direction, reason, maker, month, day):
        account, key, at = self.accounts[which], self._key(), self._at()

        def call():
            return operations.post_adjustment(
                account=account,
                amount_cents=amount,
                direction=direction,
                reason_code=reason,
                memo="",
                effective_date=self._effective(month, day),
                actor=self.staff[maker],
                at=at,
                idempotency_key=key,
            )

        self._attempt(call, key=key, accounts=[account.pk], must_refuse=month in self.closed)

    @rule(
        which=st.integers(0, 2), kind=st.sampled_from(FEES), month=st.sampled_from(MONTHS), day=days
    )
    def fee(self, which, kind, month, day):
        account, key, at = self.accounts[which], self._key(), self._at()

        def call():
            return operations.assess_fee(
                account=account,
                kind=kind,
                effective_date=self._effective(month, day),
                actor=self.staff["csr"],
                at=at,
                idempotency_key=key,
            )

        self._attempt(call, key=key, accounts=[account.pk], must_refuse=month in self.closed)

    @rule(
        giver=st.integers(0, 2),
        taker=st.integers(0, 2),
        amount=cents,
        maker=st.sampled_from(["csr", "lead"]),
        month=st.sampled_from(MONTHS),
    )
    def transfer(self, giver, taker, amount, maker, month):
        key, at = self._key(), self._at()
        a, b = self.accounts[giver], self.accounts[taker]

        def call():
            return operations.transfer_balance(
                from_account=a,
                to_account=b,
                amount_cents=amount,
                reason="moved",
                effective_date=self._effective(month, 28),
                actor=self.staff[maker],
                at=at,
                idempotency_key=key,
            )

        self._attempt(
            call, key=key, accounts=sorted({a.pk, b.pk}), must_refuse=month in self.closed
        )

    @rule(
        which=st.integers(0, 2),
        amount=cents,
        maker=st.sampled_from(["lead", "supervisor", "system"]),
        month=st.sampled_from(MONTHS),
    )
    def write_off(self, which, amount, maker, month):
        account, key, at = self.accounts[which], self._key(), self._at()

        def call():
            return operations.write_off_balance(
                account=account,
                amount_cents=amount,
                reason="uncollectible",
                effective_date=self._effective(month, 28),
                actor=self.staff[maker],
                at=at,
                idempotency_key=key,
            )

        outcome = self._attempt(
            call, key=key, accounts=[account.pk], must_refuse=month in self.closed
        )
        if outcome is not None and outcome.entry is not None:
            self.write_offs.append(outcome.entry.pk)

    @precondition(lambda self: self.write_offs)
    @rule(pick=st.integers(0, 50), month=st.sampled_from(MONTHS), recover=st.booleans())
    def undo_write_off(self, pick, month, recover):
        entry = JournalEntry.objects.get(pk=self.write_offs[pick % len(self.write_offs)])
        account_id = entry.account_id
        key, at, on = self._key(), self._at(), self._effective(month, 28)

        def call():
            if recover:
                return operations.record_recovery(
                    account=Account(pk=account_id),
                    amount_cents=1_00,
                    effective_date=on,
                    actor=self.staff["system"],
                    at=at,
                    idempotency_key=key,
                )
            return operations.reverse_write_off(
                entry=entry,
                reason="found",
                effective_date=on,
                actor=self.staff["supervisor"],
                at=at,
                idempotency_key=key,
            )

        self._attempt(call, key=key, accounts=[account_id], must_refuse=month in self.closed)

    @precondition(lambda self: self.pending)
    @rule(
        pick=st.integers(0, 50),
        checker=st.sampled_from(["csr", "lead", "supervisor"]),
        approve=st.booleans(),
    )
    def decide(self, pick, checker, approve):
        request = FinancialRequest.objects.get(pk=self.pending[pick % len(self.pending)])
        user, at = self.staff[checker], self._at()
        before = writes()
        try:
            if approve:
                request = operations.approve_request(request=request, actor=user, at=at)
            else:
                request = operations.reject_request(request=request, actor=user, at=at, note="no")
        except ValidationError as exc:
            refusal = exc
        else:
            refusal = None
        if refusal is not None:
            assert refusal.message_dict
            assert writes() == before
            return
        assert user.pk != request.maker_id, "a maker decided their own request"
        self.pending.remove(request.pk)
        if approve:
            self.entries += 1
            entry = request.journal_entry
            for pk, cents in ar_deltas(entry).items():
                self.balances[pk] += cents
            if entry.kind == "write_off":
                self.write_offs.append(entry.pk)
        assert WorkItem.objects.get(pk=request.work_item_id).is_closed

    @precondition(lambda self: self.calls)
    @rule(pick=st.integers(0, 50))
    def retry(self, pick):
        keys = sorted(self.calls)
        call = self.calls[keys[pick % len(keys)]]
        before = writes()

        outcome = call()

        assert outcome.replayed
        assert writes() == before

    @rule(month=st.sampled_from(MONTHS[:3]))
    def close(self, month):
        at = self._at()
        try:
            ledger.close_period(year=2026, month=month, actor=self.staff["system"], at=at)
        except ValidationError:
            assert month in self.closed
        else:
            self.closed[month] = at

    # --- invariants --------------------------------------------------------------------------
    # Checked after every step with two plain SQL reads (the ORM's cost per query would make
    # 8,000 steps take minutes); ``check_books`` itself runs at the end of every example.

    @invariant()
    def books_balance_and_each_key_posted_once(self):
        with connection.cursor() as cursor:
            cursor.execute(
                TOTALS_SQL.format(lines=ledger_queries.all_lines_sql(self.receivables_id))
            )
            unbalanced, trial_total, entries, bad_requests = cursor.fetchone()
            cursor.execute(AR_SQL)
            ar = dict(cursor.fetchall())
        assert unbalanced == 0, "an entry does not balance"
        assert trial_total == 0, "the trial balance is not zero"
        assert entries == self.entries, "an entry posted more or less than once"
        assert bad_requests == 0, "an approved request without its entry, or the reverse"
        assert None not in ar, "a receivable line without its customer"
        assert {pk: ar.get(pk, 0) for pk in self.balances} == self.balances
        assert set(ar) <= set(self.balances)

    @invariant()
    def nothing_posted_in_a_month_after_it_closed(self):
        if not self.closed:
            return
        late = Q()
        for month, closed_at in self.closed.items():
            late |= Q(
                effective_date__gte=date(2026, month, 1),
                effective_date__lt=date(2026, month + 1, 1),
                posted_at__gt=closed_at,
            )
        assert not JournalEntry.objects.filter(late).exists()


TOTALS_SQL = """
SELECT
  (SELECT COUNT(*) FROM (SELECT entry_id FROM ({lines}) l GROUP BY entry_id
                         HAVING SUM(amount_cents) <> 0) AS unbalanced),
  (SELECT COALESCE(SUM(amount_cents), 0) FROM ({lines}) l),
  (SELECT COUNT(*) FROM ledger_journalentry),
  (SELECT COUNT(*) FROM financials_financialrequest
    WHERE (status = 'approved' AND journal_entry_id IS NULL)
       OR (status <> 'approved' AND journal_entry_id IS NOT NULL))
"""
AR_SQL = """
SELECT account_id, SUM(amount_cents) FROM ledger_receivable GROUP BY account_id
"""


class TestBooksStateful(TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_roles()
        users = get_user_model().objects
        cls.staff = {"system": SystemActor("books-test")}
        for slug, name in [("csr", "casey"), ("lead_csr", "lee"), ("supervisor", "sam")]:
            user = users.create_user(username=name, password=None)
            user.groups.add(role_group(slug))
            cls.staff["lead" if slug == "lead_csr" else slug] = user
        cls.accounts = [make_account() for _ in range(3)]

    def test_random_sequences_keep_the_books(self):
        Books.accounts = list(self.accounts)
        Books.staff = dict(self.staff)
        Books.receivables_id = GLAccount.objects.get(role="receivables").pk
        run_state_machine_as_test(
            Books,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=8,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            ),
        )
