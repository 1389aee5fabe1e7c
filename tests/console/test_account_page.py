from datetime import date

import pytest
from django.contrib.auth.models import Permission

from ohm.core.crypto import mask_tail
from ohm.customers import operations as customer_operations
from ohm.customers.models import Interaction
from ohm.workqueue import operations as work_operations
from tests.factories import AT, SYSTEM, make_account, make_person, make_served_account


def page_url(account) -> str:
    return f"/console/accounts/{account.number}/"


def log_url(account) -> str:
    return f"/console/accounts/{account.number}/interactions/new/"


@pytest.fixture
def account(db):
    person = make_person(
        first_name="Maria",
        last_name="Lopez",
        date_of_birth="1951-04-09",
        ssn_last4="4821",
        tax_id="12-3456789",
        phones=[{"number": "510-555-0142", "kind": "home"}],
    )
    return make_served_account(person, meter_serial="AMI0042")


@pytest.mark.django_db
class TestAccountPage:
    def test_shows_the_account_persons_service_and_meters(self, client, csr, account):
        client.force_login(csr)

        response = client.get(page_url(account))

        html = response.content.decode()
        assert response.status_code == 200
        assert account.formatted_number in html
        assert "Maria Lopez" in html
        assert "(510) 555-0142" in html
        assert "maria.lopez@example.org" in html
        assert "AMI0042" in html
        assert "RES-1" in html
        assert 'id="balance"' in html

    def test_shows_alerts_as_banners_by_severity(self, client, csr, account):
        customer_operations.add_alert(
            account=account,
            kind="life_support",
            note="Oxygen concentrator",
            start_date=date(2026, 3, 1),
            actor=SYSTEM,
            at=AT,
        )
        customer_operations.add_alert(
            account=account,
            kind="dispute",
            note="Disputes the February bill",
            start_date=date(2026, 3, 1),
            actor=SYSTEM,
            at=AT,
        )
        client.force_login(csr)

        html = client.get(page_url(account)).content.decode()

        assert 'class="banner banner-danger" data-kind="life_support"' in html
        assert "Oxygen concentrator" in html
        assert 'class="banner banner-warning" data-kind="dispute"' in html

    def test_masks_sensitive_fields_for_a_csr(self, client, csr, account):
        client.force_login(csr)

        html = client.get(page_url(account)).content.decode()

        assert "1951-04-09" not in html
        assert "4821" not in html
        assert "12-3456789" not in html
        assert mask_tail("12-3456789") in html

    def test_shows_sensitive_fields_to_a_supervisor(self, client, supervisor, account):
        client.force_login(supervisor)

        html = client.get(page_url(account)).content.decode()

        assert "1951-04-09" in html
        assert "4821" in html
        assert "12-3456789" in html

    def test_shows_recent_changes_only_to_roles_that_see_the_audit(
        self, client, csr, supervisor, account
    ):
        client.force_login(csr)
        assert "Recent changes" not in client.get(page_url(account)).content.decode()

        client.force_login(supervisor)
        html = client.get(page_url(account)).content.decode()

        assert "Recent changes" in html
        assert "customers.account.opened" in html or "agreements." in html

    def test_lists_open_work_for_the_account(self, client, csr, account):
        work_operations.raise_work_item(
            category_code="callback",
            title="Call back about the deposit",
            account_id=account.pk,
            account_number=account.number,
            actor=SYSTEM,
            at=AT,
        )
        client.force_login(csr)

        html = client.get(page_url(account)).content.decode()

        assert "Call back about the deposit" in html

    def test_is_404_for_an_unknown_account(self, client, csr):
        client.force_login(csr)

        assert client.get("/console/accounts/1000000008/").status_code == 404
        assert client.get("/console/accounts/1000000009/").status_code == 404

    def test_is_forbidden_without_permission_to_view_accounts(
        self, client, django_user_model, account
    ):
        user = django_user_model.objects.create_user(
            username="nobody", password="x-long-password-1"
        )
        client.force_login(user)

        assert client.get(page_url(account)).status_code == 403

    def test_remembers_the_latest_ten_accounts_viewed(self, client, csr, account):
        others = [make_account() for _ in range(10)]
        client.force_login(csr)

        for other in [account, *others]:
            client.get(page_url(other))

        recent = client.session["console_recent_accounts"]
        assert recent == [a.number for a in reversed(others)]
        assert "Recently viewed" in client.get("/console/").content.decode()

    def test_keeps_its_query_count_bounded(
        self, client, supervisor, account, django_assert_max_num_queries
    ):
        for n in range(30):
            customer_operations.log_interaction(
                account=account,
                channel="phone",
                reason_code="high_bill",
                note=f"call {n}",
                actor=SYSTEM,
                occurred_at=AT,
            )
        client.force_login(supervisor)

        with django_assert_max_num_queries(30):
            response = client.get(page_url(account))

        assert response.status_code == 200


