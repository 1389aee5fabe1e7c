from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ohm.core.money import InvalidAmount, format_cents, parse_amount, to_cents, to_dollars

# Amounts that fit the BigIntegerField columns cents are stored in.
stored_cents = st.integers(min_value=-(2**63), max_value=2**63 - 1)


class TestToCents:
    @pytest.mark.parametrize(
        ("dollars", "cents"),
        [
            ("1.234", 123),
            ("1.235", 124),
            ("1.2349999", 123),
            ("-1.235", -124),
            ("-1.234", -123),
            ("-0.005", -1),
            ("0.005", 1),
            ("0.0049", 0),
            ("12", 1200),
            ("1E+3", 100000),
        ],
    )
    def test_rounds_half_away_from_zero_to_the_cent(self, dollars, cents):
        assert to_cents(Decimal(dollars)) == cents

    def test_rounds_only_once_however_many_decimals(self):
        just_under_half_a_cent = Decimal("0.00" + "4" + "9" * 28)

        assert to_cents(just_under_half_a_cent) == 0
        assert to_cents(Decimal("-0.00" + "4" + "9" * 28)) == 0
        assert to_cents(Decimal("2.67" + "4" + "9" * 27)) == 267

    def test_refuses_a_float(self):
        with pytest.raises(TypeError):
            to_cents(1.1)  # type: ignore[arg-type]

    @given(stored_cents)
    def test_is_the_inverse_of_to_dollars(self, cents):
        assert to_cents(to_dollars(cents)) == cents

    @given(
        st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, places=6),
        st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, places=6),
    )
    def test_is_monotone(self, a, b):
        low, high = sorted([a, b])

        assert to_cents(low) <= to_cents(high)


class TestParseAmount:
    @pytest.mark.parametrize(
        ("text", "cents"),
        [
            ("1,234.50", 123450),
            ("$12", 1200),
            ("-3.5", -350),
            (".75", 75),
            ("  42.01 ", 4201),
            ("-$5.00", -500),
            ("$1,234,567.89", 123456789),
            ("0", 0),
        ],
    )
    def test_reads_what_people_type(self, text, cents):
        assert parse_amount(text) == cents

    @pytest.mark.parametrize(
        "text", ["1.234", "abc", "", "1,23", "12,34.00", ".", "$", "1.2.3", "--5"]
    )
    def test_refuses_what_is_not_dollars_and_cents(self, text):
        with pytest.raises(InvalidAmount, match="is not an amount in dollars and cents"):
            parse_amount(text)

    @given(stored_cents)
    def test_reads_back_what_format_cents_wrote(self, cents):
        assert parse_amount(format_cents(cents)) == cents


class TestFormatCents:
    @pytest.mark.parametrize(
        ("cents", "text"),
        [
            (12345, "$123.45"),
            (-500, "-$5.00"),
            (0, "$0.00"),
            (7, "$0.07"),
            (123456789, "$1,234,567.89"),
        ],
    )
    def test_shows_dollars_with_thousands_separators(self, cents, text):
        assert format_cents(cents) == text

    def test_can_leave_out_the_sign(self):
        assert format_cents(-500, sign=False) == "$5.00"
