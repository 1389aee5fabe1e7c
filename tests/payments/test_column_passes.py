"""The file import's column passes give what the line-by-line rules give: scan lines and
account numbers checked as numpy columns, lockbox items read a block at a time (an unusual
block read line by line), and items decided column by column."""

from __future__ import annotations

import random
from datetime import date

import pytest

from ohm.core.checkdigit import is_luhn_valid, luhn_digit
from ohm.payments import imports
from ohm.payments.lockbox_format import FileRefused, parse_lockbox, write_lockbox
from ohm.payments.models import Payment
from ohm.payments.scanline import (
    InvalidScanLine,
    build_scan_line,
    parse_scan_line,
    plain_account_numbers,
    scan_line_accounts,
)
from tests.factories import SYSTEM, make_account
from tests.payments.conftest import TAKEN_AT, balance, bill, books_clean


def _one_digit_off(text: str, at: int) -> str:
    return text[:at] + str((int(text[at]) + 1) % 10) + text[at + 1 :]


def _samples(count: int = 2_000) -> tuple[list[str], list[str]]:
    """Scan lines and account numbers, good and spoiled in every way the checks look for."""
    rng = random.Random(7)
    lines, numbers = [], []
    for i in range(count):
        body = str(rng.randrange(10**8, 10**9))
        number = body + str(luhn_digit(body))
        line = build_scan_line(account_number=number, amount_due_cents=rng.randrange(10**6))
        line = line.replace(" ", "")
        kind = i % 8
        if kind == 1:  # a misread digit: the line's check digit fails
            line, number = _one_digit_off(line, 5), _one_digit_off(number, 5)
        elif kind == 2:  # the account's own check digit fails, the line's holds
            body20 = _one_digit_off(line, 9)[:20]
            line = body20 + str(luhn_digit(body20))
        elif kind == 3:
            line, number = line[:3] + "x" + line[4:], number[:3] + "x" + number[4:]
        elif kind == 4:
            line, number = line[:20], number[:9]
        elif kind == 5:
            line, number = "é" * 21, "é" * 10
        elif kind == 6:
            line, number = "", ""
        lines.append(line)
        numbers.append(number)
    return lines, numbers


def _scan_line_account(text: str) -> str:
    if len(text) != 21 or not text.isdigit():
        return ""
    try:
        return parse_scan_line(text).account_number
    except InvalidScanLine:
        return ""


class TestNumpyChecks:
    def test_scan_lines_as_a_column_agree_with_parse_scan_line(self):
        lines, _ = _samples()

        found = scan_line_accounts(lines)

        assert found == [_scan_line_account(line) for line in lines]
        assert sum(1 for number in found if number) == 500  # kinds 0 and 7 of every 8

    def test_account_numbers_as_a_column_agree_with_the_luhn_check(self):
        _, numbers = _samples()

        found = plain_account_numbers(numbers)

        assert found == [
            n if len(n) == 10 and n.isdigit() and is_luhn_valid(n) else "" for n in numbers
        ]

    def test_nothing_to_check(self):
        assert scan_line_accounts([]) == []
        assert plain_account_numbers(["", "12"]) == ["", ""]


def _lockbox_lines(batches) -> list[str]:
    return write_lockbox(lockbox="0012345", deposit_date=date(2026, 3, 2), batches=batches).split(
        "\n"
    )[:-1]


def _fields(parsed) -> list[tuple]:
    return [
        (i.line, i.key, i.amount_cents, i.reference, i.scan_line, i.account_number, i.payer_name)
        for i in parsed.items
    ]


class TestLockboxBlocks:
    @pytest.fixture
    def lines(self):
        batches = [
            [
                {
                    "amount_cents": 1_00 + 7 * i + b,
                    "check_number": f"{b}-{i}",
                    "account_number": "1000000008",
                    "payer_name": f"PAYER  {i}   JR",
                }
                for i in range(40)
            ]
            for b in range(3)
        ]
        return _lockbox_lines(batches)

    def test_an_unusual_amount_is_read_line_by_line_and_the_block_is_the_same(self, lines):
        plain = parse_lockbox(lines)
        odd = list(lines)
        # An amount written flush left ("4.00        "): the same money, but not the layout's
        # own form, so its block is read line by line.
        amount = odd[5][10:22]
        odd[5] = odd[5][:10] + amount.strip().ljust(12) + odd[5][22:]

        parsed = parse_lockbox(odd)

        assert _fields(parsed) == _fields(plain)
        assert parsed.items[0].payer_name == "PAYER 0 JR"
        assert (parsed.file_item_count, parsed.file_total_cents) == (120, plain.file_total_cents)

    def test_an_error_inside_a_block_names_its_line(self, lines):
        odd = list(lines)
        odd[7] = odd[6]  # the same item twice

        with pytest.raises(FileRefused) as refused:
            parse_lockbox(odd)

        assert "line 8: item 0001/00005 appears twice (first on line 7)" in refused.value.errors


@pytest.mark.django_db
class TestDecidedColumnByColumn:
    def test_every_rule_in_one_file(self, db):
        good, closed, cash_only = make_account(), make_account(), make_account()
        closed.status = closed.Status.CLOSED
        closed.save(update_fields=["status"])
        cash_only.cash_only = True
        cash_only.save(update_fields=["cash_only"])
        bill(good, 500_00, key="g")
        line = build_scan_line(account_number=good.number, amount_due_cents=10_00).replace(" ", "")
        misread = _one_digit_off(line, 9)[:20]
        misread += str(luhn_digit(misread))
        content = write_lockbox(
            lockbox="0012345",
            deposit_date=date(2026, 3, 2),
            batches=[
                [
                    {"amount_cents": 10_00, "scan_line": line},
                    {"amount_cents": 11_00, "account_number": good.number},
                    {"amount_cents": 12_00, "scan_line": misread},
                    {"amount_cents": 13_00, "account_number": closed.number},
                    {"amount_cents": 14_00, "account_number": cash_only.number},
                    {"amount_cents": 15_00, "account_number": "12-34"},
                ]
            ],
        ).encode()

        run = imports.import_payment_file(
            content=content, file_name="mixed.txt", file_format="lockbox", actor=SYSTEM, at=TAKEN_AT
        ).run

        assert run.reconciled
        assert (run.posted_count, run.posted_cents) == (2, 21_00)
        assert balance(good) == 500_00 - 21_00
        reasons = dict(
            Payment.objects.filter(import_run=run).values_list("amount_cents", "unapplied_reason")
        )
        assert "fails its check digit: it was misread" in reasons[12_00]
        assert reasons[13_00] == f"Account {closed.number} is closed."
        assert reasons[14_00] == f"Account {cash_only.number} is cash only: a check arrived anyway."
        assert reasons[15_00] == "“12-34” is not an account number."
        stated = dict(
            Payment.objects.filter(import_run=run).values_list("amount_cents", "stated_account")
        )
        assert stated[10_00] == line
        assert books_clean()
