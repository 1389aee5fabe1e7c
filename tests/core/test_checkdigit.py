import pytest
from django.core.exceptions import ValidationError
from hypothesis import assume, given
from hypothesis import strategies as st

from ohm.core.checkdigit import is_luhn_valid, luhn_digit, with_luhn_digit
from ohm.core.validators import validate_account_number

nine_digit_bodies = st.text(alphabet="0123456789", min_size=9, max_size=9)


class TestLuhnDigit:
    @pytest.mark.parametrize(
        ("body", "digit"),
        [
            ("7992739871", 3),
            ("0", 0),
            ("1", 8),
            ("100000000", 8),
            ("123456789", 7),
            ("4111111111111111"[:-1], 1),
        ],
    )
    def test_matches_known_vectors(self, body, digit):
        assert luhn_digit(body) == digit

    def test_refuses_anything_but_digits(self):
        with pytest.raises(ValueError):
            luhn_digit("12a4")

    def test_validates_the_number_it_completes(self):
        assert is_luhn_valid("79927398713")
        assert not is_luhn_valid("79927398710")
        assert not is_luhn_valid("7")


class TestLuhnCatchesTypingErrors:
    @given(nine_digit_bodies, st.integers(0, 9), st.integers(1, 9))
    def test_catches_every_single_digit_substitution(self, body, position, shift):
        number = with_luhn_digit(body)
        wrong = str((int(number[position]) + shift) % 10)

        mistyped = number[:position] + wrong + number[position + 1 :]

        assert not is_luhn_valid(mistyped)

    @given(nine_digit_bodies, st.integers(0, 8))
    def test_catches_every_adjacent_swap_but_09_and_90(self, body, position):
        number = with_luhn_digit(body)
        pair = number[position : position + 2]
        assume(pair[0] != pair[1] and pair not in ("09", "90"))

        swapped = number[:position] + pair[::-1] + number[position + 2 :]

        assert not is_luhn_valid(swapped)

    @pytest.mark.parametrize("body", ["090000000", "123409567", "555555509", "123456750"])
    def test_misses_a_swap_of_0_and_9(self, body):
        number = with_luhn_digit(body)
        position = number.index("09")

        swapped = number[:position] + "90" + number[position + 2 :]

        assert is_luhn_valid(number)
        assert is_luhn_valid(swapped)


class TestValidateAccountNumber:
    def test_accepts_a_valid_number_with_punctuation(self):
        number = with_luhn_digit("100000001")

        validate_account_number(f"{number[:4]}-{number[4:9]}-{number[9]}")

    def test_says_how_many_digits_an_account_number_has(self):
        with pytest.raises(ValidationError, match="account numbers have 10 digits") as caught:
            validate_account_number("12345")

        assert caught.value.code == "invalid_account_number"

    def test_says_a_digit_is_mistyped_or_swapped(self):
        number = with_luhn_digit("100000001")
        mistyped = number[:-1] + str((int(number[-1]) + 1) % 10)

        with pytest.raises(
            ValidationError, match="a digit is mistyped or two are swapped"
        ) as caught:
            validate_account_number(mistyped)

        assert caught.value.code == "invalid_check_digit"
