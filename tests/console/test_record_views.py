"""The console pages that create and change customer, premise and service records."""

from datetime import date

import pytest

from ohm.agreements.models import ServiceAgreement
from ohm.core import clock
from ohm.core.models import AuditEvent
from ohm.customers.models import Account, AccountAlert, AccountPerson, Email, Person, Phone
from ohm.premises.models import Premise, ServicePoint
from tests import factories


@pytest.fixture(autouse=True)
def frozen(at):
    with clock.frozen_at(at):
        yield


def _events(name: str) -> int:
    return AuditEvent.objects.filter(event=name).count()


NEW_CUSTOMER = {
    "kind": "individual",
    "first_name": "Ana",
    "last_name": "Reyes",
    "preferred_language": "es",
    "address_line1": "44 Harbor View Dr",
    "city": "Port Marisol",
    "state": "ca",
    "postal_code": "94501",
    "phone": "(510) 555-0199",
    "phone_kind": "mobile",
    "email": "ana.reyes@example.org",
    "bill_cycle": "7",
    "opened_date": "2026-03-03",
    "notify_by_email": "on",
    "notify_by_mail": "on",
}


@pytest.mark.django_db
class TestNewCustomer:
    def test_creates_the_person_and_the_account_and_shows_the_account(self, client, csr):
        client.force_login(csr)

        response = client.post("/console/customers/new/", NEW_CUSTOMER)

        person = Person.objects.get(last_name="Reyes")
        account = Account.objects.get(account_persons__person=person)
        assert response.status_code == 302
        assert response.url == f"/console/accounts/{account.number}/"
        assert person.state == "CA"
        assert person.phones.get().number == "+15105550199"
        assert (account.bill_cycle, account.language, account.status) == (7, "es", "pending")
        assert _events("customers.person.created") == 1
        assert _events("customers.account.opened") == 1
        assert AuditEvent.objects.get(event="customers.account.opened").actor == csr

    def test_refuses_an_invalid_phone_naming_the_field_and_writes_nothing(self, client, csr):
        client.force_login(csr)

        response = client.post("/console/customers/new/", {**NEW_CUSTOMER, "phone": "555-12"})

        assert response.status_code == 200
        assert "not a valid phone number" in " ".join(response.context["form"].errors["phone"])
        assert b"not a valid phone number" in response.content
        assert Person.objects.count() == 0
        assert Account.objects.count() == 0

    def test_refuses_a_bad_zip_naming_the_field(self, client, csr):
        client.force_login(csr)

        response = client.post("/console/customers/new/", {**NEW_CUSTOMER, "postal_code": "9450"})

        assert "not a ZIP code" in response.context["form"].errors["postal_code"][0]
        assert Person.objects.count() == 0

    def test_refuses_a_date_of_birth_in_the_future(self, client, csr):
        client.force_login(csr)

        response = client.post(
            "/console/customers/new/", {**NEW_CUSTOMER, "date_of_birth": "2030-01-01"}
        )

        assert "not in the past" in response.context["form"].errors["date_of_birth"][0]
        assert Person.objects.count() == 0

    def test_refuses_bill_cycle_21(self, client, csr):
        client.force_login(csr)

        response = client.post("/console/customers/new/", {**NEW_CUSTOMER, "bill_cycle": "21"})

        assert "bill_cycle" in response.context["form"].errors
        assert Person.objects.count() == 0

    def test_opens_a_second_account_for_a_person_on_file(self, client, csr):
        person = factories.make_person()
        factories.make_account(person)
        client.force_login(csr)

        response = client.post(
            "/console/customers/new/",
            {"existing_person": person.pk, "bill_cycle": "3", "opened_date": "2026-03-03"},
        )

        assert response.status_code == 302
        assert Person.objects.count() == 1
        assert Account.objects.filter(account_persons__person=person).count() == 2

    def test_lists_persons_whose_name_starts_with_the_query(self, client, csr):
        factories.make_person(last_name="Okafor")
        client.force_login(csr)

        response = client.get("/console/customers/new/", {"person_q": "oka"})

        assert [p.last_name for p in response.context["persons"]] == ["Okafor"]

    def test_is_forbidden_to_a_field_technician(self, client, make_staff):
        client.force_login(make_staff("field_technician"))

        response = client.post("/console/customers/new/", NEW_CUSTOMER)

        assert response.status_code == 403
        assert Person.objects.count() == 0

    def test_sends_anonymous_visitors_to_sign_in(self, client, db):
        response = client.get("/console/customers/new/")

        assert response.status_code == 302
        assert "/console/login/" in response.url


