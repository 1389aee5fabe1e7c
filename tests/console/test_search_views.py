import pytest

from tests.factories import make_person, make_premise, make_served_account

SEARCH = "/console/search/"


@pytest.fixture
def lopez(db):
    person = make_person(
        first_name="Maria", last_name="Lopez", phones=[{"number": "(510) 555-0142"}]
    )
    return make_served_account(
        person, premise=make_premise(address_line1="1200 Marisol Ave"), meter_serial="AMI0042"
    )


@pytest.mark.django_db
class TestLiveSearch:
    def test_answers_htmx_with_the_result_rows(self, client, csr, lopez):
        client.force_login(csr)

        response = client.get(SEARCH, {"q": "lopez"}, headers={"HX-Request": "true"})

        html = response.content.decode()
        assert response.status_code == 200
        assert "<html" not in html
        assert lopez.formatted_number in html
        assert "Maria Lopez" in html
        assert "1200 Marisol Ave" in html
        assert "(510) 555-0142" in html
        assert "AMI0042" in html
        assert f'href="/console/accounts/{lopez.number}/"' in html

    def test_says_when_nothing_matches(self, client, csr, lopez):
        client.force_login(csr)

        response = client.get(SEARCH, {"q": "zebra"}, headers={"HX-Request": "true"})

        assert "No accounts match" in response.content.decode()


@pytest.mark.django_db
class TestSearchPage:
    def test_lists_matches_on_a_full_page(self, client, csr, lopez):
        make_served_account(
            make_person(first_name="Mario", last_name="Lopez", emails=["mario@example.org"])
        )
        client.force_login(csr)

        response = client.get(SEARCH, {"q": "lopez"})

        html = response.content.decode()
        assert response.status_code == 200
        assert "<html" in html
        assert "Maria Lopez" in html
        assert "Mario Lopez" in html
        assert "2 accounts" in html

    def test_opens_the_account_when_its_number_is_typed(self, client, csr, lopez):
        client.force_login(csr)

        response = client.get(SEARCH, {"q": lopez.formatted_number})

        assert response.status_code == 302
        assert response.url == f"/console/accounts/{lopez.number}/"

    def test_explains_a_failed_check_digit(self, client, csr, lopez):
        body, check = lopez.number[:9], int(lopez.number[9])
        mistyped = f"{body}{(check + 1) % 10}"
        client.force_login(csr)

        response = client.get(SEARCH, {"q": mistyped}, headers={"HX-Request": "true"})

        assert (
            "check digit fails: a digit is mistyped or two are swapped" in response.content.decode()
        )

    def test_says_nothing_about_check_digits_for_words(self, client, csr, lopez):
        client.force_login(csr)

        response = client.get(SEARCH, {"q": "marisol"})

        assert "check digit" not in response.content.decode()

    def test_is_forbidden_without_permission_to_view_accounts(
        self, client, django_user_model, lopez
    ):
        user = django_user_model.objects.create_user(
            username="nobody", password="x-long-password-1"
        )
        client.force_login(user)

        response = client.get(SEARCH, {"q": "lopez"})

        assert response.status_code == 403
