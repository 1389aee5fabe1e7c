import pytest
from django.core.exceptions import ValidationError

from ohm.core.models import AuditEvent
from ohm.premises import operations
from ohm.premises.addresses import address_key
from ohm.premises.models import Premise, ServicePoint
from tests.factories import AT, SYSTEM, make_premise, make_service_point


class TestAddressKey:
    def test_spelled_out_and_abbreviated_addresses_are_the_same(self):
        assert address_key("123 North Main Street", "Port Marisol") == address_key(
            "123 n. main st", "PORT MARISOL"
        )

    def test_different_streets_differ(self):
        assert address_key("123 Main St", "Port Marisol") != address_key(
            "123 Main Ave", "Port Marisol"
        )


@pytest.mark.django_db
class TestCreatePremise:
    def test_writes_the_premise_with_a_number_and_audit_event(self):
        premise = make_premise(address_line1="123 North Main Street", unit="apt 2")

        assert premise.number.startswith("P")
        assert len(premise.number) == 9
        assert premise.unit == "APT 2"
        assert AuditEvent.objects.get(event="premises.premise.created").subject_id == str(
            premise.pk
        )

    def test_finds_a_duplicate_through_normalization(self):
        first = make_premise(address_line1="123 North Main Street", unit="B")

        with pytest.raises(operations.DuplicatePremise) as caught:
            make_premise(address_line1="123 n main st", unit="b")

        assert caught.value.existing == first
        assert "address_line1" in caught.value.message_dict
        assert Premise.objects.count() == 1

    def test_allows_another_unit_at_the_same_address(self):
        make_premise(address_line1="123 North Main Street", unit="A")

        second = make_premise(address_line1="123 n main st", unit="B")

        assert Premise.objects.filter(address_key=second.address_key).count() == 2

    def test_names_a_bad_zip_code(self):
        with pytest.raises(ValidationError) as caught:
            make_premise(postal_code="ABCDE")

        assert "postal_code" in caught.value.message_dict
        assert not Premise.objects.exists()


@pytest.mark.django_db
class TestUpdatePremise:
    def test_audits_the_changed_fields(self):
        premise = make_premise(address_line1="5 Lagoon Rd")

        operations.update_premise(
            premise=premise, changes={"address_line1": "7 Lagoon Rd"}, actor=SYSTEM, at=AT
        )

        event = AuditEvent.objects.get(event="premises.premise.updated")
        assert (event.before, event.after) == (
            {"address_line1": "5 Lagoon Rd"},
            {"address_line1": "7 Lagoon Rd"},
        )

    def test_refuses_to_become_a_duplicate_of_another_premise(self):
        existing = make_premise(address_line1="9 Lagoon Road", unit="C")
        premise = make_premise(address_line1="5 Lagoon Rd", unit="C")

        with pytest.raises(operations.DuplicatePremise) as caught:
            operations.update_premise(
                premise=premise,
                changes={"address_line1": "9 lagoon rd", "unit": "c"},
                actor=SYSTEM,
                at=AT,
            )

        assert caught.value.existing == existing
        assert Premise.objects.get(pk=premise.pk).address_line1 == "5 Lagoon Rd"


@pytest.mark.django_db
class TestServicePoints:
    def test_refuses_a_route_sequence_already_taken(self):
        premise = make_premise()
        operations.add_service_point(
            premise=premise, route="R07", read_sequence=40, actor=SYSTEM, at=AT
        )

        with pytest.raises(ValidationError) as caught:
            operations.add_service_point(
                premise=premise, route="R07", read_sequence=40, actor=SYSTEM, at=AT
            )

        assert "read_sequence" in caught.value.message_dict
        assert ServicePoint.objects.count() == 1

    def test_allows_the_same_sequence_on_another_route(self):
        premise = make_premise()
        operations.add_service_point(
            premise=premise, route="R07", read_sequence=40, actor=SYSTEM, at=AT
        )

        operations.add_service_point(
            premise=premise, route="R08", read_sequence=40, actor=SYSTEM, at=AT
        )

        assert ServicePoint.objects.count() == 2

    def test_de_energizing_is_audited_with_its_reason(self):
        point = make_service_point()

        operations.set_energized(
            service_point=point, energized=False, actor=SYSTEM, at=AT, reason="unsafe wiring"
        )

        assert not ServicePoint.objects.get(pk=point.pk).energized
        event = AuditEvent.objects.get(event="premises.service_point.deenergized")
        assert (event.before, event.after, event.reason) == (
            {"energized": True},
            {"energized": False},
            "unsafe wiring",
        )

    def test_setting_the_same_state_records_nothing(self):
        point = make_service_point()

        operations.set_energized(
            service_point=point, energized=True, actor=SYSTEM, at=AT, reason="check"
        )

        assert not AuditEvent.objects.filter(
            event__startswith="premises.service_point.energ"
        ).exists()
