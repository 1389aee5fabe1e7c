import pytest
from django.core.exceptions import ValidationError

from ohm.core import identifiers
from ohm.core.checkdigit import is_luhn_valid
from ohm.core.validators import format_phone, normalize_phone, validate_postal_code, validate_state


class TestNormalizePhone:
    @pytest.mark.parametrize(
        "typed", ["(510) 555-0142", "510.555.0142", "+1 510 555 0142", "1-510-555-0142"]
    )
    def test_writes_us_numbers_in_e164(self, typed):
        assert normalize_phone(typed) == "+15105550142"

    @pytest.mark.parametrize("typed", ["555-0142", "hello", "", "(010) 555-0142"])
    def test_refuses_what_is_not_a_phone_number(self, typed):
        with pytest.raises(ValidationError) as caught:
            normalize_phone(typed)

        assert caught.value.code == "invalid_phone"

    def test_shows_us_numbers_the_american_way(self):
        assert format_phone("+15105550142") == "(510) 555-0142"


class TestAddressValidators:
    @pytest.mark.parametrize("zip_code", ["94501", "94501-1234"])
    def test_accepts_zip_and_zip_plus_4(self, zip_code):
        validate_postal_code(zip_code)

    @pytest.mark.parametrize("zip_code", ["9450", "945011", "94501-12", "ABCDE", ""])
    def test_refuses_other_postal_codes(self, zip_code):
        with pytest.raises(ValidationError, match="is not a ZIP code"):
            validate_postal_code(zip_code)

    @pytest.mark.parametrize("state", ["ca", "XX", "California", ""])
    def test_refuses_what_is_not_a_state_code(self, state):
        with pytest.raises(ValidationError, match="is not a US state code"):
            validate_state(state)


@pytest.mark.django_db
class TestAccountNumbers:
    def test_are_ten_digits_consecutive_and_check_digited(self):
        first, second = identifiers.next_account_numbers(2)
        third = identifiers.next_account_numbers()[0]

        assert [len(n) for n in (first, second, third)] == [10, 10, 10]
        assert all(is_luhn_valid(n) for n in (first, second, third))
        assert [int(n[:9]) for n in (first, second, third)] == [
            100_000_000,
            100_000_001,
            100_000_002,
        ]