@pytest.mark.django_db
class TestLogInteraction:
    def test_opens_the_inline_form(self, client, csr, account):
        client.force_login(csr)

        response = client.get(log_url(account), headers={"HX-Request": "true"})

        html = response.content.decode()
        assert response.status_code == 200
        assert 'id="interactions"' in html
        assert 'name="reason"' in html
        assert "High bill inquiry" in html

    def test_logs_it_and_answers_with_the_updated_list(self, client, csr, account):
        client.force_login(csr)
        person = account.account_persons.get().person

        response = client.post(
            log_url(account),
            {
                "channel": "phone",
                "reason": "high_bill",
                "note": "Asked why the bill doubled",
                "person": person.pk,
            },
            headers={"HX-Request": "true"},
        )

        interaction = Interaction.objects.get(account=account)
        assert response.status_code == 200
        assert (
            interaction.reason.code,
            interaction.channel,
            interaction.person,
            interaction.actor,
        ) == ("high_bill", "phone", person, csr)
        assert "Asked why the bill doubled" in response.content.decode()
        assert 'name="reason"' not in response.content.decode()

    def test_names_the_field_in_error_and_logs_nothing(self, client, csr, account):
        client.force_login(csr)

        response = client.post(
            log_url(account),
            {"channel": "phone", "reason": "", "note": "x"},
            headers={"HX-Request": "true"},
        )

        assert response.status_code == 422
        assert "reason" in response.context["interaction_form"].errors
        assert 'class="field invalid"' in response.content.decode()
        assert not Interaction.objects.filter(account=account).exists()

    def test_redirects_a_plain_form_post_to_the_account(self, client, csr, account):
        client.force_login(csr)

        response = client.post(
            log_url(account), {"channel": "email", "reason": "billing_question", "note": ""}
        )

        assert response.status_code == 302
        assert response.url == page_url(account)

    def test_is_forbidden_without_permission_to_add_interactions(
        self, client, django_user_model, account
    ):
        viewer = django_user_model.objects.create_user(
            username="viewer", password="x-long-password-1"
        )
        viewer.user_permissions.add(
            Permission.objects.get(content_type__app_label="customers", codename="view_account")
        )
        client.force_login(viewer)

        response = client.post(log_url(account), {"channel": "phone", "reason": "other"})

        assert response.status_code == 403


@pytest.mark.django_db
class TestHome:
    def test_greets_the_user_and_lists_their_work(self, client, csr, account):
        item = work_operations.raise_work_item(
            category_code="callback",
            title="Call Maria back",
            account_id=account.pk,
            account_number=account.number,
            actor=SYSTEM,
            at=AT,
        )
        work_operations.assign_work_item(item=item, assignee=csr, actor=SYSTEM, at=AT)
        client.force_login(csr)

        response = client.get("/console/")

        html = response.content.decode()
        assert response.status_code == 200
        assert "Call Maria back" in html
        assert account.formatted_number in html
        assert response.context["queue"]["open"] == 1
        assert "data-focus-search" in html
