"""The demo utility: deterministic by seed, valid rows, every kind of customer, staff logins."""

from __future__ import annotations

import hashlib
from datetime import date
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from ohm.agreements.models import ServiceAgreement
from ohm.batch.demo import DEMO_PASSWORD, DEMO_STAFF, DemoDatabaseNotEmpty, build_demo_utility
from ohm.core import validators
from ohm.core.models import AuditEvent
from ohm.core.permissions import ROLES
from ohm.customers.models import Account, AccountPerson, Person, Phone
from ohm.metering.models import Meter
from ohm.premises.models import Premise, ServicePoint
from ohm.search.queries import search_accounts

AS_OF = date(2026, 3, 3)


class _Undo(Exception):
    """Raised to roll a build back so the next one starts from the same empty database."""


def _database_digest() -> str:
    """Names and numbers as stored, in a stable order."""
    rows = [
        *(
            f"{n}|{s}"
            for n, s in Account.objects.order_by("number").values_list("number", "status")
        ),
        *sorted(str(p) for p in Person.objects.all()),
        *Premise.objects.order_by("number").values_list("address_line1", "unit"),
        *Meter.objects.order_by("serial").values_list("serial", flat=True),
        *Phone.objects.order_by("number").values_list("number", flat=True),
    ]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _build_and_undo(seed: int) -> tuple[str, str]:
    try:
        with transaction.atomic():
            summary = build_demo_utility(accounts=60, seed=seed, as_of=AS_OF)
            raise _Undo(summary.digest, _database_digest())
    except _Undo as undone:
        return undone.args


@pytest.fixture
def demo(db):
    return build_demo_utility(accounts=60, seed=11, as_of=AS_OF)


@pytest.mark.django_db
class TestDeterminism:
    def test_the_same_seed_builds_the_same_city(self):
        first = _build_and_undo(5)
        second = _build_and_undo(5)

        assert first == second

    def test_different_seeds_build_different_cities(self):
        assert _build_and_undo(5) != _build_and_undo(6)


class TestBuildDemoUtility:
    def test_builds_about_the_accounts_asked_for(self, demo):
        assert demo.accounts == Account.objects.count() == 60
        assert ServiceAgreement.objects.count() == 60

    def test_has_every_customer_class_and_status(self, demo):
        assert set(demo.by_class) == {"residential", "small_commercial", "large_commercial"}
        assert set(Account.objects.values_list("status", flat=True)) == {
            "active",
            "pending",
            "final",
            "closed",
        }
        assert Person.objects.filter(kind=Person.Kind.BUSINESS).exists()
        assert Meter.objects.filter(kind=Meter.Kind.MANUAL).exists() or demo.meters < 40

    def test_creates_a_staff_login_for_every_role(self, demo):
        users = get_user_model().objects
        for role in ROLES:
            username = dict(DEMO_STAFF)[role.slug]
            user = users.get(username=username)
            assert user.groups.filter(name=role.name).exists()
            assert user.check_password(DEMO_PASSWORD)
        assert users.get(username="admin").is_superuser

    def test_every_person_account_and_premise_passes_its_validators(self, demo):
        for model in (Person, Account, Premise, ServicePoint, Meter, ServiceAgreement):
            for row in model.objects.all():
                row.full_clean()

    def test_phones_are_valid_e164_numbers(self, demo):
        for number in Phone.objects.values_list("number", flat=True):
            assert validators.normalize_phone(number) == number

    def test_every_account_has_one_current_main_person_unless_closed(self, demo):
        for account in Account.objects.exclude(status=Account.Status.CLOSED):
            assert (
                AccountPerson.objects.filter(
                    account=account, role="main", end_date__isnull=True
                ).count()
                == 1
            )

    def test_closed_accounts_have_a_new_customer_at_the_premise(self, demo):
        for account in Account.objects.filter(status=Account.Status.CLOSED):
            stopped = account.service_agreements.get()
            assert stopped.status == ServiceAgreement.Status.STOPPED
            assert ServiceAgreement.objects.filter(
                service_point=stopped.service_point, status="active"
            ).exists()

    def test_search_finds_a_customer_by_name_and_by_account_number(self, demo):
        link = (
            AccountPerson.objects.filter(
                role="main", end_date__isnull=True, person__kind="individual"
            )
            .select_related("account", "person")
            .first()
        )

        by_name = search_accounts(link.person.display_name, limit=100)
        by_number = search_accounts(link.account.formatted_number)

        assert link.account_id in {d.account_id for d in by_name}
        assert [d.account_id for d in by_number] == [link.account_id]

    def test_records_one_audit_event_for_the_load(self, demo):
        events = AuditEvent.objects.filter(event="batch.demo.loaded")
        assert events.count() == 1
        assert events.get().actor_label == "demo"
        assert AuditEvent.objects.count() == 1

    def test_refuses_a_database_that_has_accounts(self, demo):
        with pytest.raises(DemoDatabaseNotEmpty):
            build_demo_utility(accounts=10, seed=1, as_of=AS_OF)

    @pytest.mark.django_db
    def test_refuses_fewer_than_one_account(self):
        with pytest.raises(ValueError):
            build_demo_utility(accounts=0, seed=1, as_of=AS_OF)


@pytest.mark.django_db
class TestDemoCommand:
    def test_prints_the_staff_logins_and_refuses_a_second_run(self):
        out = StringIO()

        call_command("demo", accounts=30, seed=3, as_of="2026-03-03", stdout=out, stderr=StringIO())

        assert DEMO_PASSWORD in out.getvalue()
        for _, username in DEMO_STAFF:
            assert username in out.getvalue()
        with pytest.raises(CommandError, match="fresh database"):
            call_command("demo", accounts=30, seed=3, stdout=StringIO(), stderr=StringIO())

    def test_rejects_zero_accounts(self):
        with pytest.raises(CommandError, match="at least 1"):
            call_command("demo", accounts=0, stdout=StringIO(), stderr=StringIO())
