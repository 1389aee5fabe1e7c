from datetime import date, timedelta
from itertools import product

import pytest
from django.core.exceptions import ValidationError

from ohm.core.checkdigit import is_luhn_valid
from ohm.core.models import AuditEvent
from ohm.customers import operations, queries
from ohm.customers.models import Account, AccountPerson, Interaction
from ohm.customers.operations import ALLOWED_TRANSITIONS, StatusTransitionNotAllowed
from tests.factories import AT, SYSTEM, make_account, make_person

OPENED = date(2026, 3, 1)
STATUSES = [s.value for s in Account.Status]
# How to reach each status from pending through allowed moves.
PATH_TO = {"pending": [], "active": ["active"], "final": ["active", "final"], "closed": ["closed"]}


def account_in(status: str) -> Account:
    account = make_account()
    for step in PATH_TO[status]:
        account = operations.change_account_status(
            account=account, to_status=step, effective_date=OPENED, actor=SYSTEM, at=AT
        )
    return account


def status_events(account) -> int:
    return AuditEvent.objects.filter(
        event="customers.account.status_changed", account_id=account.pk
    ).count()


@pytest.mark.django_db
class TestOpenAccount:
    def test_opens_a_pending_account_for_the_main_person(self, csr, at):
        person = make_person()

        account = operations.open_account(
            main_person=person, bill_cycle=7, opened_date=OPENED, actor=csr, at=at
        )

        assert len(account.number) == 10
        assert is_luhn_valid(account.number)
        assert account.status == Account.Status.PENDING
        assert queries.get_main_person(account=account) == person
        assert account.mailing_lines == ["1200 Marisol Ave", "Port Marisol, CA 94501"]
        event = AuditEvent.objects.get(event="customers.account.opened")
        assert event.account_id == account.pk
        assert event.after == {"number": account.number, "main_person": person.pk, "bill_cycle": 7}

    def test_gives_each_account_its_own_number(self):
        numbers = {make_account().number for _ in range(3)}

        assert len(numbers) == 3

    def test_is_found_by_its_formatted_number(self):
        account = make_account()

        assert queries.get_account(number=account.formatted_number) == account

    def test_refuses_bill_cycle_21_and_writes_nothing(self):
        person = make_person()

        with pytest.raises(ValidationError) as caught:
            operations.open_account(
                main_person=person, bill_cycle=21, opened_date=OPENED, actor=SYSTEM, at=AT
            )

        assert "bill_cycle" in caught.value.message_dict
        assert not Account.objects.exists()


