from __future__ import annotations

from tests.factories import make_account, make_person

SENSITIVE = {"date_of_birth": "1948-05-17", "ssn_last4": "6789", "tax_id": "12-3456789"}


class TestGetPerson:
    def test_returns_phones_in_e164_emails_language_and_identity(self, csr_api):
        person = make_person(
            preferred_language="es",
            phones=[
                {"number": "(510) 555-0142", "kind": "mobile"},
                {"number": "510-555-0199", "kind": "home"},
            ],
            emails=["ana@example.org"],
        )
        account = make_account(person)

        response = csr_api.get(f"/api/persons/{person.pk}")

        body = response.json()
        assert response.status_code == 200
        assert body["name"] == "Maria Lopez"
        assert [p["number"] for p in body["phones"]] == ["+15105550142", "+15105550199"]
        assert body["phones"][0]["is_primary"] is True
        assert body["emails"] == [{"address": "ana@example.org", "is_primary": True}]
        assert body["preferred_language"] == "es"
        assert body["identity_status"] == "unverified"
        assert body["accounts"] == [{"number": account.number, "role": "main"}]

    def test_masks_sensitive_fields_for_a_csr(self, csr_api):
        person = make_person(**SENSITIVE)

        body = csr_api.get(f"/api/persons/{person.pk}").json()

        assert body["sensitive_masked"] is True
        assert body["date_of_birth"] == "••••••••"
        assert body["ssn_last4"] == "••••••••"
        assert body["tax_id"].endswith("6789")
        assert "1948" not in str(body)
        assert "12-345" not in str(body)

    def test_shows_sensitive_fields_to_a_supervisor(self, api_client):
        person = make_person(**SENSITIVE)
        supervisor_api = api_client("supervisor")

        body = supervisor_api.get(f"/api/persons/{person.pk}").json()

        assert body["sensitive_masked"] is False
        assert (body["date_of_birth"], body["ssn_last4"], body["tax_id"]) == (
            "1948-05-17",
            "6789",
            "12-3456789",
        )

    def test_sensitive_fields_not_on_file_are_null(self, csr_api):
        person = make_person()

        body = csr_api.get(f"/api/persons/{person.pk}").json()

        assert (body["date_of_birth"], body["ssn_last4"], body["tax_id"]) == (None, None, None)

    def test_an_unknown_id_is_404(self, csr_api):
        response = csr_api.get("/api/persons/999999")

        assert response.status_code == 404
        assert response.json() == {"detail": "No person 999999."}

    def test_an_id_that_is_not_a_number_is_422(self, csr_api):
        response = csr_api.get("/api/persons/abc")

        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["path", "person_id"]