@pytest.mark.django_db
class TestPersonPages:
    def test_shows_the_persons_accounts_phones_and_emails(self, client, csr):
        account = factories.make_account()
        person = account.account_persons.get().person
        client.force_login(csr)

        response = client.get(f"/console/persons/{person.pk}/")

        assert response.status_code == 200
        assert account.formatted_number.encode() in response.content
        assert b"(510) 555-0142" in response.content
        assert b"maria.lopez@example.org" in response.content

    def test_masks_sensitive_fields_for_a_csr(self, client, csr):
        person = factories.make_person(ssn_last4="6789")
        client.force_login(csr)

        page = client.get(f"/console/persons/{person.pk}/")
        edit = client.get(f"/console/persons/{person.pk}/edit/")

        assert b"6789" not in page.content
        assert "ssn_last4" not in edit.context["form"].fields

    def test_shows_sensitive_fields_to_a_supervisor(self, client, supervisor):
        person = factories.make_person(ssn_last4="6789")
        client.force_login(supervisor)

        page = client.get(f"/console/persons/{person.pk}/")
        edit = client.get(f"/console/persons/{person.pk}/edit/")

        assert b"6789" in page.content
        assert edit.context["form"]["ssn_last4"].value() == "6789"

    def test_edits_the_person_and_records_verification(self, client, csr):
        person = factories.make_person()
        client.force_login(csr)
        data = {
            "kind": "individual",
            "first_name": "Maria",
            "last_name": "Lopez-Garcia",
            "preferred_language": "en",
            "address_line1": "1200 Marisol Ave",
            "city": "Port Marisol",
            "state": "CA",
            "postal_code": "94501",
            "identity_status": "verified",
            "identity_method": "driver licence",
            "reason": "married",
        }

        response = client.post(f"/console/persons/{person.pk}/edit/", data)

        person.refresh_from_db()
        assert response.status_code == 302
        assert person.last_name == "Lopez-Garcia"
        assert person.identity_status == "verified"
        assert person.identity_verified_at is not None
        assert AuditEvent.objects.get(event="customers.person.updated").reason == "married"

    def test_refuses_verified_without_a_method(self, client, csr):
        person = factories.make_person()
        client.force_login(csr)
        data = {
            "kind": "individual",
            "first_name": "Maria",
            "last_name": "Lopez",
            "preferred_language": "en",
            "address_line1": "1200 Marisol Ave",
            "city": "Port Marisol",
            "state": "CA",
            "postal_code": "94501",
            "identity_status": "verified",
            "identity_method": "",
        }

        response = client.post(f"/console/persons/{person.pk}/edit/", data)

        person.refresh_from_db()
        assert "identity_method" in response.context["form"].errors
        assert person.identity_status == "unverified"
        assert _events("customers.person.updated") == 0

    def test_adds_a_phone(self, client, csr):
        person = factories.make_person()
        client.force_login(csr)

        response = client.post(
            f"/console/persons/{person.pk}/phones/new/",
            {"phone-number": "510 555 0177", "phone-kind": "home"},
        )

        assert response.status_code == 302
        assert person.phones.filter(number="+15105550177", kind="home").exists()
        assert _events("customers.phone.added") == 1

    def test_refuses_an_invalid_phone_on_the_person_page(self, client, csr):
        person = factories.make_person()
        client.force_login(csr)

        response = client.post(
            f"/console/persons/{person.pk}/phones/new/",
            {"phone-number": "12", "phone-kind": "home"},
        )

        assert response.status_code == 200
        assert response.context["phone_form"].errors["number"]
        assert person.phones.count() == 1

    def test_removes_an_email(self, client, csr):
        person = factories.make_person()
        email = person.emails.get()
        client.force_login(csr)

        response = client.post(f"/console/persons/{person.pk}/emails/{email.pk}/remove/")

        assert response.status_code == 302
        assert not Email.objects.filter(pk=email.pk).exists()
        assert _events("customers.email.removed") == 1

    def test_adds_an_email_and_refuses_a_malformed_one(self, client, csr):
        person = factories.make_person()
        client.force_login(csr)

        good = client.post(
            f"/console/persons/{person.pk}/emails/new/", {"email-address": "M.Lopez@Example.org"}
        )
        bad = client.post(
            f"/console/persons/{person.pk}/emails/new/", {"email-address": "m.lopez@"}
        )

        assert good.status_code == 302
        assert bad.context["email_form"].errors["address"]
        assert sorted(person.emails.values_list("address", flat=True)) == [
            "m.lopez@example.org",
            "maria.lopez@example.org",
        ]


