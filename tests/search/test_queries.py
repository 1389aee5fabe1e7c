import pytest

from ohm.search.queries import search_accounts
from tests.factories import make_person, make_premise, make_served_account


@pytest.mark.django_db
class TestSearchAccounts:
    def test_finds_by_name_address_phone_email_number_and_meter(self):
        person = make_person(
            first_name="José",
            last_name="O'Brien",
            phones=[{"number": "510-555-0199"}],
            emails=["jobrien@example.org"],
        )
        account = make_served_account(
            person,
            premise=make_premise(address_line1="742 North Evergreen Terrace"),
            meter_serial="AB123456",
        )
        make_served_account(
            make_person(
                first_name="Ann",
                last_name="Other",
                phones=[{"number": "510-555-0100"}],
                emails=["ann@example.org"],
            )
        )

        for query in [
            "jose obrien",
            "OBRIEN",
            "o'brien jo",
            "742 n evergreen",
            "742 north evergreen ter",
            "(510) 555-0199",
            "555-0199",
            "0199",
            "jobrien@example.org",
            account.number,
            account.formatted_number,
            "ab123456",
            "ab1234",
        ]:
            assert [d.account_id for d in search_accounts(query)] == [account.pk], query

    def test_every_term_must_match(self):
        make_served_account(make_person(first_name="Maria", last_name="Lopez"))

        assert search_accounts("maria zzz") == []

    def test_a_lone_letter_finds_nothing(self):
        make_served_account()

        assert search_accounts("m") == []


@pytest.mark.django_db
class TestSearchForgivesPunctuationAndCase:
    @pytest.mark.parametrize(
        "query",
        ["LOPEZ, Maria", "  maria   LOPEZ  ", "lópez", "Lopez.", "Maria Lopez!", "lo ma"],
    )
    def test_finds_the_customer_however_the_name_is_typed(self, query):
        account = make_served_account(make_person(first_name="María", last_name="López"))

        assert [d.account_id for d in search_accounts(query)] == [account.pk]

    def test_finds_a_hyphenated_name_by_either_part_or_both(self):
        account = make_served_account(make_person(first_name="Ana", last_name="Garcia-Marquez"))

        for query in ["garcia", "marquez", "garcia-marquez", "garciamarquez", "GARCIA MARQUEZ"]:
            assert [d.account_id for d in search_accounts(query)] == [account.pk], query


@pytest.mark.django_db
class TestPrefixRange:
    def test_matches_tokens_that_start_with_the_term_and_no_others(self):
        names = ["Aaron", "Abbott", "Abzug", "Acosta", "Ab"]
        accounts = {
            name: make_served_account(make_person(first_name="Kim", last_name=name))
            for name in names
        }

        def last_names(query):
            by_id = {a.pk: name for name, a in accounts.items()}
            return sorted(by_id[d.account_id] for d in search_accounts(query))

        assert last_names("ab") == ["Ab", "Abbott", "Abzug"]
        assert last_names("abz") == ["Abzug"]
        assert last_names("abbott") == ["Abbott"]
        assert last_names("abbotts") == []

    def test_compares_tokens_byte_by_byte_on_postgresql(self):
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip("SQLite compares text byte by byte already")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_name = 'search_searchtoken' AND column_name = 'token'"
            )
            (collation,) = cursor.fetchone()

        assert collation == "C"
