"""Exactly once: the same request sent one to five times (answers dropped: the caller never
learns what happened and simply sends it again) posts one payment; concurrently too, on
PostgreSQL, from several threads at the same instant."""

from __future__ import annotations

import threading
from datetime import timedelta
from itertools import count

import pytest
from django.db import connection, connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ohm.ledger.models import JournalEntry
from ohm.payments import cards, operations
from ohm.payments.adapters.simulator import SimulatedProcessor
from ohm.payments.models import Payment, SimulatedCardCharge
from tests.factories import SYSTEM, make_account
from tests.payments.conftest import TAKEN_AT, TODAY, balance, bill, books_clean

_keys = count(1)
PROPERTY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
DOORS = [
    ("portal", "card"),
    ("phone_ivr", "ach"),
    ("pay_agent", "cash"),
    ("lockbox", "check"),
    ("collection_agency", "money_order"),
]


@pytest.mark.django_db
class TestSameRequestManyTimes:
    @PROPERTY
    @given(
        sends=st.integers(min_value=1, max_value=5),
        cents=st.integers(min_value=1, max_value=10_000_00),
        door=st.sampled_from(DOORS),
        with_account=st.booleans(),
    )
    def test_posts_one_payment_however_often_it_is_sent(
        self, owing, sends, cents, door, with_account
    ):
        channel, tender = door
        key = f"retry-{next(_keys)}"
        before_balance = balance(owing)
        before_entries = JournalEntry.objects.count()

        answers = [
            operations.post_payment(
                account_id=owing.pk if with_account else None,
                amount_cents=cents,
                tender=tender,
                channel=channel,
                idempotency_key=key,
                received_at=TAKEN_AT,
                effective_date=TODAY,
                actor=SYSTEM,
            ).pk
            for _ in range(sends)
        ]

        assert len(set(answers)) == 1
        assert Payment.objects.filter(idempotency_key=key).count() == 1
        assert JournalEntry.objects.count() == before_entries + 1
        assert balance(owing) == before_balance - (cents if with_account else 0)
        assert books_clean()

    @PROPERTY
    @given(
        sends=st.integers(min_value=1, max_value=5),
        token=st.sampled_from(
            ["tok_visa", "tok_decline", "tok_timeout", "tok_timeout_decline", "tok_capture_timeout"]
        ),
    )
    def test_a_card_is_charged_at_most_once_and_posted_once_it_is_charged(
        self, owing, sends, token
    ):
        processor = SimulatedProcessor(secret="s", at=lambda: TAKEN_AT)
        key = f"card-{next(_keys)}"
        before = balance(owing)

        for _ in range(sends):
            cards.take_card_payment(
                account_id=owing.pk,
                amount_cents=10_00,
                token=token,
                channel="portal",
                idempotency_key=key,
                received_at=TAKEN_AT,
                effective_date=TODAY,
                actor=SYSTEM,
                processor=processor,
            )
        for _ in range(sends):
            cards.resolve_unsettled(
                actor=SYSTEM, clock=lambda: TAKEN_AT + timedelta(minutes=5), processor=processor
            )

        payment = Payment.objects.get(idempotency_key=key)
        charge = SimulatedCardCharge.objects.get(idempotency_key=cards.processor_key(payment))
        charged = charge.status == "captured"
        assert payment.status == (Payment.Status.POSTED if charged else Payment.Status.DECLINED)
        assert balance(owing) == before - (10_00 if charged else 0)


def _in_threads(count_: int, work) -> list:
    barrier = threading.Barrier(count_)
    results: list = [None] * count_

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work()
        except Exception as exc:  # collected and asserted below
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count_)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL (SQLite has one)"
)
class TestConcurrentRequests:
    def test_five_threads_sending_the_same_payment_post_it_once(self):
        account = make_account()
        bill(account, 100_00, key="bill:concurrent")

        results = _in_threads(
            5,
            lambda: (
                operations.post_payment(
                    account_id=account.pk,
                    amount_cents=40_00,
                    tender="card",
                    channel="portal",
                    idempotency_key="same-request",
                    received_at=TAKEN_AT,
                    effective_date=TODAY,
                    actor=SYSTEM,
                ).pk
            ),
        )

        assert not [r for r in results if isinstance(r, Exception)], results
        assert len(set(results)) == 1
        assert Payment.objects.count() == 1
        assert JournalEntry.objects.filter(kind="payment").count() == 1
        assert balance(account) == 60_00
        assert books_clean()

    def test_five_threads_charging_the_same_card_request_charge_it_once(self):
        account = make_account()
        processor = SimulatedProcessor(secret="s", at=lambda: TAKEN_AT)

        results = _in_threads(
            5,
            lambda: (
                cards.take_card_payment(
                    account_id=account.pk,
                    amount_cents=15_00,
                    token="tok_visa",
                    channel="portal",
                    idempotency_key="same-card",
                    received_at=TAKEN_AT,
                    effective_date=TODAY,
                    actor=SYSTEM,
                    processor=processor,
                ).pk
            ),
        )

        assert not [r for r in results if isinstance(r, Exception)], results
        assert len(set(results)) == 1
        assert SimulatedCardCharge.objects.count() == 1
        assert balance(account) == -15_00