def _account_data(account: Account, **overrides) -> dict:
    data = {
        "address_line1": account.address_line1,
        "city": account.city,
        "state": account.state,
        "postal_code": account.postal_code,
        "bill_cycle": account.bill_cycle,
        "language": account.language,
        "notify_by_email": "on",
        "notify_by_mail": "on",
        "reason": "customer asked",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.django_db
class TestEditAccount:
    def test_saves_the_flags_and_returns_to_the_account(self, client, csr):
        account = factories.make_account()
        client.force_login(csr)

        response = client.post(
            f"/console/accounts/{account.number}/edit/",
            _account_data(
                account,
                bill_cycle=12,
                do_not_disconnect="on",
                do_not_disconnect_reason="oxygen concentrator",
                do_not_disconnect_until="2026-09-30",
                life_support="on",
            ),
        )

        account.refresh_from_db()
        assert response.status_code == 302
        assert response.url == f"/console/accounts/{account.number}/"
        assert (account.bill_cycle, account.do_not_disconnect, account.life_support) == (
            12,
            True,
            True,
        )
        assert account.do_not_disconnect_until == date(2026, 9, 30)
        assert AuditEvent.objects.get(event="customers.account.updated").reason == "customer asked"

    def test_refuses_do_not_disconnect_without_a_reason(self, client, csr):
        account = factories.make_account()
        client.force_login(csr)

        response = client.post(
            f"/console/accounts/{account.number}/edit/",
            _account_data(account, do_not_disconnect="on", do_not_disconnect_until="2026-09-30"),
        )

        account.refresh_from_db()
        assert response.status_code == 200
        assert "Say why" in response.context["form"].errors["do_not_disconnect_reason"][0]
        assert account.do_not_disconnect is False
        assert _events("customers.account.updated") == 0

    def test_refuses_a_bad_state(self, client, csr):
        account = factories.make_account()
        client.force_login(csr)

        response = client.post(
            f"/console/accounts/{account.number}/edit/", _account_data(account, state="XX")
        )

        assert "not a US state code" in response.context["form"].errors["state"][0]

    def test_is_forbidden_to_a_cashier(self, client, make_staff):
        account = factories.make_account()
        client.force_login(make_staff("cashier"))

        response = client.post(
            f"/console/accounts/{account.number}/edit/", _account_data(account, bill_cycle=12)
        )

        account.refresh_from_db()
        assert response.status_code == 403
        assert account.bill_cycle == 1

    def test_answers_404_for_an_unknown_account(self, client, csr):
        client.force_login(csr)

        response = client.get("/console/accounts/0000000000/edit/")

        assert response.status_code == 404


@pytest.mark.django_db
class TestChangeStatus:
    def test_offers_only_the_allowed_statuses(self, client, csr):
        account = factories.make_account()
        client.force_login(csr)

        response = client.get(f"/console/accounts/{account.number}/status/")

        offered = [value for value, _ in response.context["form"].fields["status"].widget.choices]
        assert sorted(offered) == ["active", "closed"]

    def test_closes_a_pending_account(self, client, csr):
        account = factories.make_account()
        client.force_login(csr)

        response = client.post(
            f"/console/accounts/{account.number}/status/",
            {"status": "closed", "effective_date": "2026-03-03", "reason": "application withdrawn"},
        )

        account.refresh_from_db()
        assert response.status_code == 302
        assert (account.status, account.closed_date) == ("closed", date(2026, 3, 3))
        assert _events("customers.account.status_changed") == 1

    def test_shows_the_operations_message_for_a_disallowed_transition(self, client, csr):
        account = factories.make_account()
        client.force_login(csr)

        response = client.post(
            f"/console/accounts/{account.number}/status/",
            {"status": "final", "effective_date": "2026-03-03", "reason": "moving"},
        )

        account.refresh_from_db()
        assert response.status_code == 200
        assert "cannot go from pending to final" in response.context["form"].errors["status"][0]
        assert account.status == "pending"
        assert _events("customers.account.status_changed") == 0

    def test_refuses_an_effective_date_before_the_account_opened(self, client, csr):
        account = factories.make_account()
        client.force_login(csr)

        response = client.post(
            f"/console/accounts/{account.number}/status/",
            {"status": "closed", "effective_date": "2026-01-01", "reason": "withdrawn"},
        )

        assert "before the account opened" in response.context["form"].errors["effective_date"][0]


@pytest.mark.django_db
class TestAlerts:
    def test_adds_an_alert(self, client, csr):
        account = factories.make_account()
        client.force_login(csr)

        response = client.post(
            f"/console/accounts/{account.number}/alerts/new/",
            {"kind": "safety", "note": "Large dog in the yard", "start_date": "2026-03-03"},
        )

        assert response.status_code == 302
        assert account.alerts.get().note == "Large dog in the yard"
        assert _events("customers.alert.added") == 1

    def test_refuses_an_alert_that_ends_before_it_starts(self, client, csr):
        account = factories.make_account()
        client.force_login(csr)

        response = client.post(
            f"/console/accounts/{account.number}/alerts/new/",
            {"kind": "dispute", "start_date": "2026-03-03", "end_date": "2026-03-01"},
        )

        assert "end after it starts" in response.context["form"].errors["end_date"][0]
        assert AccountAlert.objects.count() == 0

    def test_ends_an_alert_today(self, client, csr, at):
        account = factories.make_account()
        alert = factories.customer_operations.add_alert(
            account=account, kind="dispute", note="", start_date=date(2026, 3, 1), actor=csr, at=at
        )
        client.force_login(csr)

        response = client.post(f"/console/alerts/{alert.pk}/end/", {"reason": "resolved"})

        alert.refresh_from_db()
        assert response.status_code == 302
        assert alert.end_date == date(2026, 3, 3)
        assert _events("customers.alert.ended") == 1


@pytest.mark.django_db
class TestAccountPersons:
    def test_adds_a_person_on_file_as_third_party_contact(self, client, csr):
        account = factories.make_account()
        daughter = factories.make_person(first_name="Lucia", phones=[], emails=[])
        client.force_login(csr)

        response = client.post(
            f"/console/accounts/{account.number}/persons/new/",
            {"person": daughter.pk, "role": "third_party", "start_date": "2026-03-03"},
        )

        assert response.status_code == 302
        assert account.account_persons.filter(person=daughter, role="third_party").exists()
        assert _events("customers.account_person.added") == 1

    def test_shows_the_third_party_notification_hint(self, client, csr):
        account = factories.make_account()
        client.force_login(csr)

        response = client.get(f"/console/accounts/{account.number}/persons/new/")

        assert b"65 or older" in response.content

    def test_creates_a_new_person_inline(self, client, csr):
        account = factories.make_account()
        client.force_login(csr)

        response = client.post(
            f"/console/accounts/{account.number}/persons/new/",
            {
                "role": "authorized",
                "start_date": "2026-03-03",
                "first_name": "Tomas",
                "last_name": "Lopez",
                "phone": "5105550111",
            },
        )

        tomas = Person.objects.get(first_name="Tomas")
        assert response.status_code == 302
        assert tomas.postal_code == account.postal_code
        assert account.account_persons.filter(person=tomas, role="authorized").exists()

    def test_refuses_an_inline_person_with_a_bad_phone_and_writes_nothing(self, client, csr):
        account = factories.make_account()
        client.force_login(csr)

        response = client.post(
            f"/console/accounts/{account.number}/persons/new/",
            {
                "role": "authorized",
                "start_date": "2026-03-03",
                "first_name": "Tomas",
                "last_name": "Lopez",
                "phone": "12",
            },
        )

        assert response.context["form"].errors["phone"]
        assert not Person.objects.filter(first_name="Tomas").exists()

    def test_ends_a_role(self, client, csr, at):
        account = factories.make_account()
        link = factories.customer_operations.add_account_person(
            account=account,
            person=factories.make_person(first_name="Lucia"),
            role="authorized",
            start_date=date(2026, 3, 1),
            actor=csr,
            at=at,
        )
        client.force_login(csr)

        response = client.post(f"/console/account-persons/{link.pk}/end/", {})

        link.refresh_from_db()
        assert response.status_code == 302
        assert link.end_date == date(2026, 3, 3)
        assert _events("customers.account_person.ended") == 1

    def test_refuses_to_end_the_main_customer(self, client, csr):
        account = factories.make_account()
        main = account.account_persons.get(role=AccountPerson.Role.MAIN)
        client.force_login(csr)

        response = client.post(f"/console/account-persons/{main.pk}/end/", {}, follow=True)

        main.refresh_from_db()
        assert main.end_date is None
        assert b"always has a main customer" in response.content


@pytest.mark.django_db
class TestStartAndStopService:
    def test_lists_premises_matching_the_address(self, client, csr):
        account = factories.make_account()
        point = factories.make_service_point(
            factories.make_premise(address_line1="77 North Main Street")
        )
        client.force_login(csr)

        response = client.get(
            f"/console/accounts/{account.number}/service/start/", {"q": "77 n main st"}
        )

        assert response.context["points"] == [point]

    def test_starts_service(self, client, csr):
        account = factories.make_account()
        point = factories.make_service_point()
        rate = factories.make_rate()
        client.force_login(csr)

        response = client.post(
            f"/console/accounts/{account.number}/service/start/",
            {"service_point": point.pk, "rate_schedule": rate.pk, "start_date": "2026-03-03"},
        )

        account.refresh_from_db()
        assert response.status_code == 302
        assert ServiceAgreement.objects.get().service_point == point
        assert account.status == "active"
        assert _events("agreements.service.started") == 1

    def test_refuses_a_service_point_already_served(self, client, csr):
        served = factories.make_served_account()
        point = ServiceAgreement.objects.get(account=served).service_point
        account = factories.make_account(factories.make_person(last_name="Nguyen"))
        client.force_login(csr)

        response = client.post(
            f"/console/accounts/{account.number}/service/start/",
            {
                "service_point": point.pk,
                "rate_schedule": factories.make_rate().pk,
                "start_date": "2026-03-03",
            },
        )

        assert response.status_code == 200
        assert "already served" in response.context["form"].errors["service_point"][0]
        assert ServiceAgreement.objects.count() == 1

    def test_stops_service(self, client, csr):
        account = factories.make_served_account()
        agreement = ServiceAgreement.objects.get(account=account)
        client.force_login(csr)

        response = client.post(
            f"/console/agreements/{agreement.number}/stop/",
            {"end_date": "2026-03-03", "reason": "moving out"},
        )

        agreement.refresh_from_db()
        account.refresh_from_db()
        assert response.status_code == 302
        assert (agreement.status, agreement.end_date) == ("stopped", date(2026, 3, 3))
        assert account.status == "final"
        assert _events("agreements.service.stopped") == 1

    def test_refuses_a_stop_before_the_start(self, client, csr):
        account = factories.make_served_account()
        agreement = ServiceAgreement.objects.get(account=account)
        client.force_login(csr)

        response = client.post(
            f"/console/agreements/{agreement.number}/stop/",
            {"end_date": "2026-02-15", "reason": "moving out"},
        )

        agreement.refresh_from_db()
        assert "must stop after it started" in response.context["form"].errors["end_date"][0]
        assert agreement.status == "active"
        assert _events("agreements.service.stopped") == 0


PREMISE = {
    "address_line1": "9 Seawall Way",
    "city": "Port Marisol",
    "state": "CA",
    "postal_code": "94501",
    "premise_type": "single_family",
    "baseline_territory": "T",
    "heat_source": "electric",
    "route": "R07",
    "read_sequence": "40",
    "meter_location": "left of garage",
}


@pytest.mark.django_db
class TestPremisePages:
    def test_creates_a_premise_with_its_first_service_point(self, client, supervisor):
        client.force_login(supervisor)

        response = client.post("/console/premises/new/", PREMISE)

        premise = Premise.objects.get()
        assert response.status_code == 302
        assert response.url == f"/console/premises/{premise.number}/"
        assert premise.service_points.get().route == "R07"
        assert _events("premises.premise.created") == 1
        assert _events("premises.service_point.added") == 1

    def test_refuses_a_duplicate_address_and_links_the_existing_premise(self, client, supervisor):
        existing = factories.make_premise(address_line1="9 Seawall Way")
        client.force_login(supervisor)

        response = client.post(
            "/console/premises/new/", {**PREMISE, "address_line1": "9 seawall way."}
        )

        assert "already premise" in response.context["form"].errors["address_line1"][0]
        assert f"/console/premises/{existing.number}/".encode() in response.content
        assert Premise.objects.count() == 1

    def test_writes_no_premise_when_the_read_sequence_is_taken(self, client, supervisor):
        factories.make_service_point(route="R07")
        taken = ServicePoint.objects.get().read_sequence
        client.force_login(supervisor)

        response = client.post("/console/premises/new/", {**PREMISE, "read_sequence": str(taken)})

        assert response.context["form"].errors["read_sequence"]
        assert not Premise.objects.filter(address_line1="9 Seawall Way").exists()

    def test_is_forbidden_to_a_csr(self, client, csr):
        client.force_login(csr)

        assert client.post("/console/premises/new/", PREMISE).status_code == 403

    def test_shows_service_points_meters_and_agreements(self, client, csr):
        account = factories.make_served_account(meter_serial="MX7654321")
        agreement = ServiceAgreement.objects.get(account=account)
        premise = agreement.service_point.premise
        client.force_login(csr)

        response = client.get(f"/console/premises/{premise.number}/")

        assert response.status_code == 200
        assert b"MX7654321" in response.content
        assert agreement.number.encode() in response.content
        assert account.formatted_number.encode() in response.content

    def test_shows_a_meter_with_its_installations(self, client, csr):
        account = factories.make_served_account(meter_serial="MX7654321")
        premise = ServiceAgreement.objects.get(account=account).service_point.premise
        client.force_login(csr)

        response = client.get("/console/meters/MX7654321/")

        assert response.status_code == 200
        assert b"Itron" in response.content
        assert str(premise).encode() in response.content
        assert b"No reads or meter events yet" in response.content


@pytest.mark.django_db
class TestPhoneRemoval:
    def test_removes_a_phone(self, client, csr):
        person = factories.make_person()
        phone = person.phones.get()
        client.force_login(csr)

        response = client.post(f"/console/persons/{person.pk}/phones/{phone.pk}/remove/")

        assert response.status_code == 302
        assert not Phone.objects.filter(pk=phone.pk).exists()
        assert _events("customers.phone.removed") == 1
