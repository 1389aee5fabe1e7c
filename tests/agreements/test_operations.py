from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError

from ohm.agreements import operations, queries
from ohm.agreements.models import ServiceAgreement
from ohm.core.models import AuditEvent
from ohm.customers import operations as customer_operations
from ohm.customers.models import Account
from ohm.rates.models import RateSchedule
from tests.factories import (
    AT,
    SYSTEM,
    make_account,
    make_rate,
    make_served_account,
    make_service_point,
)

MARCH_1 = date(2026, 3, 1)
MARCH_10_AT = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)  # 11:00 Pacific on March 10


def start(account, point, *, rate=None, on=MARCH_1, at=AT):
    return operations.start_service(
        account=account,
        service_point=point,
        rate_schedule=rate or make_rate(),
        start_date=on,
        actor=SYSTEM,
        at=at,
    )


@pytest.mark.django_db
class TestStartService:
    def test_activates_a_pending_account_and_audits(self):
        account, point = make_account(), make_service_point()

        agreement = start(account, point)

        assert agreement.status == ServiceAgreement.Status.ACTIVE
        assert agreement.number.startswith("SA")
        assert Account.objects.get(pk=account.pk).status == Account.Status.ACTIVE
        event = AuditEvent.objects.get(event="agreements.service.started")
        assert event.account_id == account.pk
        assert event.after == {
            "service_point": point.number,
            "rate": "RES-1",
            "start_date": "2026-03-01",
        }
        assert (
            AuditEvent.objects.get(event="customers.account.status_changed").reason
            == "service started"
        )

    def test_a_start_after_today_is_pending(self):
        agreement = start(make_account(), make_service_point(), on=date(2026, 3, 10))

        assert agreement.status == ServiceAgreement.Status.PENDING_START

    def test_refuses_a_service_point_already_served(self):
        point = make_service_point()
        start(make_account(), point)
        newcomer = make_account()

        with pytest.raises(ValidationError) as caught:
            start(newcomer, point)

        assert "service_point" in caught.value.message_dict
        assert not ServiceAgreement.objects.filter(account=newcomer).exists()
        assert Account.objects.get(pk=newcomer.pk).status == Account.Status.PENDING

    def test_refuses_a_closed_account(self):
        account = make_account()
        customer_operations.change_account_status(
            account=account, to_status="closed", effective_date=MARCH_1, actor=SYSTEM, at=AT
        )

        with pytest.raises(ValidationError) as caught:
            start(account, make_service_point())

        assert set(caught.value.message_dict) == {"account"}
        assert not ServiceAgreement.objects.exists()

    def test_refuses_a_rate_closed_to_new_service(self):
        retired = RateSchedule.objects.create(
            code="OLD-1", name="Old", customer_class="residential", is_active=False
        )

        with pytest.raises(ValidationError) as caught:
            start(make_account(), make_service_point(), rate=retired)

        assert set(caught.value.message_dict) == {"rate_schedule"}
        assert not ServiceAgreement.objects.exists()

    def test_refuses_a_start_before_the_account_opened(self):
        account = make_account(opened=MARCH_1)

        with pytest.raises(ValidationError) as caught:
            start(account, make_service_point(), on=date(2026, 2, 28))

        assert set(caught.value.message_dict) == {"start_date"}
        assert Account.objects.get(pk=account.pk).status == Account.Status.PENDING


@pytest.mark.django_db
class TestStopService:
    def test_stopping_the_last_service_makes_the_account_final(self):
        account = make_served_account()
        agreement = account.service_agreements.get()

        stopped = operations.stop_service(
            agreement=agreement,
            end_date=date(2026, 3, 10),
            actor=SYSTEM,
            at=MARCH_10_AT,
            reason="moving",
        )

        assert stopped.status == ServiceAgreement.Status.STOPPED
        account.refresh_from_db()
        assert (account.status, account.final_date) == (Account.Status.FINAL, date(2026, 3, 10))
        assert AuditEvent.objects.get(event="agreements.service.stopped").after == {
            "end_date": "2026-03-10"
        }

    def test_a_stop_after_today_is_pending(self):
        agreement = make_served_account().service_agreements.get()

        stopped = operations.stop_service(
            agreement=agreement, end_date=date(2026, 3, 20), actor=SYSTEM, at=MARCH_10_AT
        )

        assert stopped.status == ServiceAgreement.Status.PENDING_STOP

    def test_the_account_stays_active_while_other_service_continues(self):
        account = make_served_account()
        second = start(account, make_service_point())

        operations.stop_service(
            agreement=second, end_date=date(2026, 3, 10), actor=SYSTEM, at=MARCH_10_AT
        )

        assert Account.objects.get(pk=account.pk).status == Account.Status.ACTIVE

    def test_refuses_a_stop_before_the_start(self):
        agreement = make_served_account().service_agreements.get()

        with pytest.raises(ValidationError) as caught:
            operations.stop_service(
                agreement=agreement, end_date=MARCH_1, actor=SYSTEM, at=MARCH_10_AT
            )

        assert "end_date" in caught.value.message_dict
        assert (
            ServiceAgreement.objects.get(pk=agreement.pk).status == ServiceAgreement.Status.ACTIVE
        )

    def test_refuses_to_stop_twice(self):
        agreement = make_served_account().service_agreements.get()
        operations.stop_service(
            agreement=agreement, end_date=date(2026, 3, 10), actor=SYSTEM, at=MARCH_10_AT
        )

        with pytest.raises(ValidationError) as caught:
            operations.stop_service(
                agreement=agreement, end_date=date(2026, 3, 9), actor=SYSTEM, at=MARCH_10_AT
            )

        assert "agreement" in caught.value.message_dict

    def test_frees_the_service_point_for_the_next_customer(self):
        old = make_served_account()
        agreement = old.service_agreements.get()
        operations.stop_service(
            agreement=agreement, end_date=date(2026, 3, 10), actor=SYSTEM, at=MARCH_10_AT
        )

        moved_in = start(
            make_account(), agreement.service_point, on=date(2026, 3, 10), at=MARCH_10_AT
        )

        assert moved_in.status == ServiceAgreement.Status.ACTIVE
        assert [
            a.account_id
            for a in queries.list_agreements_at_premise(
                premise_id=agreement.service_point.premise_id
            )
        ] == [moved_in.account_id, old.pk]


