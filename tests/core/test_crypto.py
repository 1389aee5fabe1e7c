import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import override_settings

from ohm.core import crypto
from ohm.core.crypto import mask_all, mask_tail
from ohm.customers.models import Person
from tests.factories import make_person


def raw_person_row(person_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ssn_last4, date_of_birth FROM customers_person WHERE id = %s", [person_id]
        )
        return cursor.fetchone()


@pytest.fixture
def fresh_fernet():
    crypto._fernet.cache_clear()
    yield
    crypto._fernet.cache_clear()


@pytest.mark.django_db
class TestEncryptedTextField:
    def test_reads_back_the_plain_value(self):
        person = make_person(ssn_last4="1234", date_of_birth="1950-04-02")

        stored = Person.objects.get(pk=person.pk)

        assert stored.ssn_last4 == "1234"
        assert stored.date_of_birth == "1950-04-02"

    def test_stores_no_plaintext(self):
        person = make_person(ssn_last4="1234", date_of_birth="1950-04-02")

        ssn_column, dob_column = raw_person_row(person.pk)

        assert "1234" not in ssn_column
        assert "1950" not in dob_column
        assert ssn_column != dob_column

    def test_leaves_an_empty_value_empty(self):
        person = make_person()

        assert raw_person_row(person.pk) == ("", "")

    def test_reads_values_written_under_a_rotated_out_key(self, fresh_fernet):
        old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
        with override_settings(FIELD_ENCRYPTION_KEYS=[old_key]):
            person = make_person(ssn_last4="1234")

        with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, old_key]):
            crypto._fernet.cache_clear()
            assert Person.objects.get(pk=person.pk).ssn_last4 == "1234"

    def test_says_which_setting_lacks_the_key(self, fresh_fernet):
        with override_settings(FIELD_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
            person = make_person(ssn_last4="1234")

        with override_settings(FIELD_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
            crypto._fernet.cache_clear()
            with pytest.raises(
                ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS does not hold the key"
            ):
                Person.objects.get(pk=person.pk)

    def test_says_how_to_make_a_key_when_one_is_malformed(self, fresh_fernet):
        with override_settings(FIELD_ENCRYPTION_KEYS=["not-a-key"]):
            with pytest.raises(ImproperlyConfigured, match="32 url-safe base64-encoded bytes"):
                crypto.encrypt("1234")


class TestMasking:
    @pytest.mark.parametrize(
        ("value", "masked"),
        [("123456789", "•••••6789"), ("1950-04-02", "••••••4-02"), ("", ""), (None, "")],
    )
    def test_mask_tail_shows_only_the_last_four(self, value, masked):
        assert mask_tail(value) == masked

    def test_mask_tail_hides_at_least_four_characters(self):
        assert mask_tail("12345") == "••••2345"

    def test_mask_tail_can_show_nothing(self):
        assert mask_tail("123456789", visible=0) == "•••••••••"

    def test_mask_all_hides_the_length_too(self):
        assert mask_all("1950-04-02") == "••••••••"
        assert mask_all("12") == "••••••••"
        assert mask_all("") == ""
