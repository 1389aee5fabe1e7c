"""Each endpoint answers only to users whose role may see that kind of record."""

from __future__ import annotations

import pytest

from ohm.api import tokens
from tests.api.conftest import client_with_token, grant_api_use
from tests.factories import AT, SYSTEM, make_person, make_served_account


@pytest.fixture
def records(db):
    account = make_served_account(make_person(), meter_serial="MX5500001")
    point = account.service_agreements.get().service_point
    person = account.account_persons.get().person
    return {"account": account, "premise": point.premise, "person": person}


@pytest.fixture
def roleless_api(make_staff):
    """A client for a user who may use the API but holds no role."""
    user = make_staff("csr", "norole")
    user.groups.clear()
    grant_api_use(user)
    _, token = tokens.create_token(user=user, name="bare", actor=SYSTEM, at=AT)
    return client_with_token(token)


class TestFieldTechnician:
    def test_can_read_premises_and_meters(self, api_client, records):
        client = api_client("field_technician")

        premise = client.get(f"/api/premises/{records['premise'].number}")
        meter = client.get("/api/meters/MX5500001")

        assert (premise.status_code, meter.status_code) == (200, 200)

    def test_cannot_read_persons(self, api_client, records):
        client = api_client("field_technician")

        response = client.get(f"/api/persons/{records['person'].pk}")

        assert response.status_code == 403
        assert "customers.view_person" in response.json()["detail"]


class TestUserWithNoRole:
    @pytest.mark.parametrize(
        ("path", "permission"),
        [
            ("/api/accounts", "customers.view_account"),
            ("/api/accounts/{account}", "customers.view_account"),
            ("/api/search?q=lopez", "customers.view_account"),
            ("/api/persons/{person}", "customers.view_person"),
            ("/api/premises/{premise}", "premises.view_premise"),
            ("/api/meters/MX5500001", "metering.view_meter"),
        ],
    )
    def test_is_refused_with_the_permission_named(self, roleless_api, records, path, permission):
        url = path.format(
            account=records["account"].number,
            person=records["person"].pk,
            premise=records["premise"].number,
        )

        response = roleless_api.get(url)

        assert response.status_code == 403
        assert permission in response.json()["detail"]
