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


def _lines(content: bytes) -> list[str]:
    return content.decode().splitlines()


def _join(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.django_db
class TestHostileFiles:
    """Bad files are refused whole, with line, field and value; nothing is half posted."""

    @pytest.fixture
    def good(self, accounts):
        return lockbox(
            [
                {"amount_cents": 10_00, "account_number": accounts[0].number, "check_number": "1"},
                {"amount_cents": 20_00, "account_number": accounts[1].number, "check_number": "2"},
            ],
            [{"amount_cents": 30_00, "account_number": accounts[0].number, "check_number": "3"}],
        )

    @pytest.mark.parametrize(
        ("spoil", "message"),
        [
            (lambda ls: ls[:-1], "cut short"),
            (lambda ls: ls[:4], "cut short"),
            (
                lambda ls: [
                    ls[0],
                    ls[1],
                    ls[2].replace("       10.00", "      10.005", 1),
                    *ls[3:],
                ],
                "more than two decimals",
            ),
            (
                lambda ls: [
                    ls[0],
                    ls[1],
                    ls[2].replace("       10.00", "       11.00", 1),
                    *ls[3:],
                ],
                "add up to",
            ),
            (lambda ls: [*ls[:3], ls[2], *ls[3:]], "appears twice"),
            (
                lambda ls: [
                    ls[0],
                    ls[1],
                    ls[2].replace("       10.00", "      -10.00", 1),
                    *ls[3:],
                ],
                "not an amount",
            ),
            (lambda ls: [*ls[:-1], ls[-1][:5] + "0000009" + ls[-1][12:]], "items"),
            (lambda ls: ["X" + ls[0][1:], *ls[1:]], "unknown record type"),
            (lambda ls: [ls[1], ls[0], *ls[2:]], "does not start with its header"),
            (lambda ls: [*ls, "5" + "0009"], "after the file trailer"),
        ],
        ids=[
            "no-trailer",
            "truncated",
            "three-decimals",
            "unbalanced-batch",
            "duplicate-item",
            "negative",
            "wrong-file-count",
            "garbage",
            "no-header",
            "after-trailer",
        ],
    )
    def test_refuses_the_whole_file_and_posts_nothing(self, good, spoil, message):
        bad = _join(spoil(_lines(good)))
        before = writes()

        with pytest.raises(imports.ImportRefused) as refused:
            run_import(bad)

        assert message in str(refused.value)
        assert any("line" in e or "cut short" in e for e in refused.value.errors)
        assert writes()[:3] == before[:3]  # payments, entries, lines: nothing posted
        assert ImportRun.objects.get(file_sha256=imports.file_sha256(bad)).status == "refused"

    def test_a_binary_file_is_refused(self, db):
        with pytest.raises(imports.ImportRefused, match="not UTF-8"):
            run_import(b"\xff\xfe\x00garbage")

    def test_bai2_with_a_wrong_control_total_is_refused(self, accounts):
        content = (
            write_bai2(
                sender="1",
                receiver="2",
                bank_account="3",
                as_of="260302",
                items=[
                    {
                        "amount_cents": 10_00,
                        "bank_reference": "X1",
                        "customer_reference": accounts[0].number,
                    }
                ],
            )
            .replace("49,1000,3/", "49,1001,3/")
            .encode()
        )

        with pytest.raises(imports.ImportRefused, match="control totals"):
            run_import(content, file_format="bai2")
        assert balance(accounts[0]) == 100_00

    def test_bai2_amounts_with_a_decimal_point_are_refused(self, accounts):
        content = (
            write_bai2(
                sender="1",
                receiver="2",
                bank_account="3",
                as_of="260302",
                items=[{"amount_cents": 10_00, "bank_reference": "X1"}],
            )
            .replace("16,115,1000,", "16,115,10.005,")
            .encode()
        )

        with pytest.raises(imports.ImportRefused, match="decimal point"):
            run_import(content, file_format="bai2")

    def test_a_refused_file_fixed_and_sent_again_imports(self, good):
        bad = _join(_lines(good)[:-1])
        with pytest.raises(imports.ImportRefused):
            run_import(bad)

        assert run_import(good).run.reconciled


@pytest.mark.django_db
class TestRealBai2Samples:
    """The public sample files in shared/data/bai2: each either imports with its control
    totals checked and reconciles, or is refused with a reason a person can act on."""

    EXPECTED = {
        "ministryofjustice/svb_us_example.bai2": ("imported", 2, 13_959_96),
        "ministryofjustice/account_trailer_amount_blank_example.bai2": ("imported", 0, 0),
        "ministryofjustice/citi_example.bai2": ("refused", "GBP"),
        "ministryofjustice/nwb_example.bai2": ("refused", "GBP"),
        "moov-testdata/sample1.txt": ("refused", "CAD"),
        "moov-testdata/sample2.txt": ("refused", "not valid BAI2"),
        "moov-testdata/sample3.txt": ("refused", "line 19"),
        "moov-testdata/sample4-continuations-newline-delimited.txt": ("refused", "control totals"),
        "moov-testdata/sample5-issue113.txt": ("refused", "line 63"),
        "moov-testdata/errors/sample-parseError.txt": ("refused", "line 1"),
    }

    @pytest.mark.parametrize("name", sorted(EXPECTED))
    def test_sample(self, db, name):
        from tests.shared_data import SHARED

        content = (SHARED / "data" / "bai2" / name).read_bytes()
        expected = self.EXPECTED[name]

        if expected[0] == "imported":
            run = run_import(content, file_format="bai2", name=name).run
            assert run.status == ImportRun.Status.DONE
            assert (run.file_item_count, run.file_total_cents) == expected[1:]
            assert run.reconciled
            assert run.unapplied_count == run.file_item_count  # nobody here is our customer
            assert books_clean()
        else:
            with pytest.raises(imports.ImportRefused, match=expected[1]):
                run_import(content, file_format="bai2", name=name)
            assert not Payment.objects.exists()

    def test_importing_a_sample_twice_posts_once(self, db):
        from tests.shared_data import SHARED

        content = (
            SHARED / "data" / "bai2" / "ministryofjustice" / "svb_us_example.bai2"
        ).read_bytes()
        run_import(content, file_format="bai2")

        again = run_import(content, file_format="bai2")

        assert again.replayed
        assert Payment.objects.count() == 2
        assert [note.split(":")[0] for note in again.run.notes] == ["line 7", "line 16"]
