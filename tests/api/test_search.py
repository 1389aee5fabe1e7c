from __future__ import annotations

from tests.factories import make_person, make_served_account


class TestSearch:
    def test_finds_accounts_with_their_service_address_phone_and_meters(self, csr_api):
        account = make_served_account(
            make_person(first_name="Imelda", last_name="Quintero"), meter_serial="MX7700001"
        )

        response = csr_api.get("/api/search?q=quinter")

        body = response.json()
        assert response.status_code == 200
        assert body["count"] == 1
        [hit] = body["items"]
        assert hit["account_number"] == account.number
        assert hit["name"] == "Imelda Quintero"
        assert hit["meter_serials"] == ["MX7700001"]
        assert hit["status"] == account.status
        assert "Lagoon Rd" in hit["service_address"]
        assert hit["phone"]

    def test_finds_an_account_by_meter_serial(self, csr_api):
        account = make_served_account(meter_serial="MX7700002")

        body = csr_api.get("/api/search?q=mx7700002").json()

        assert [hit["account_number"] for hit in body["items"]] == [account.number]

    def test_a_one_character_query_is_422_naming_q(self, csr_api):
        response = csr_api.get("/api/search?q=a")

        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert error["loc"] == ["query", "q"]
        assert "2 characters" in error["msg"]

    def test_a_missing_query_is_422_naming_q(self, csr_api):
        response = csr_api.get("/api/search")

        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "q"]
