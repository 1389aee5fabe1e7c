"""Whole stories with a moving clock: what a utility's payment office lives through."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ohm.core import clock
from ohm.core.localtime import localdate
from ohm.ledger.queries import check_books
from ohm.payments import cards, drawers, imports, operations
from ohm.payments.adapters.simulator import SimulatedProcessor
from ohm.payments.lockbox_format import write_lockbox
from ohm.payments.models import Payment
from ohm.payments.scanline import build_scan_line
from ohm.workqueue.models import WorkItem
from tests.factories import SYSTEM, make_account, make_person
from tests.payments.conftest import TAKEN_AT, balance, bill, gl


class Clock:
    """The office's clock, moved by the story."""

    def __init__(self, start):
        self.at = start

    def shift(self, **delta):
        self.at += timedelta(**delta)

    @property
    def today(self):
        return localdate(self.at)


@pytest.fixture
def office():
    return Clock(TAKEN_AT)


@pytest.mark.django_db
def test_a_lockbox_item_for_an_unknown_account_waits_in_suspense_until_a_csr_applies_it(
    office, csr
):
    # given two customers billed for March, one paying with a stub, one with no stub at all
    ada = make_account(make_person(first_name="Ada", last_name="Nkemelu"))
    bo = make_account(make_person(first_name="Bo", last_name="Lindqvist"))
    bill(ada, 84_12, key="bill:ada")
    bill(bo, 57_30, key="bill:bo")
    content = write_lockbox(
        lockbox="0000042",
        deposit_date=office.today,
        batches=[
            [
                {
                    "amount_cents": 84_12,
                    "check_number": "311",
                    "scan_line": build_scan_line(account_number=ada.number, amount_due_cents=84_12),
                },
                {
                    "amount_cents": 50_00,
                    "check_number": "1877",
                    "account_number": "1234567890",
                    "payer_name": "B LINDQVIST",
                },
            ]
        ],
    ).encode()
    # when the bank's file is imported in the morning
    run = imports.import_payment_file(
        content=content, file_name="lbx-0302.txt", file_format="lockbox", actor=SYSTEM, at=office.at
    ).run
    # then Ada is paid, Bo's check sits in suspense and the CSR team has one work item
    assert run.reconciled
    assert (balance(ada), balance(bo)) == (0, 57_30)
    item = WorkItem.objects.get(category__code="unapplied_payment")
    assert "1 unapplied" in item.title
    assert gl("unapplied_cash") == -50_00
    # when a CSR finds Bo's account the next day and applies the check
    office.shift(days=1)
    payment = Payment.objects.get(status="unapplied")
    operations.apply_unapplied(
        payment=payment,
        account=bo,
        effective_date=office.today,
        actor=csr,
        at=office.at,
        note="stub lost; name matched, customer confirmed by phone",
    )
    # then suspense is empty, Bo owes the difference, and re-sending the file changes nothing
    assert gl("unapplied_cash") == 0
    assert balance(bo) == 7_30
    again = imports.import_payment_file(
        content=content,
        file_name="lbx-0302-resent.txt",
        file_format="lockbox",
        actor=SYSTEM,
        at=office.at,
    )
    assert again.replayed
    assert balance(bo) == 7_30
    assert check_books().balanced


@pytest.mark.django_db
def test_nsf_checks_bring_fees_and_after_the_second_the_account_is_cash_only(
    office, csr, cashier, settings
):
    settings.OHM_PAYMENTS_CASH_ONLY_AFTER_RETURNS = 2
    account = make_account()
    bill(account, 120_00, key="bill:jan")
    # a check by lockbox in March bounces a week later
    first = operations.post_payment(
        account_id=account.pk,
        amount_cents=120_00,
        tender="check",
        channel="lockbox",
        idempotency_key="lbx:1",
        received_at=office.at,
        effective_date=office.today,
        actor=SYSTEM,
        reference="1001",
    )
    office.shift(days=7)
    operations.reverse_payment(
        payment=first, reason_code="nsf", effective_date=office.today, actor=csr, at=office.at
    )
    assert balance(account) == 120_00 + 25_00
    account.refresh_from_db()
    assert not account.cash_only
    # the customer pays again by check in May; it bounces too
    office.shift(days=60)
    second = operations.post_payment(
        account_id=account.pk,
        amount_cents=145_00,
        tender="check",
        channel="lockbox",
        idempotency_key="lbx:2",
        received_at=office.at,
        effective_date=office.today,
        actor=SYSTEM,
        reference="1002",
    )
    office.shift(days=5)
    operations.reverse_payment(
        payment=second, reason_code="nsf", effective_date=office.today, actor=csr, at=office.at
    )
    # then two fees are owed and the account is cash only
    assert balance(account) == 145_00 + 25_00
    account.refresh_from_db()
    assert account.cash_only
    # so the counter refuses a check, and takes cash
    drawer = drawers.open_drawer(
        cashier=cashier, name="W1", float_cents=0, actor=cashier, at=office.at
    )
    with pytest.raises(operations.CashOnlyAccount):
        operations.post_payment(
            account_id=account.pk,
            amount_cents=170_00,
            tender="check",
            channel="cashier",
            idempotency_key="c1",
            received_at=office.at,
            effective_date=office.today,
            actor=cashier,
            drawer=drawer,
        )
    operations.post_payment(
        account_id=account.pk,
        amount_cents=170_00,
        tender="cash",
        channel="cashier",
        idempotency_key="c2",
        received_at=office.at,
        effective_date=office.today,
        actor=cashier,
        drawer=drawer,
    )
    assert balance(account) == 0
    assert check_books().balanced


