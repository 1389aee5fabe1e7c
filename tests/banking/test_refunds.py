"""Refunds: the guards, maker-checker approval, checks and positive pay, ACH credits."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import achkit
import pytest
from django.core.exceptions import ValidationError

from ohm.banking import ach, nacha, refunds
from ohm.banking.models import Refund, RefundCheck
from ohm.customers import operations as customer_operations
from ohm.ledger.models import JournalEntry
from ohm.payments import operations as payment_operations
from ohm.workqueue.models import WorkItem
from tests.banking.conftest import (
    BUILD_AT,
    DUE,
    balance,
    bill,
    books_clean,
    enrol,
    gl,
    returns_file,
)
from tests.factories import SYSTEM, make_account

AT = datetime(2026, 4, 20, 17, 0, tzinfo=UTC)  # 10:00 Pacific, April 20


def pay(account, cents, *, on: date, key: str, tender="check"):
    return payment_operations.post_payment(
        account_id=account.pk,
        amount_cents=cents,
        tender=tender,
        channel="pay_agent" if tender == "cash" else "lockbox",
        idempotency_key=key,
        received_at=datetime.combine(on, datetime.min.time(), tzinfo=UTC) + timedelta(hours=18),
        effective_date=on,
        actor=SYSTEM,
    )


@pytest.fixture
def in_credit(db):
    """An account billed $100.00 that paid $180.00 by check on March 10: $80.00 in credit."""
    account = make_account()
    bill(account, 100_00, key="bill")
    pay(account, 180_00, on=date(2026, 3, 10), key="lockbox:1")
    return account


@pytest.fixture
def csr(make_staff):
    return make_staff("csr", "casey")


@pytest.fixture
def lead(make_staff):
    return make_staff("lead_csr", "lee")


@pytest.fixture
def supervisor(make_staff):
    return make_staff("supervisor", "sam")


def ask(account, actor, cents=80_00, *, method="check", key="r1", at=AT):
    return refunds.request_refund(
        account=account, amount_cents=cents, reason="overpayment", method=method,
        actor=actor, at=at, idempotency_key=key,
    )  # fmt: skip


class TestGuards:
    def test_no_more_than_the_credit(self, in_credit, supervisor):
        with pytest.raises(ValidationError, match=r"At most \$80.00"):
            ask(in_credit, supervisor, 80_01)

    def test_payments_not_yet_cleared_are_held_back(self, in_credit, supervisor):
        pay(in_credit, 50_00, on=date(2026, 4, 15), key="lockbox:2")

        credit = refunds.available_credit(account=in_credit, as_of=date(2026, 4, 20))

        assert (credit.credit_cents, credit.uncleared_cents, credit.available_cents) == (
            130_00,
            50_00,
            80_00,
        )
        with pytest.raises(ValidationError, match="not yet cleared"):
            ask(in_credit, supervisor, 80_01)

    def test_cash_counts_as_cleared(self, in_credit, supervisor):
        pay(in_credit, 50_00, on=date(2026, 4, 15), key="cash:2", tender="cash")

        assert (
            refunds.available_credit(account=in_credit, as_of=date(2026, 4, 20)).available_cents
            == 130_00
        )

    def test_pending_refunds_are_held_back(self, in_credit, csr):
        ask(in_credit, csr, 60_00)

        with pytest.raises(ValidationError, match="refunds pending"):
            ask(in_credit, csr, 30_00, key="r2")

    def test_a_check_waits_after_an_address_change(self, in_credit, supervisor):
        customer_operations.update_account(
            account=in_credit,
            changes={"address_line1": "9 Elsewhere Rd"},
            actor=SYSTEM,
            at=AT - timedelta(days=3),
        )

        with pytest.raises(ValidationError, match="mailing address changed"):
            ask(in_credit, supervisor)
        # a month later it may go, to the new address of record
        refund = ask(in_credit, supervisor, at=AT + timedelta(days=28))
        assert "9 Elsewhere Rd" in refund.payee_address

    def test_ach_only_to_the_bank_account_that_paid(self, in_credit, supervisor):
        with pytest.raises(ValidationError, match="active autopay"):
            ask(in_credit, supervisor, method="ach")
        enrol(in_credit, at=AT - timedelta(days=40))
        with pytest.raises(ValidationError, match="No payment has come from this bank account"):
            ask(in_credit, supervisor, method="ach")

    def test_ach_waits_after_a_bank_change(self, db, supervisor, make_staff):
        account = _paid_by_autopay(make_staff)
        from ohm.banking import operations as autopay
        from ohm.banking.models import AutopayEnrolment

        autopay.change_bank_details(
            enrolment=AutopayEnrolment.objects.get(account=account), routing_number="011000015",
            account_number="55554444", account_type="savings", actor=SYSTEM, at=AT - timedelta(days=2),
        )  # fmt: skip

        with pytest.raises(ValidationError, match="bank details changed"):
            ask(account, supervisor, 10_00, method="ach")


def _paid_by_autopay(make_staff):
    """An account whose $120.00 autopay debit settled, then was credited $30.00."""
    account = make_account()
    bill(account, 120_00, key="bill")
    enrol(account, at=BUILD_AT - timedelta(days=60))
    ach_file = ach.build_export(
        due_date=DUE, actor=make_staff("billing_analyst", "bea"), at=BUILD_AT
    )
    ach.release_file(ach_file=ach_file, actor=make_staff("supervisor", "sue"), at=BUILD_AT)
    from ohm.financials import operations as financials

    financials.post_adjustment(
        account=account, amount_cents=30_00, direction="credit", reason_code="billing_error",
        effective_date=date(2026, 3, 25), actor=SYSTEM, at=BUILD_AT, idempotency_key="credit",
    )  # fmt: skip
    return account


class TestMakerChecker:
    def test_within_the_limit_is_approved_and_posted_at_once(self, in_credit, supervisor):
        refund = ask(in_credit, supervisor)

        assert refund.status == Refund.Status.APPROVED
        assert balance(in_credit) == 0
        assert gl("refunds_payable") == -80_00
        assert books_clean()

    def test_above_the_limit_waits_for_a_different_person_with_a_higher_limit(
        self, in_credit, csr, lead, supervisor
    ):
        refund = ask(in_credit, csr)

        assert refund.status == Refund.Status.PENDING
        assert refund.work_item.category.code == "refund_approval"
        assert balance(in_credit) == -80_00
        with pytest.raises(ValidationError, match="different person"):
            refunds.approve_refund(refund=refund, actor=csr, at=AT)
        lead_limit_is_250 = refunds.approve_refund(refund=refund, actor=lead, at=AT)
        assert lead_limit_is_250.status == Refund.Status.APPROVED
        assert lead_limit_is_250.checker == lead
        assert WorkItem.objects.get(pk=refund.work_item_id).is_closed
        assert balance(in_credit) == 0

    def test_a_checker_below_the_amount_cannot_approve(self, db, csr, lead):
        account = make_account()
        bill(account, 100_00, key="bill")
        pay(account, 500_00, on=date(2026, 3, 10), key="lockbox:big")
        refund = ask(account, csr, 400_00)

        with pytest.raises(ValidationError, match="above your"):
            refunds.approve_refund(refund=refund, actor=lead, at=AT)

    def test_approval_runs_the_guards_again(self, in_credit, csr, lead):
        refund = ask(in_credit, csr)
        bill(in_credit, 50_00, key="bill2", on=date(2026, 4, 1))

        with pytest.raises(ValidationError, match=r"At most \$30.00"):
            refunds.approve_refund(refund=refund, actor=lead, at=AT)

    def test_reject_and_cancel(self, in_credit, csr, lead):
        refund = ask(in_credit, csr)
        with pytest.raises(ValidationError, match="Say why"):
            refunds.reject_refund(refund=refund, actor=lead, at=AT, note="")
        refunds.reject_refund(
            refund=refund, actor=lead, at=AT, note="customer asked to keep the credit"
        )
        other = ask(in_credit, csr, key="r2")
        with pytest.raises(ValidationError, match="Only the person"):
            refunds.cancel_refund(refund=other, actor=lead, at=AT)
        refunds.cancel_refund(refund=other, actor=csr, at=AT)

        assert {r.status for r in Refund.objects.all()} == {"rejected", "cancelled"}
        assert JournalEntry.objects.filter(kind="refund").count() == 0

    def test_the_same_request_twice_makes_one_refund(self, in_credit, supervisor):
        first = ask(in_credit, supervisor)
        second = ask(in_credit, supervisor)

        assert first.pk == second.pk
        assert second.replayed
        assert Refund.objects.count() == 1


class TestChecks:
    def test_issue_posts_cash_and_fills_the_register_and_positive_pay(self, in_credit, supervisor):
        refund = ask(in_credit, supervisor)

        check = refunds.issue_check(refund=refund, actor=supervisor, at=AT)

        assert check.number == 100001
        assert gl("refunds_payable") == 0
        assert gl("cash_disbursements") == -80_00
        rows = list(
            csv.DictReader(io.StringIO(refunds.positive_pay_csv(issue_date=date(2026, 4, 20))))
        )
        assert rows == [{
            "account_number": "000123456789", "check_number": "100001", "issue_date": "2026-04-20",
            "amount": "80.00", "payee": check.payee_name, "void": "N",
        }]  # fmt: skip
        assert books_clean()

    def test_a_void_check_goes_back_to_refunds_payable_and_into_positive_pay(
        self, in_credit, supervisor
    ):
        check = refunds.issue_check(refund=ask(in_credit, supervisor), actor=supervisor, at=AT)

        refunds.void_check(
            check=check, reason="lost in the mail", actor=supervisor, at=AT + timedelta(days=1)
        )

        assert gl("refunds_payable") == -80_00
        rows = list(
            csv.DictReader(io.StringIO(refunds.positive_pay_csv(issue_date=date(2026, 4, 21))))
        )
        assert [(r["check_number"], r["void"]) for r in rows] == [("100001", "Y")]
        again = refunds.issue_check(
            refund=Refund.objects.get(), actor=supervisor, at=AT + timedelta(days=1)
        )
        assert again.number == 100002
        assert RefundCheck.objects.count() == 2
        assert books_clean()


class TestAchCredits:
    def test_an_ach_refund_goes_in_the_file_and_is_issued_at_release(
        self, db, make_staff, supervisor
    ):
        account = _paid_by_autopay(make_staff)
        refund = ask(account, supervisor, 30_00, method="ach")
        maker, checker = make_staff("billing_analyst", "bo"), make_staff("supervisor", "sal")

        ach_file = ach.build_export(due_date=date(2026, 4, 21), actor=maker, at=AT)
        ach.release_file(ach_file=ach_file, actor=checker, at=AT)

        parsed = nacha.parse(ach_file.content)
        assert [(e.transaction_code, e.amount_cents) for e in parsed.entries] == [(22, 30_00)]
        assert parsed.batches[0].service_class == 220
        assert achkit.validate(ach_file.content)["ok"]
        refund.refresh_from_db()
        assert refund.status == Refund.Status.ISSUED
        assert gl("refunds_payable") == 0
        assert books_clean()

    def test_a_returned_ach_refund_goes_back_to_be_reissued_by_check(
        self, db, make_staff, supervisor
    ):
        account = _paid_by_autopay(make_staff)
        refund = ask(account, supervisor, 30_00, method="ach")
        ach_file = ach.build_export(
            due_date=date(2026, 4, 21), actor=make_staff("billing_analyst", "bo"), at=AT
        )
        ach.release_file(ach_file=ach_file, actor=make_staff("supervisor", "sal"), at=AT)

        ach.import_returns(
            data=returns_file([(ach_file.entries.get(), "R03")]),
            file_name="r.ach",
            actor=SYSTEM,
            at=AT + timedelta(days=2),
        )

        refund.refresh_from_db()
        assert (refund.status, refund.method) == (Refund.Status.APPROVED, Refund.Method.CHECK)
        assert gl("refunds_payable") == -30_00
        assert books_clean()


class TestAchRefundGuardAtBuild:
    def test_new_bank_details_after_the_request_keep_the_credit_out_of_the_file(
        self, db, make_staff, supervisor
    ):
        from ohm.banking import operations as autopay
        from ohm.banking.models import AutopayEnrolment

        account = _paid_by_autopay(make_staff)
        ask(account, supervisor, 30_00, method="ach")
        autopay.change_bank_details(
            enrolment=AutopayEnrolment.objects.get(account=account), routing_number="011000015",
            account_number="55554444", account_type="savings", actor=SYSTEM, at=AT + timedelta(hours=1),
        )  # fmt: skip

        plan = ach.plan_export(due_date=date(2026, 4, 21), prenotes=False)

        assert plan.credits == []
        assert any("bank details changed" in why for why in plan.skipped)
