"""File imports: lockbox and BAI2, matching, suspense, reconciliation, idempotency, bad files."""

from __future__ import annotations

from datetime import date

import pytest

from ohm.payments import imports
from ohm.payments.bai2_format import write_bai2
from ohm.payments.lockbox_format import write_lockbox
from ohm.payments.models import ImportRun, Payment
from ohm.payments.scanline import build_scan_line
from ohm.workqueue.models import WorkItem
from tests.factories import SYSTEM, make_account, make_person
from tests.payments.conftest import TAKEN_AT, balance, bill, books_clean, gl, writes

DEPOSIT = date(2026, 3, 2)


def lockbox(*batches) -> bytes:
    return write_lockbox(lockbox="0012345", deposit_date=DEPOSIT, batches=list(batches)).encode()


def run_import(content: bytes, *, file_format="lockbox", name="lockbox.txt", **kw):
    return imports.import_payment_file(
        content=content, file_name=name, file_format=file_format, actor=SYSTEM, at=TAKEN_AT, **kw
    )


@pytest.fixture
def accounts(db):
    first, second = make_account(), make_account()
    bill(first, 100_00, key="b1")
    bill(second, 80_00, key="b2")
    return first, second


@pytest.mark.django_db
class TestLockboxImport:
    def test_matches_by_scan_line_and_account_number_and_reconciles(self, accounts):
        first, second = accounts
        content = lockbox(
            [
                {
                    "amount_cents": 100_00,
                    "check_number": "1001",
                    "scan_line": build_scan_line(
                        account_number=first.number, amount_due_cents=100_00
                    ),
                },
                {"amount_cents": 30_00, "check_number": "1002", "account_number": second.number},
            ]
        )

        result = run_import(content)

        run = result.run
        assert run.status == ImportRun.Status.DONE
        assert (run.posted_count, run.posted_cents, run.unapplied_count) == (2, 130_00, 0)
        assert run.reconciled
        assert (balance(first), balance(second)) == (0, 50_00)
        assert gl("cash_lockbox") == 130_00
        assert Payment.objects.filter(import_run=run, channel="lockbox").count() == 2
        assert books_clean()

    def test_an_unknown_account_goes_to_suspense_with_one_work_item(self, accounts):
        content = lockbox(
            [{"amount_cents": 45_00, "account_number": "9999999999", "payer_name": "NOBODY"}]
        )

        run = run_import(content).run

        assert (run.unapplied_count, run.unapplied_cents) == (1, 45_00)
        assert run.reconciled
        assert "No account 9999999999" in run.notes[0]
        assert gl("unapplied_cash") == -45_00
        assert WorkItem.objects.filter(category__code="unapplied_payment").count() == 1

    def test_matches_by_name_and_amount_when_the_stub_is_missing(self, db):
        account = make_account(make_person(first_name="Ada", last_name="Quintero"))
        bill(account, 61_17, key="bq")

        run = run_import(lockbox([{"amount_cents": 61_17, "payer_name": "ADA QUINTERO"}])).run

        assert run.posted_count == 1
        assert balance(account) == 0

    def test_importing_the_same_file_again_posts_nothing(self, accounts):
        content = lockbox([{"amount_cents": 10_00, "account_number": accounts[0].number}])
        run_import(content)
        before = writes()

        again = run_import(content, name="renamed.txt")

        assert again.replayed
        assert writes() == before

    def test_the_same_bank_item_in_a_new_file_is_a_duplicate_not_a_second_payment(self, accounts):
        items = [{"amount_cents": 10_00, "account_number": accounts[0].number}]
        run_import(lockbox(items))
        resent = lockbox(items).replace(b"\n", b"\r\n")  # another file: other bytes

        run = run_import(resent).run

        assert (run.posted_count, run.duplicate_count) == (0, 1)
        assert run.reconciled
        assert balance(accounts[0]) == 90_00


@pytest.mark.django_db
class TestBai2Import:
    def test_credits_post_with_control_totals_checked(self, accounts):
        first, _second = accounts
        content = write_bai2(
            sender="121000248",
            receiver="UTIL",
            bank_account="555000111",
            as_of="260302",
            items=[
                {
                    "amount_cents": 100_00,
                    "bank_reference": "A1",
                    "customer_reference": first.number,
                    "text": "PAYER ONE",
                },
                {
                    "amount_cents": 5_00,
                    "bank_reference": "A2",
                    "customer_reference": "NOPE",
                    "text": "PAYER TWO",
                },
            ],
        ).encode()

        run = run_import(content, file_format="bai2", name="bank.bai").run

        assert (run.posted_count, run.unapplied_count, run.file_total_cents) == (1, 1, 105_00)
        assert run.reconciled
        assert balance(first) == 0
        assert books_clean()
