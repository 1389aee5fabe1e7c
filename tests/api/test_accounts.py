from __future__ import annotations

from datetime import date

from ohm.core.checkdigit import with_luhn_digit
from ohm.customers import operations as customer_operations
from tests.factories import AT, SYSTEM, make_account, make_person, make_served_account


class TestGetAccount:
    def test_returns_the_account_with_persons_agreements_and_banners(self, csr_api):
        person = make_person(first_name="Ana", last_name="Reyes")
        account = make_served_account(person, meter_serial="MX9000001", rate_code="RES-TOU")
        customer_operations.add_alert(
            account=account,
            kind="dispute",
            note="Disputes the March bill",
            start_date=date(2026, 3, 1),
            actor=SYSTEM,
            at=AT,
        )

        response = csr_api.get(f"/api/accounts/{account.number}")

        assert response.status_code == 200
        body = response.json()
        assert body["number"] == account.number
        assert body["status"] == account.status
        assert body["bill_cycle"] == 1
        assert body["mailing_address"]["city"] == "Port Marisol"
        assert body["persons"] == [
            {
                "id": person.pk,
                "name": "Ana Reyes",
                "role": "main",
                "role_label": "Main customer",
                "start_date": "2026-03-01",
            }
        ]
        [agreement] = body["agreements"]
        assert agreement["rate_code"] == "RES-TOU"
        assert agreement["premise_address"].endswith("Port Marisol")
        assert agreement["end_date"] is None
        assert {
            "kind": "dispute",
            "label": "Bill dispute",
            "note": "Disputes the March bill",
            "severity": "warning",
        } in body["banners"]
        assert set(body["flags"]) >= {"life_support", "medical_baseline", "do_not_disconnect"}
        assert set(body["preferences"]) >= {"paperless", "language", "notify_by_sms"}

    def test_accepts_punctuation_in_the_number(self, csr_api):
        account = make_account()
        dashed = account.formatted_number

        response = csr_api.get(f"/api/accounts/{dashed}")

        assert response.status_code == 200
        assert response.json()["number"] == account.number

    def test_a_bad_check_digit_is_422_naming_the_number(self, csr_api):
        account = make_account()
        wrong = account.number[:9] + str((int(account.number[9]) + 1) % 10)

        response = csr_api.get(f"/api/accounts/{wrong}")

        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert error["loc"] == ["path", "number"]
        assert "check digit" in error["msg"]
        assert error["type"] == "invalid_check_digit"

    def test_an_unknown_number_is_404(self, csr_api):
        unused = with_luhn_digit("999999999")

        response = csr_api.get(f"/api/accounts/{unused}")

        assert response.status_code == 404
        assert response.json() == {"detail": f"No account {unused}."}

    def test_runs_a_bounded_number_of_queries(self, csr_api, django_assert_max_num_queries):
        account = make_served_account()

        with django_assert_max_num_queries(12):
            response = csr_api.get(f"/api/accounts/{account.number}")

        assert response.status_code == 200


class TestListAccounts:
    def test_pages_through_accounts_in_number_order(self, csr_api):
        accounts = [make_account(cycle=2) for _ in range(3)]

        response = csr_api.get("/api/accounts?limit=2&offset=1")

        body = response.json()
        assert response.status_code == 200
        assert body["count"] == 3
        assert (body["limit"], body["offset"]) == (2, 1)
        assert [a["number"] for a in body["items"]] == sorted(a.number for a in accounts)[1:3]
        assert body["items"][0]["name"] == "Maria Lopez"

    def test_filters_by_status_and_cycle(self, csr_api):
        make_account(cycle=3)
        wanted = make_account(cycle=5)

        response = csr_api.get(f"/api/accounts?status={wanted.status}&cycle=5")

        assert [a["number"] for a in response.json()["items"]] == [wanted.number]

    def test_refuses_a_page_larger_than_200(self, csr_api):
        response = csr_api.get("/api/accounts?limit=201")

        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "limit"]

    def test_refuses_an_unknown_status_naming_it(self, csr_api):
        response = csr_api.get("/api/accounts?status=sleeping")

        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert error["loc"] == ["query", "status"]
        assert "active" in error["msg"]

    def test_refuses_a_cycle_that_does_not_exist(self, csr_api):
        response = csr_api.get("/api/accounts?cycle=21")

        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "cycle"]
