import pytest

from ohm.search.queries import search_accounts
from tests.factories import make_person, make_premise, make_served_account


@pytest.mark.django_db
class TestSearchAccounts:
    def test_finds_by_name_address_phone_email_number_and_meter(self):
        person = make_person(first_name="José", last_name="O'Brien", phones=[{"number": "510-555-0199"}], emails=["jobrien@example.org"])
        account = make_served_account(person, premise=make_premise(address_line1="742 North Evergreen Terrace"), meter_serial="AB123456")
        make_served_account(make_person(first_name="Ann", last_name="Other", phones=[{"number": "510-555-0100"}], emails=["ann@example.org"]))

        for query in ["jose obrien", "OBRIEN", "o'brien jo", "742 n evergreen", "742 north evergreen ter",
                      "(510) 555-0199", "555-0199", "0199", "jobrien@example.org", account.number,
                      account.formatted_number, "ab123456", "ab1234"]:
            assert [d.account_id for d in search_accounts(query)] == [account.pk], query

    def test_every_term_must_match(self):
        make_served_account(make_person(first_name="Maria", last_name="Lopez"))

        assert search_accounts("maria zzz") == []

    def test_a_lone_letter_finds_nothing(self):
        make_served_account()

        assert search_accounts("m") == []
