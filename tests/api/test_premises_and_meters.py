from __future__ import annotations

from ohm.metering.models import MeterChannel
from tests.factories import make_meter, make_premise, make_served_account, make_service_point


class TestGetPremise:
    def test_returns_service_points_with_their_installed_meters(self, csr_api):
        premise = make_premise(address_line1="42 Harbor View Dr", unit="Apt 3")
        make_served_account(premise=premise, meter_serial="MX4200001")
        make_service_point(premise)

        response = csr_api.get(f"/api/premises/{premise.number}")

        body = response.json()
        assert response.status_code == 200
        assert body["one_line"] == "42 Harbor View Dr APT 3, Port Marisol"
        assert body["baseline_territory"] == "T"
        metered, bare = body["service_points"]
        assert metered["meter"]["serial"] == "MX4200001"
        assert bare["meter"] is None

    def test_finds_the_premise_whatever_the_case(self, csr_api):
        premise = make_premise()

        response = csr_api.get(f"/api/premises/{premise.number.lower()}")

        assert response.json()["number"] == premise.number

    def test_an_unknown_number_is_404(self, csr_api):
        response = csr_api.get("/api/premises/P99999999")

        assert response.status_code == 404
        assert response.json() == {"detail": "No premise P99999999."}


class TestGetMeter:
    def test_returns_channels_and_the_current_installation(self, csr_api):
        account = make_served_account(meter_serial="MX4200002")
        point = account.service_agreements.get().service_point

        response = csr_api.get("/api/meters/MX4200002")

        body = response.json()
        assert response.status_code == 200
        assert (body["make"], body["kind"], body["status"]) == ("Itron", "ami", "installed")
        assert body["multiplier"] == "1.0000"
        assert (
            len(body["channels"]) == MeterChannel.objects.filter(meter__serial="MX4200002").count()
        )
        assert body["installation"]["service_point"] == point.number
        assert body["installation"]["premise_number"] == point.premise.number

    def test_a_meter_in_inventory_has_no_installation(self, csr_api):
        make_meter("MX4200003")

        body = csr_api.get("/api/meters/MX4200003").json()

        assert body["status"] == "inventory"
        assert body["installation"] is None

    def test_an_unknown_serial_is_404(self, csr_api):
        response = csr_api.get("/api/meters/NOPE123")

        assert response.status_code == 404
        assert response.json() == {"detail": "No meter NOPE123."}
