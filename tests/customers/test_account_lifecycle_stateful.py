"""Random walks through the account lifecycle, valid and invalid moves mixed."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from ohm.core.models import AuditEvent
from ohm.customers import operations
from ohm.customers.models import Account
from tests.factories import AT, SYSTEM, make_account, make_person

OPENED = date(2026, 3, 1)
STATUSES = ["pending", "active", "final", "closed"]
# The lifecycle as the business states it, written out here rather than read from the code.
MOVES = {
    ("pending", "active"),
    ("pending", "closed"),
    ("active", "final"),
    ("final", "active"),
    ("final", "closed"),
}
ACCOUNTS = 3


class AccountLifecycle(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # Each example runs in its own savepoint and rolls back, so every example starts clean.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.status: dict[int, str] = {}
        self.moves: dict[int, int] = {}
        self.ever_closed: set[int] = set()

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    @initialize()
    def open_accounts(self):
        person = make_person()
        for _ in range(ACCOUNTS):
            account = make_account(person)
            self.status[account.pk] = "pending"
            self.moves[account.pk] = 0

    @rule(
        which=st.integers(0, ACCOUNTS - 1),
        to_status=st.sampled_from(STATUSES),
        days_after_opening=st.integers(0, 400),
    )
    def move(self, which, to_status, days_after_opening):
        pk = sorted(self.status)[which]
        from_status = self.status[pk]

        def attempt():
            return operations.change_account_status(
                account=Account(pk=pk),
                to_status=to_status,
                effective_date=OPENED + timedelta(days=days_after_opening),
                actor=SYSTEM,
                at=AT,
            )

        if (from_status, to_status) in MOVES:
            assert attempt().status == to_status
            self.status[pk] = to_status
            self.moves[pk] += 1
            if to_status == "closed":
                self.ever_closed.add(pk)
        else:
            with pytest.raises(operations.StatusTransitionNotAllowed) as refused:
                attempt()
            assert "status" in refused.value.message_dict

    @rule(
        which=st.integers(0, ACCOUNTS - 1),
        to_status=st.sampled_from(STATUSES),
        days_before_opening=st.integers(1, 30),
    )
    def move_back_in_time(self, which, to_status, days_before_opening):
        pk = sorted(self.status)[which]

        with pytest.raises(ValidationError):
            operations.change_account_status(
                account=Account(pk=pk),
                to_status=to_status,
                effective_date=OPENED - timedelta(days=days_before_opening),
                actor=SYSTEM,
                at=AT,
            )

    @invariant()
    def statuses_are_what_the_moves_made_them(self):
        stored = dict(Account.objects.filter(pk__in=self.status).values_list("pk", "status"))
        assert stored == self.status
        assert set(stored.values()) <= set(STATUSES)
        assert all(stored[pk] == "closed" for pk in self.ever_closed)

    @invariant()
    def each_successful_move_left_exactly_one_audit_event(self):
        events = dict(
            AuditEvent.objects.filter(
                event="customers.account.status_changed", account_id__in=self.status
            )
            .order_by()
            .values("account_id")
            .annotate(n=Count("id"))
            .values_list("account_id", "n")
        )
        assert {pk: events.get(pk, 0) for pk in self.status} == self.moves


@pytest.mark.django_db
class TestAccountLifecycle:
    def test_random_moves_keep_the_lifecycle_invariants(self):
        run_state_machine_as_test(
            AccountLifecycle,
            settings=settings(
                max_examples=50,
                stateful_step_count=15,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