@pytest.mark.django_db
class TestCancelPendingStart:
    def test_cancels_a_start_that_has_not_happened(self):
        agreement = start(make_account(), make_service_point(), on=date(2026, 3, 10))

        cancelled = operations.cancel_pending_start(
            agreement=agreement, actor=SYSTEM, at=AT, reason="changed plans"
        )

        assert cancelled.status == ServiceAgreement.Status.CANCELLED
        assert (
            AuditEvent.objects.get(event="agreements.service.cancelled").reason == "changed plans"
        )

    def test_refuses_a_start_that_happened(self):
        agreement = start(make_account(), make_service_point())

        with pytest.raises(ValidationError) as caught:
            operations.cancel_pending_start(
                agreement=agreement, actor=SYSTEM, at=AT, reason="too late"
            )

        assert "agreement" in caught.value.message_dict
        assert (
            ServiceAgreement.objects.get(pk=agreement.pk).status == ServiceAgreement.Status.ACTIVE
        )


@pytest.mark.django_db
class TestApplyDueServiceChanges:
    def test_a_future_start_leaves_the_account_pending_until_the_roll_reaches_it(self):
        account = make_account()
        agreement = start(account, make_service_point(), on=date(2026, 3, 20))
        account.refresh_from_db()
        assert (agreement.status, account.status) == ("pending_start", "pending")

        early = operations.apply_due_service_changes(
            as_of_date=date(2026, 3, 19), actor=SYSTEM, at=AT
        )
        on_time = operations.apply_due_service_changes(
            as_of_date=date(2026, 3, 20), actor=SYSTEM, at=AT
        )

        agreement.refresh_from_db()
        account.refresh_from_db()
        assert early == {"started": 0, "stopped": 0}
        assert on_time == {"started": 1, "stopped": 0}
        assert (agreement.status, account.status) == ("active", "active")
        assert AuditEvent.objects.filter(event="agreements.service.activated").count() == 1

    def test_a_future_stop_keeps_the_account_active_until_it_happens(self):
        account = make_account()
        agreement = start(account, make_service_point())
        operations.stop_service(agreement=agreement, end_date=date(2026, 4, 1), actor=SYSTEM, at=AT)
        account.refresh_from_db()
        assert account.status == "active"

        operations.apply_due_service_changes(as_of_date=date(2026, 4, 1), actor=SYSTEM, at=AT)

        account.refresh_from_db()
        assert (account.status, account.final_date) == ("final", date(2026, 4, 1))

    def test_the_account_goes_final_only_when_its_last_service_stops(self):
        account = make_account()
        first = start(account, make_service_point())
        second = start(account, make_service_point())
        operations.stop_service(agreement=first, end_date=date(2026, 3, 2), actor=SYSTEM, at=AT)
        operations.stop_service(agreement=second, end_date=date(2026, 5, 1), actor=SYSTEM, at=AT)

        operations.apply_due_service_changes(as_of_date=date(2026, 3, 31), actor=SYSTEM, at=AT)
        account.refresh_from_db()
        assert account.status == "active"
        operations.apply_due_service_changes(as_of_date=date(2026, 5, 1), actor=SYSTEM, at=AT)
        account.refresh_from_db()
        assert (account.status, account.final_date) == ("final", date(2026, 5, 1))

    def test_running_the_roll_twice_changes_nothing_more(self):
        account = make_account()
        start(account, make_service_point(), on=date(2026, 3, 20))
        operations.apply_due_service_changes(as_of_date=date(2026, 3, 20), actor=SYSTEM, at=AT)

        again = operations.apply_due_service_changes(
            as_of_date=date(2026, 3, 20), actor=SYSTEM, at=AT
        )

        assert again == {"started": 0, "stopped": 0}


@pytest.mark.django_db
class TestAccountForServicePoint:
    def test_names_the_account_served_in_the_window_and_none_outside_it(self):
        account = make_account()
        point = make_service_point()
        agreement = start(account, point)
        operations.stop_service(
            agreement=agreement, end_date=date(2026, 3, 10), actor=SYSTEM, at=MARCH_10_AT
        )

        during = queries.account_for_service_point(
            point.pk, datetime(2026, 3, 5, 8, tzinfo=UTC), datetime(2026, 3, 6, 8, tzinfo=UTC)
        )
        after = queries.account_for_service_point(
            point.pk, datetime(2026, 3, 12, 8, tzinfo=UTC), datetime(2026, 3, 13, 8, tzinfo=UTC)
        )

        assert (during, after) == (account.pk, None)
