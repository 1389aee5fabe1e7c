"""The rates API: schedules, versions as stored and as URDB, the account's rate comparison."""

from __future__ import annotations

from datetime import date

import pytest

from ohm.core import clock
from ohm.rates import operations, tariff
from tests.rates.support import (
    AT,
    GOOD_URDB,
    SYSTEM,
    approved_version,
    flat_document,
    make_schedule,
    tou_document,
    urdb_record,
)


@pytest.fixture(autouse=True)
def _frozen_clock():
    with clock.frozen_at(AT):
        yield


@pytest.mark.django_db
class TestRatesApi:
    def test_lists_schedules_with_versions(self, csr_api):
        schedule = make_schedule("E-1")
        approved_version(schedule, date(2025, 1, 1))
        approved_version(schedule, date(2026, 7, 1), flat_document("0.25"))

        response = csr_api.get("/api/rates")

        assert response.status_code == 200
        [body] = response.json()
        assert body["code"] == "E-1"
        assert body["version_in_effect"] == 1
        assert [v["number"] for v in body["versions"]] == [2, 1]
        assert [v["in_effect"] for v in body["versions"]] == [False, True]

    def test_a_version_as_stored_and_as_urdb(self, csr_api):
        schedule = make_schedule("GS-2", customer_class="small_commercial")
        record = urdb_record(GOOD_URDB[1])
        operations.import_urdb_version(schedule=schedule, record=record, actor=SYSTEM, at=AT)

        response = csr_api.get("/api/rates/GS-2/versions/1")

        body = response.json()
        assert response.status_code == 200
        assert body["status"] == "draft"
        assert tariff.parse_urdb(body["urdb"]) == tariff.parse_urdb(record)
        assert tariff.tariff_from_document(body["document"]) == tariff.parse_urdb(record)

    def test_unknown_schedule_and_version_are_404(self, csr_api):
        make_schedule("E-1")

        assert csr_api.get("/api/rates/NOPE").status_code == 404
        assert csr_api.get("/api/rates/E-1/versions/9").status_code == 404

    def test_needs_the_rates_permission(self, api_client):
        make_schedule("E-1")

        response = api_client("field_technician").get("/api/rates")

        assert response.status_code == 403
        assert "rates.view_rateschedule" in response.json()["detail"]

    def test_the_account_comparison(self, csr_api):
        from tests.rates.test_comparison import served, store_hourly

        current = make_schedule("RES-1")
        approved_version(current, date(2024, 1, 1), flat_document("0.20", fixed="10.00"))
        tou = make_schedule("RES-TOU", requires_interval_meter=True)
        approved_version(tou, date(2024, 1, 1), tou_document("0.15", "0.30", fixed="10.00"))
        agreement, meter = served(current)
        store_hourly(meter, date(2025, 2, 28), date(2026, 3, 1))

        response = csr_api.get(f"/api/accounts/{agreement.account.number}/rate-comparison")

        assert response.status_code == 200
        [body] = response.json()["agreements"]
        assert body["current_rate"] == "RES-1"
        assert body["months"][10]["month"] == "2026-01"
        rates = {r["code"]: r for r in body["rates"]}
        assert rates["RES-1"]["month_dollars"][10] == "158.80"
        assert rates["RES-TOU"]["month_dollars"][10] == "144.85"
        assert rates["RES-TOU"]["difference_dollars"][10] == "-13.95"
