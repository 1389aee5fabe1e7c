from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from ohm.core.models import AuditEvent
from ohm.customers import operations
from ohm.customers.models import Email, Person, Phone
from tests.factories import SYSTEM, make_person

GOOD = {
    "first_name": "Maria",
    "last_name": "Lopez",
    "address_line1": "1200 Marisol Ave",
    "city": "Port Marisol",
    "state": "CA",
    "postal_code": "94501",
}


@pytest.mark.django_db
class TestCreatePerson:
    def test_writes_the_person_phones_emails_and_audit_event(self, csr, at):
        person = operations.create_person(
            actor=csr,
            at=at,
            **GOOD,
            phones=[
                {"number": "(510) 555-0142", "kind": "mobile"},
                {"number": "510.555.0143", "kind": "home"},
            ],
            emails=["Maria.Lopez@Example.org ", "m@example.org"],
        )

        assert Person.objects.get(pk=person.pk).display_name == "Maria Lopez"
        phones = list(
            Phone.objects.filter(person=person).order_by("id").values_list("number", "is_primary")
        )
        assert phones == [("+15105550142", True), ("+15105550143", False)]
        emails = list(
            Email.objects.filter(person=person).order_by("id").values_list("address", "is_primary")
        )
        assert emails == [("maria.lopez@example.org", True), ("m@example.org", False)]
        event = AuditEvent.objects.get(event="customers.person.created")
        assert event.subject_id == str(person.pk)
        assert event.actor == csr
        assert event.after["last_name"] == "Lopez"

    def test_names_a_business_by_its_name(self, at):
        person = operations.create_person(
            actor=SYSTEM,
            at=at,
            **{**GOOD, "first_name": "", "last_name": ""},
            kind="business",
            business_name="Marisol Bakery",
            tax_id="12-3456789",
        )

        assert str(person) == "Marisol Bakery"

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"phones": [{"number": "555-0142"}]}, "phone"),
            ({"postal_code": "9450"}, "postal_code"),
            ({"state": "XX"}, "state"),
            ({"emails": ["not-an-email"]}, "email"),
            ({"date_of_birth": "2026-03-04"}, "date_of_birth"),
            ({"date_of_birth": "04/02/1950"}, "date_of_birth"),
            ({"last_name": ""}, "last_name"),
            ({"kind": "business", "business_name": " "}, "business_name"),
            (
                {"kind": "business", "business_name": "Marisol Bakery", "tax_id": "12-345678"},
                "tax_id",
            ),
            ({"ssn_last4": "123"}, "ssn_last4"),
        ],
    )
    def test_names_the_bad_field_and_writes_nothing(self, at, overrides, field):
        fields = {
            **GOOD,
            "phones": [{"number": "(510) 555-0142"}],
            "emails": ["m@example.org"],
            **overrides,
        }
        persons, events = Person.objects.count(), AuditEvent.objects.count()

        with pytest.raises(ValidationError) as caught:
            operations.create_person(actor=SYSTEM, at=at, **fields)

        assert field in caught.value.message_dict
        assert Person.objects.count() == persons
        assert Phone.objects.count() == 0
        assert AuditEvent.objects.count() == events

    def test_refuses_a_birth_date_that_is_today_in_the_utilitys_time_zone(self):
        evening_in_california = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)  # March 3, 19:00 Pacific

        with pytest.raises(ValidationError) as caught:
            operations.create_person(
                actor=SYSTEM, at=evening_in_california, **GOOD, date_of_birth="2026-03-03"
            )

        assert "date_of_birth" in caught.value.message_dict

    def test_refuses_unknown_fields(self, at):
        with pytest.raises(TypeError):
            operations.create_person(actor=SYSTEM, at=at, **GOOD, nickname="Mari")


@pytest.mark.django_db
class TestUpdatePerson:
    def test_audits_only_the_changed_fields(self, csr, at):
        person = make_person()

        operations.update_person(
            person=person,
            changes={"last_name": "López", "first_name": "Maria"},
            actor=csr,
            at=at,
            reason="spelling",
        )

        event = AuditEvent.objects.get(event="customers.person.updated")
        assert event.before == {"last_name": "Lopez"}
        assert event.after == {"last_name": "López"}
        assert event.reason == "spelling"
        assert Person.objects.get(pk=person.pk).last_name == "López"

    def test_audits_that_a_sensitive_field_changed_but_never_its_value(self, csr, at):
        person = make_person(ssn_last4="1234", date_of_birth="1950-04-02")

        operations.update_person(
            person=person,
            changes={"ssn_last4": "9876", "date_of_birth": "1950-04-02"},
            actor=csr,
            at=at,
        )

        event = AuditEvent.objects.get(event="customers.person.updated")
        assert event.before == {"ssn_last4": "(hidden)"}
        assert event.after == {"ssn_last4": "(changed)"}
        assert "9876" not in str(event.after) + str(event.before)
        assert Person.objects.get(pk=person.pk).ssn_last4 == "9876"

    def test_records_nothing_when_nothing_changed(self, csr, at):
        person = make_person()

        operations.update_person(person=person, changes={"last_name": "Lopez"}, actor=csr, at=at)

        assert not AuditEvent.objects.filter(event="customers.person.updated").exists()

    def test_stamps_when_identity_was_verified(self, csr, at):
        person = make_person()

        updated = operations.update_person(
            person=person,
            changes={"identity_status": "verified", "identity_method": "driver licence"},
            actor=csr,
            at=at,
        )

        assert updated.identity_verified_at == at

    def test_bad_change_writes_nothing(self, csr, at):
        person = make_person()

        with pytest.raises(ValidationError) as caught:
            operations.update_person(
                person=person, changes={"last_name": "", "postal_code": "ABCDE"}, actor=csr, at=at
            )

        assert set(caught.value.message_dict) >= {"last_name", "postal_code"}
        assert Person.objects.get(pk=person.pk).last_name == "Lopez"
        assert not AuditEvent.objects.filter(event="customers.person.updated").exists()


@pytest.mark.django_db
class TestPhonesAndEmails:
    def test_the_first_phone_added_is_primary(self, csr, at):
        person = make_person(phones=[], emails=[])

        phone = operations.add_phone(
            person=person, number="510 555 0100", kind="home", actor=csr, at=at
        )

        assert phone.is_primary
        assert phone.number == "+15105550100"

    def test_a_new_primary_phone_demotes_the_old_one(self, csr, at):
        person = make_person()

        operations.add_phone(
            person=person, number="510 555 0100", kind="home", is_primary=True, actor=csr, at=at
        )

        assert list(person.phones.filter(is_primary=True).values_list("number", flat=True)) == [
            "+15105550100"
        ]

    def test_removing_an_email_is_audited(self, csr, at):
        person = make_person()
        email = person.emails.get()

        operations.remove_email(email=email, actor=csr, at=at, reason="bounced")

        assert not person.emails.exists()
        assert AuditEvent.objects.get(event="customers.email.removed").before == {
            "address": "maria.lopez@example.org"
        }
