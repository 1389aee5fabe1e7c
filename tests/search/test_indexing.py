from datetime import UTC, date, datetime, timedelta

import pytest

from ohm.agreements import operations as agreement_operations
from ohm.customers import operations as customer_operations
from ohm.metering import operations as metering_operations
from ohm.premises import operations as premise_operations
from ohm.search.indexing import rebuild_index
from ohm.search.models import SearchDocument
from ohm.search.queries import search_accounts
from tests.factories import (
    AT,
    SYSTEM,
    make_account,
    make_meter,
    make_person,
    make_premise,
    make_rate,
    make_served_account,
)

MARCH_10_AT = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)


def found(query):
    return [d.account_id for d in search_accounts(query)]


@pytest.mark.django_db
class TestIndexFollowsWrites:
    def test_a_renamed_person_is_found_by_the_new_name_only(self):
        person = make_person(first_name="Maria", last_name="Lopez")
        account = make_served_account(person)

        customer_operations.update_person(
            person=person, changes={"last_name": "Nguyen"}, actor=SYSTEM, at=AT
        )

        assert found("maria nguyen") == [account.pk]
        assert found("lopez") == []
        assert SearchDocument.objects.get(account=account).display_name == "Maria Nguyen"

    def test_a_new_phone_finds_the_account(self):
        person = make_person()
        account = make_served_account(person)

        customer_operations.add_phone(
            person=person, number="(415) 555-0187", kind="work", actor=SYSTEM, at=AT
        )

        assert found("555-0187") == [account.pk]

    def test_a_new_account_holder_is_found_on_the_account(self):
        account = make_account()

        customer_operations.add_account_person(
            account=account,
            person=make_person(first_name="Ana", last_name="Quispe"),
            role="authorized",
            start_date=date(2026, 3, 1),
            actor=SYSTEM,
            at=AT,
        )

        assert found("quispe") == [account.pk]

    def test_the_old_and_new_customer_at_a_premise_are_both_found_active_first(self):
        premise = make_premise(address_line1="742 Evergreen Terrace")
        old = make_served_account(
            make_person(first_name="Homer", last_name="Simpson"), premise=premise
        )
        agreement = old.service_agreements.get()
        agreement_operations.stop_service(
            agreement=agreement, end_date=date(2026, 3, 10), actor=SYSTEM, at=MARCH_10_AT
        )
        new = make_account(make_person(first_name="Ned", last_name="Flanders"))

        agreement_operations.start_service(
            account=new,
            service_point=agreement.service_point,
            rate_schedule=make_rate(),
            start_date=date(2026, 3, 10),
            actor=SYSTEM,
            at=MARCH_10_AT,
        )

        assert found("742 evergreen ter") == [new.pk, old.pk]
        assert [d.status for d in search_accounts("742 evergreen")] == ["active", "final"]

    def test_a_moved_premise_address_is_found_at_the_new_address(self):
        premise = make_premise(address_line1="31 Harbor Way")
        account = make_served_account(premise=premise)

        premise_operations.update_premise(
            premise=premise, changes={"address_line1": "45 Harbor Way"}, actor=SYSTEM, at=AT
        )

        assert found("45 harbor") == [account.pk]
        assert found("31 harbor") == []

    def test_a_removed_meter_no_longer_finds_the_account_and_its_replacement_does(self):
        account = make_served_account(meter_serial="OLD12345")
        installation = account.service_agreements.get().service_point.meter_installations.get()
        removed_at = AT + timedelta(days=1)
        metering_operations.remove_meter(
            installation=installation,
            removed_at=removed_at,
            actor=SYSTEM,
            at=removed_at,
            reason="exchange",
        )

        metering_operations.install_meter(
            meter=make_meter("NEW12345"),
            service_point=installation.service_point,
            installed_at=removed_at,
            actor=SYSTEM,
            at=removed_at,
        )

        assert found("old12345") == []
        assert found("new12345") == [account.pk]

    def test_rebuilding_gives_the_same_answers(self):
        account = make_served_account(make_person(first_name="Ida", last_name="Wells"))

        rebuild_index()

        assert found("ida wells") == [account.pk]
        assert SearchDocument.objects.count() == 1
