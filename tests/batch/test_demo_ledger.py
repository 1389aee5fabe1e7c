"""The demo utility's financial history: deterministic, balanced, and a realistic spread."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import transaction

from ohm.batch.demo import build_demo_utility
from ohm.batch.demo_ledger import build_demo_financial_history
from ohm.customers.models import Account
from ohm.customers.models import Account as _Account
from ohm.ledger import queries as ledger_queries
from ohm.ledger.models import JournalEntry, Receivable
from tests.journal import lines_of, roles_of

AS_OF = date(2026, 3, 3)


class _Undo(Exception):
    """Rolls a build back so the next starts from the same empty database."""


def _journal() -> list[tuple]:
    numbers = dict(_Account.objects.values_list("pk", "number"))
    return sorted(
        (entry.idempotency_key, code, cents, numbers.get(account_id), entry.effective_date)
        for entry in JournalEntry.objects.all()
        for code, cents, account_id in lines_of(entry)
    ) + sorted(Receivable.objects.values_list("entry__idempotency_key", "position", "due_date"))


def _build_and_undo(seed: int) -> list[tuple]:
    try:
        with transaction.atomic():
            build_demo_utility(accounts=40, seed=1, as_of=AS_OF)
            build_demo_financial_history(as_of=AS_OF, seed=seed)
            journal = _journal()
            raise _Undo
    except _Undo:
        return journal


@pytest.fixture
def demo(db):
    build_demo_utility(accounts=40, seed=1, as_of=AS_OF)
    return build_demo_financial_history(as_of=AS_OF, seed=3)


@pytest.mark.django_db(transaction=False)
class TestBuildDemoFinancialHistory:
    def test_leaves_the_books_balanced(self, demo):
        check = ledger_queries.check_books()

        assert check.balanced
        assert check.ar_control_cents == check.ar_subledger_total_cents == demo.receivable_cents

    def test_gives_every_active_and_final_account_a_year_of_bills(self, demo):
        accounts = Account.objects.filter(status__in=["active", "final"])

        billed = set(
            Receivable.objects.filter(entry__kind="bill").values_list("account_id", flat=True)
        )

        assert demo.accounts == accounts.count()
        assert billed <= set(accounts.values_list("pk", flat=True))
        assert demo.by_kind["bill"] >= demo.accounts * 6
        assert demo.by_kind["payment"] > demo.by_kind["bill"] * 0.7
        assert JournalEntry.objects.filter(effective_date__gt=AS_OF).count() == 0

    def test_spreads_balances_across_current_past_due_and_credit(self, demo):
        agings = [
            ledger_queries.get_aging(account_id=pk, as_of=AS_OF)
            for pk in Account.objects.filter(status__in=["active", "final"]).values_list(
                "pk", flat=True
            )
        ]

        assert any(a.past_due_cents > 0 for a in agings)
        assert any(a.balance_cents < 0 for a in agings)
        assert any(a.balance_cents > 0 and a.past_due_cents == 0 for a in agings)
        assert demo.owing + demo.credit + demo.settled == demo.accounts

    def test_splits_bills_into_energy_customer_charge_and_tax(self, demo):
        entry = JournalEntry.objects.filter(kind="bill").first()

        roles = roles_of(entry)

        assert roles == ["receivables", "revenue_customer_charge", "revenue_energy", "tax_uut"]
        assert entry.idempotency_key.startswith("demo:bill:")

    def test_a_second_run_posts_nothing(self, demo):
        count = JournalEntry.objects.count()

        again = build_demo_financial_history(as_of=AS_OF, seed=3)

        assert again.entries == 0
        assert again.replayed == count
        assert JournalEntry.objects.count() == count

    def test_is_deterministic_by_seed(self, db):
        first = _build_and_undo(5)
        second = _build_and_undo(5)
        other = _build_and_undo(6)

        assert first == second
        assert first != other


@pytest.mark.django_db
class TestDemoAmountsArePlausible:
    def test_the_users_tax_is_seven_and_a_half_percent_of_the_taxed_revenue(self, demo):
        trial = ledger_queries.get_trial_balance()

        taxed_revenue = -(trial["4100"] + trial["4110"])
        tax = -trial["2300"]

        assert tax == pytest.approx(taxed_revenue * 0.075, rel=0.01)

    def test_late_fees_are_small_beside_revenue(self, demo):
        trial = ledger_queries.get_trial_balance()

        assert -trial["4200"] < -trial["4100"] * 0.05