@pytest.mark.django_db
def test_a_cashiers_day_balances_to_the_deposit(office, cashier, supervisor):
    accounts = [make_account() for _ in range(3)]
    for i, account in enumerate(accounts):
        bill(account, 100_00, key=f"bill:{i}")
    drawer = drawers.open_drawer(
        cashier=cashier, name="Window 1", float_cents=150_00, actor=cashier, at=office.at
    )

    def take(account, cents, tender, key, reference=""):
        office.shift(minutes=7)
        return operations.post_payment(
            account_id=account.pk,
            amount_cents=cents,
            tender=tender,
            channel="cashier",
            idempotency_key=key,
            received_at=office.at,
            effective_date=office.today,
            actor=cashier,
            drawer=drawer,
            reference=reference,
        )

    take(accounts[0], 100_00, "cash", "k1")
    take(accounts[1], 60_00, "check", "k2", "5521")
    mistake = take(accounts[2], 999_00, "cash", "k3")
    operations.cancel_payment_same_day(
        payment=mistake, reason="keyed 999 for 99", actor=cashier, at=office.at
    )
    take(accounts[2], 99_00, "money_order", "k4", "MO-77")
    office.shift(hours=6)

    closed = drawers.close_drawer(
        drawer=drawer,
        counted_cash_cents=250_00,
        counted_checks_cents=60_00,
        counted_check_count=1,
        counted_money_orders_cents=99_00,
        actor=cashier,
        at=office.at,
    )
    assert closed.over_short_cents == 0
    assert closed.over_short_entry is None
    with pytest.raises(drawers.DrawerAlreadyClosed):
        drawers.close_drawer(
            drawer=drawer,
            counted_cash_cents=1,
            counted_checks_cents=0,
            counted_check_count=0,
            counted_money_orders_cents=0,
            actor=cashier,
            at=office.at,
        )
    with pytest.raises(Exception, match="different person"):
        drawers.sign_off_drawer(drawer=drawer, actor=cashier, at=office.at)
    drawers.sign_off_drawer(drawer=drawer, actor=supervisor, at=office.at)
    deposit = drawers.make_deposit(drawer_ids=[drawer.pk], actor=supervisor, at=office.at)

    assert (deposit.cash_cents, deposit.checks_cents, deposit.money_orders_cents) == (
        100_00,
        60_00,
        99_00,
    )
    assert gl("cash_cashier") == deposit.total_cents
    assert [balance(a) for a in accounts] == [0, 40_00, 1_00]
    assert check_books().balanced


@pytest.mark.django_db
def test_a_card_payment_the_processor_never_answered_is_found_and_posted_by_the_janitor(office):
    account = make_account()
    bill(account, 75_00, key="bill:card")
    processor = SimulatedProcessor(secret="s", at=lambda: office.at)

    payment = cards.take_card_payment(
        account_id=account.pk,
        amount_cents=75_00,
        token="tok_timeout",
        channel="portal",
        idempotency_key="portal:77",
        received_at=office.at,
        effective_date=office.today,
        actor=SYSTEM,
        processor=processor,
    )
    assert payment.status == Payment.Status.UNKNOWN
    # the customer, seeing an error, tries again with the same request: nothing new is charged
    again = cards.take_card_payment(
        account_id=account.pk,
        amount_cents=75_00,
        token="tok_timeout",
        channel="portal",
        idempotency_key="portal:77",
        received_at=office.at,
        effective_date=office.today,
        actor=SYSTEM,
        processor=processor,
    )
    assert again.pk == payment.pk
    # thirty seconds later the janitor waits; two minutes later it asks and posts
    office.shift(seconds=30)
    assert (
        cards.resolve_unsettled(actor=SYSTEM, clock=lambda: office.at, processor=processor).checked
        == 0
    )
    office.shift(minutes=2)
    cards.resolve_unsettled(actor=SYSTEM, clock=lambda: office.at, processor=processor)

    payment.refresh_from_db()
    assert payment.status == Payment.Status.POSTED
    assert balance(account) == 0
    with clock.frozen_at(office.at):
        assert check_books().balanced