@pytest.mark.django_db
class TestChangeAccountStatus:
    @pytest.mark.parametrize(("from_status", "to_status"), list(product(STATUSES, STATUSES)))
    def test_allows_only_the_lifecycle_moves(self, from_status, to_status):
        account = account_in(from_status)
        events = status_events(account)
        allowed = to_status in ALLOWED_TRANSITIONS[from_status]

        if allowed:
            changed = operations.change_account_status(
                account=account,
                to_status=to_status,
                effective_date=date(2026, 3, 10),
                actor=SYSTEM,
                at=AT,
            )
            assert changed.status == to_status
            assert Account.objects.get(pk=account.pk).status == to_status
            assert status_events(account) == events + 1
        else:
            with pytest.raises(StatusTransitionNotAllowed) as caught:
                operations.change_account_status(
                    account=account,
                    to_status=to_status,
                    effective_date=date(2026, 3, 10),
                    actor=SYSTEM,
                    at=AT,
                )
            assert "status" in caught.value.message_dict
            assert Account.objects.get(pk=account.pk).status == from_status
            assert status_events(account) == events

    def test_knows_exactly_these_moves(self):
        allowed = {(a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets}

        assert allowed == {
            ("pending", "active"),
            ("pending", "closed"),
            ("active", "final"),
            ("final", "active"),
            ("final", "closed"),
        }

    def test_records_the_final_and_closed_dates(self):
        account = account_in("active")

        operations.change_account_status(
            account=account, to_status="final", effective_date=date(2026, 4, 1), actor=SYSTEM, at=AT
        )
        closed = operations.change_account_status(
            account=account,
            to_status="closed",
            effective_date=date(2026, 5, 1),
            actor=SYSTEM,
            at=AT,
        )

        assert (closed.final_date, closed.closed_date) == (date(2026, 4, 1), date(2026, 5, 1))

    def test_reinstating_clears_the_final_date(self):
        account = account_in("final")

        reinstated = operations.change_account_status(
            account=account, to_status="active", effective_date=OPENED, actor=SYSTEM, at=AT
        )

        assert reinstated.final_date is None

    def test_refuses_an_effective_date_before_the_account_opened(self):
        account = account_in("pending")

        with pytest.raises(ValidationError) as caught:
            operations.change_account_status(
                account=account,
                to_status="active",
                effective_date=OPENED - timedelta(days=1),
                actor=SYSTEM,
                at=AT,
            )

        assert "effective_date" in caught.value.message_dict
        assert Account.objects.get(pk=account.pk).status == "pending"
        assert status_events(account) == 0


@pytest.mark.django_db
class TestUpdateAccount:
    def test_do_not_disconnect_needs_a_reason(self):
        account = make_account()

        with pytest.raises(ValidationError) as caught:
            operations.update_account(
                account=account, changes={"do_not_disconnect": True}, actor=SYSTEM, at=AT
            )

        assert "do_not_disconnect_reason" in caught.value.message_dict
        assert not Account.objects.get(pk=account.pk).do_not_disconnect

    def test_refuses_bill_cycle_21(self):
        account = make_account()

        with pytest.raises(ValidationError) as caught:
            operations.update_account(
                account=account, changes={"bill_cycle": 21}, actor=SYSTEM, at=AT
            )

        assert "bill_cycle" in caught.value.message_dict
        assert Account.objects.get(pk=account.pk).bill_cycle == 1

    def test_refuses_fields_it_does_not_change(self):
        account = make_account()

        with pytest.raises(TypeError):
            operations.update_account(
                account=account, changes={"status": "closed"}, actor=SYSTEM, at=AT
            )

    def test_clearing_do_not_disconnect_clears_its_reason_and_audits_the_change(self):
        account = make_account()
        operations.update_account(
            account=account,
            changes={
                "do_not_disconnect": True,
                "do_not_disconnect_reason": "medical",
                "do_not_disconnect_until": date(2026, 6, 1),
            },
            actor=SYSTEM,
            at=AT,
        )

        cleared = operations.update_account(
            account=account, changes={"do_not_disconnect": False}, actor=SYSTEM, at=AT
        )

        assert (cleared.do_not_disconnect_reason, cleared.do_not_disconnect_until) == ("", None)
        latest = AuditEvent.objects.filter(event="customers.account.updated").first()
        assert latest.before == {
            "do_not_disconnect": True,
            "do_not_disconnect_reason": "medical",
            "do_not_disconnect_until": "2026-06-01",
        }


@pytest.mark.django_db
class TestAccountPersons:
    def test_a_new_main_customer_replaces_the_old_one(self):
        account = make_account()
        newcomer = make_person(first_name="Ana")

        operations.add_account_person(
            account=account,
            person=newcomer,
            role="main",
            start_date=date(2026, 4, 1),
            actor=SYSTEM,
            at=AT,
        )

        assert queries.get_main_person(account=account) == newcomer
        mains = account.account_persons.filter(role="main").order_by("start_date")
        assert [(link.person.first_name, link.end_date) for link in mains] == [
            ("Maria", date(2026, 4, 1)),
            ("Ana", None),
        ]
        current = queries.list_current_account_persons(account=account, as_of=date(2026, 4, 1))
        assert [link.person for link in current] == [newcomer]

    def test_refuses_a_new_main_customer_starting_before_the_current_one(self):
        account = make_account(opened=OPENED)

        with pytest.raises(ValidationError) as caught:
            operations.add_account_person(
                account=account,
                person=make_person(first_name="Ana"),
                role="main",
                start_date=OPENED,
                actor=SYSTEM,
                at=AT,
            )

        assert "start_date" in caught.value.message_dict
        assert [
            link.person.first_name
            for link in queries.list_current_account_persons(account=account, as_of=OPENED)
        ] == ["Maria"]

    def test_refuses_the_same_person_twice_in_one_role(self):
        account = make_account()
        helper = make_person(first_name="Ana")
        operations.add_account_person(
            account=account,
            person=helper,
            role="authorized",
            start_date=OPENED,
            actor=SYSTEM,
            at=AT,
        )

        with pytest.raises(ValidationError) as caught:
            operations.add_account_person(
                account=account,
                person=helper,
                role="authorized",
                start_date=OPENED,
                actor=SYSTEM,
                at=AT,
            )

        assert "person" in caught.value.message_dict
        assert account.account_persons.filter(role="authorized").count() == 1

    def test_refuses_an_unknown_role(self):
        account = make_account()

        with pytest.raises(ValidationError) as caught:
            operations.add_account_person(
                account=account,
                person=make_person(),
                role="cousin",
                start_date=OPENED,
                actor=SYSTEM,
                at=AT,
            )

        assert "role" in caught.value.message_dict

    def test_never_ends_the_main_customer(self):
        account = make_account()
        main = account.account_persons.get(role="main")

        with pytest.raises(ValidationError) as caught:
            operations.end_account_person(link=main, end_date=date(2026, 4, 1), actor=SYSTEM, at=AT)

        assert "role" in caught.value.message_dict
        assert AccountPerson.objects.get(pk=main.pk).end_date is None

    def test_ends_another_role(self):
        account = make_account()
        link = operations.add_account_person(
            account=account,
            person=make_person(first_name="Ana"),
            role="landlord",
            start_date=OPENED,
            actor=SYSTEM,
            at=AT,
        )

        operations.end_account_person(link=link, end_date=date(2026, 4, 1), actor=SYSTEM, at=AT)

        assert AccountPerson.objects.get(pk=link.pk).end_date == date(2026, 4, 1)


@pytest.mark.django_db
class TestAlertsAndBanners:
    def test_refuses_an_alert_that_ends_before_it_starts(self):
        account = make_account()

        with pytest.raises(ValidationError) as caught:
            operations.add_alert(
                account=account,
                kind="safety",
                note="dog",
                start_date=date(2026, 3, 5),
                end_date=date(2026, 3, 4),
                actor=SYSTEM,
                at=AT,
            )

        assert "end_date" in caught.value.message_dict
        assert not account.alerts.exists()

    def test_refuses_to_end_an_alert_before_it_starts(self):
        account = make_account()
        alert = operations.add_alert(
            account=account,
            kind="safety",
            note="dog",
            start_date=date(2026, 3, 5),
            actor=SYSTEM,
            at=AT,
        )

        with pytest.raises(ValidationError) as caught:
            operations.end_alert(alert=alert, end_date=date(2026, 3, 5), actor=SYSTEM, at=AT)

        assert "end_date" in caught.value.message_dict

    def test_banners_show_flags_and_current_alerts_only(self, today):
        account = make_account(
            life_support=True,
            cash_only=True,
            medical_baseline=True,
            do_not_disconnect=True,
            do_not_disconnect_reason="winter moratorium",
        )
        for kind, start, end in [
            ("safety", date(2026, 3, 1), None),
            ("dispute", date(2026, 3, 1), date(2026, 3, 3)),  # ended yesterday (end is exclusive)
            ("bankruptcy", date(2026, 3, 4), None),  # starts tomorrow
        ]:
            operations.add_alert(
                account=account,
                kind=kind,
                note=kind,
                start_date=start,
                end_date=end,
                actor=SYSTEM,
                at=AT,
            )

        banners = queries.list_banners(account=account, as_of=today)

        assert [b.kind for b in banners] == [
            "life_support",
            "do_not_disconnect",
            "cash_only",
            "medical",
            "safety",
        ]
        assert banners[-1].severity == "danger"

    def test_an_expired_do_not_disconnect_shows_no_banner(self):
        account = make_account(
            do_not_disconnect=True,
            do_not_disconnect_reason="heat wave",
            do_not_disconnect_until=date(2026, 3, 10),
        )

        on_last_day = queries.list_banners(account=account, as_of=date(2026, 3, 10))
        after = queries.list_banners(account=account, as_of=date(2026, 3, 11))

        assert [b.kind for b in on_last_day] == ["do_not_disconnect"]
        assert after == []


@pytest.mark.django_db
class TestLogInteraction:
    def test_logs_the_contact_with_its_reason(self, csr, at):
        account = make_account()

        interaction = operations.log_interaction(
            account=account,
            channel="phone",
            reason_code="high_bill",
            note=" asked about March ",
            actor=csr,
            occurred_at=at,
        )

        assert interaction.note == "asked about March"
        assert interaction.actor == csr
        assert list(queries.list_interactions(account=account)) == [interaction]
        assert AuditEvent.objects.get(event="customers.interaction.logged").after == {
            "channel": "phone",
            "reason": "high_bill",
        }

    def test_refuses_an_unknown_reason_naming_the_reason(self, at):
        account = make_account()

        with pytest.raises(ValidationError) as caught:
            operations.log_interaction(
                account=account,
                channel="phone",
                reason_code="gossip",
                note="",
                actor=SYSTEM,
                occurred_at=at,
            )

        assert "reason" in caught.value.message_dict
        assert not Interaction.objects.exists()
