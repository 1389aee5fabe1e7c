from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ohm.core.checkdigit import with_luhn_digit
from ohm.payments.scanline import (
    InvalidScanLine,
    build_scan_line,
    looks_like_scan_line,
    parse_scan_line,
)

account_numbers = st.integers(min_value=100_000_000, max_value=999_999_999).map(
    lambda body: with_luhn_digit(str(body))
)
amounts = st.integers(min_value=0, max_value=9_999_999_999)


class TestScanLine:
    def test_prints_account_amount_and_check_digit(self):
        line = build_scan_line(account_number="1000000008", amount_due_cents=12345)

        assert line == "1000000008 0000012345 7"

    def test_a_credit_prints_as_nothing_due(self):
        line = build_scan_line(account_number="1000000008", amount_due_cents=-500)

        assert parse_scan_line(line).amount_due_cents == 0

    @given(account_numbers, amounts)
    def test_reads_back_what_it_prints(self, number, cents):
        line = build_scan_line(account_number=number, amount_due_cents=cents)

        parsed = parse_scan_line(line)

        assert (parsed.account_number, parsed.amount_due_cents) == (number, cents)
        assert looks_like_scan_line(line)

    @given(account_numbers, amounts, st.integers(min_value=0, max_value=20), st.integers(1, 9))
    def test_any_single_misread_digit_is_caught(self, number, cents, position, delta):
        digits = build_scan_line(account_number=number, amount_due_cents=cents).replace(" ", "")
        wrong = str((int(digits[position]) + delta) % 10)
        misread = digits[:position] + wrong + digits[position + 1 :]

        with pytest.raises(InvalidScanLine):
            parse_scan_line(misread)

    def test_ignores_spaces_dashes_and_ocr_marks(self):
        assert parse_scan_line("<1000000008-0000012345-7>").amount_due_cents == 12345

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("1000000008 0000012345", "20 digits"),
            ("1000000008 00000123X5 7", "digits only"),
            ("1000000008 0000012345 8", "check digit"),
            ("", "21"),
        ],
    )
    def test_refuses_what_is_not_a_scan_line(self, text, message):
        with pytest.raises(InvalidScanLine, match=message):
            parse_scan_line(text)

    def test_refuses_an_account_number_without_its_check_digit(self):
        with pytest.raises(InvalidScanLine, match="account number"):
            build_scan_line(account_number="1000000009", amount_due_cents=1)

    def test_refuses_an_amount_too_wide(self):
        with pytest.raises(InvalidScanLine, match="ten digits"):
            build_scan_line(account_number="1000000008", amount_due_cents=10**10)
