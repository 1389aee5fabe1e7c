"""The work queue pages: my work, the team queue, assign next, an item, a new item."""

from datetime import date

import pytest

from ohm.core import clock
from ohm.core.audit import SystemActor
from ohm.core.models import AuditEvent
from ohm.workqueue import operations as work_operations
from ohm.workqueue.models import WorkItem
from tests import factories

SYSTEM = SystemActor("tests")


@pytest.fixture(autouse=True)
def frozen(at):
    with clock.frozen_at(at):
        yield


@pytest.fixture
def raise_item(at):
    def make(
        title: str = "Call back about the high bill", category: str = "general", **kwargs
    ) -> WorkItem:
        return work_operations.raise_work_item(
            category_code=category, title=title, actor=SYSTEM, at=at, **kwargs
        )

    return make


@pytest.mark.django_db
class TestMyWork:
    def test_lists_only_items_assigned_to_me(self, client, csr, make_staff, raise_item, at):
        other = make_staff("csr")
        mine = raise_item("Mine")
        theirs = raise_item("Theirs")
        work_operations.assign_work_item(item=mine, assignee=csr, actor=SYSTEM, at=at)
        work_operations.assign_work_item(item=theirs, assignee=other, actor=SYSTEM, at=at)
        client.force_login(csr)

        response = client.get("/console/work/")

        assert list(response.context["items"]) == [mine]

    def test_shows_an_empty_state(self, client, csr):
        client.force_login(csr)

        response = client.get("/console/work/")

        assert b"Nothing assigned to you" in response.content


@pytest.mark.django_db
class TestTeamQueue:
    def test_lists_unassigned_items_first(self, client, csr, raise_item, at):
        taken = raise_item("Urgent but taken", priority=1)
        waiting = raise_item("Normal and waiting", priority=3)
        work_operations.assign_work_item(item=taken, assignee=csr, actor=SYSTEM, at=at)
        client.force_login(csr)

        response = client.get("/console/work/team/")

        assert list(response.context["items"]) == [waiting, taken]

    def test_leaves_out_other_teams_work(self, client, csr, raise_item):
        raise_item("Check the meter data", category="meter_exception")
        client.force_login(csr)

        response = client.get("/console/work/team/")

        assert list(response.context["items"]) == []

    def test_filters_by_category_and_overdue(self, client, csr, raise_item):
        late = raise_item("Late callback", category="callback", due_date=date(2026, 3, 2))
        raise_item("General", category="general")
        client.force_login(csr)

        by_category = client.get("/console/work/team/", {"category": "callback"})
        overdue = client.get("/console/work/team/", {"overdue": "1"})

        assert list(by_category.context["items"]) == [late]
        assert list(overdue.context["items"]) == [late]

    def test_filters_by_status_including_closed(self, client, csr, raise_item, at):
        done = raise_item("Done already")
        raise_item("Still open")
        work_operations.set_work_status(
            item=done, status="done", resolution="called", actor=SYSTEM, at=at
        )
        client.force_login(csr)

        response = client.get("/console/work/team/", {"status": "done"})

        assert list(response.context["items"]) == [done]


@pytest.mark.django_db
class TestAssignNext:
    def test_gives_two_people_distinct_items(self, client, csr, make_staff, raise_item):
        other = make_staff("csr", "robin")
        first, second = raise_item("First", priority=1), raise_item("Second", priority=2)

        client.force_login(csr)
        casey_response = client.post("/console/work/next/")
        client.force_login(other)
        robin_response = client.post("/console/work/next/")

        first.refresh_from_db()
        second.refresh_from_db()
        assert casey_response.url == f"/console/work/{first.pk}/"
        assert robin_response.url == f"/console/work/{second.pk}/"
        assert (first.assignee, second.assignee) == (csr, other)
        assert first.status == second.status == "in_progress"

    def test_says_nothing_to_assign_when_the_queue_is_empty(self, client, csr):
        client.force_login(csr)

        response = client.post("/console/work/next/", follow=True)

        assert b"Nothing to assign" in response.content

    def test_refuses_a_get(self, client, csr, raise_item):
        item = raise_item()
        client.force_login(csr)

        response = client.get("/console/work/next/")

        item.refresh_from_db()
        assert response.status_code == 405
        assert item.assignee is None


@pytest.mark.django_db
class TestWorkItemPage:
    def test_links_the_account(self, client, csr, raise_item):
        account = factories.make_account()
        item = raise_item(account_id=account.pk, account_number=account.number)
        client.force_login(csr)

        response = client.get(f"/console/work/{item.pk}/")

        assert f'href="/console/accounts/{account.number}/"'.encode() in response.content

    def test_adds_a_note(self, client, csr, raise_item):
        item = raise_item()
        client.force_login(csr)

        response = client.post(
            f"/console/work/{item.pk}/notes/", {"note-text": "Left a voicemail."}
        )

        assert response.status_code == 302
        assert item.notes.get().text == "Left a voicemail."
        assert AuditEvent.objects.filter(event="workqueue.item.noted").count() == 1

    def test_refuses_an_empty_note(self, client, csr, raise_item):
        item = raise_item()
        client.force_login(csr)

        response = client.post(f"/console/work/{item.pk}/notes/", {"note-text": "  "})

        assert response.context["note_form"].errors["text"]
        assert item.notes.count() == 0

    def test_closes_with_a_resolution(self, client, csr, raise_item):
        item = raise_item()
        client.force_login(csr)

        response = client.post(
            f"/console/work/{item.pk}/status/",
            {"status-status": "done", "status-resolution": "Explained the bill."},
        )

        item.refresh_from_db()
        assert response.status_code == 302
        assert (item.status, item.resolution) == ("done", "Explained the bill.")
        assert AuditEvent.objects.filter(event="workqueue.item.status_changed").count() == 1

    def test_refuses_to_close_without_a_resolution(self, client, csr, raise_item):
        item = raise_item()
        client.force_login(csr)

        response = client.post(
            f"/console/work/{item.pk}/status/",
            {"status-status": "cancelled", "status-resolution": ""},
        )

        item.refresh_from_db()
        assert "Say how" in response.context["status_form"].errors["resolution"][0]
        assert item.status == "open"

    def test_lets_a_lead_assign_a_teammate(self, client, make_staff, raise_item):
        lead = make_staff("lead_csr")
        teammate = make_staff("csr", "robin")
        item = raise_item()
        client.force_login(lead)

        response = client.post(f"/console/work/{item.pk}/assign/", {"assign-assignee": teammate.pk})

        item.refresh_from_db()
        assert response.status_code == 302
        assert item.assignee == teammate
        assert AuditEvent.objects.filter(event="workqueue.item.assigned").count() == 1

    def test_offers_only_teammates_to_assign(self, client, make_staff, raise_item):
        lead = make_staff("lead_csr")
        make_staff("csr", "robin")
        make_staff("cashier", "carl")
        item = raise_item()
        client.force_login(lead)

        response = client.get(f"/console/work/{item.pk}/")

        assert [
            u.username for u in response.context["assign_form"].fields["assignee"].queryset
        ] == ["robin"]

    def test_forbids_a_csr_to_assign_others(self, client, csr, make_staff, raise_item):
        teammate = make_staff("csr", "robin")
        item = raise_item()
        client.force_login(csr)

        response = client.post(f"/console/work/{item.pk}/assign/", {"assign-assignee": teammate.pk})

        item.refresh_from_db()
        assert response.status_code == 403
        assert item.assignee is None


@pytest.mark.django_db
class TestNewWorkItem:
    def test_raises_an_item_about_the_account(self, client, csr):
        account = factories.make_account()
        client.force_login(csr)

        response = client.post(
            f"/console/work/new/?account={account.number}",
            {
                "account": account.number,
                "category": "callback",
                "title": "Call about the deposit",
                "priority": "2",
            },
        )

        item = WorkItem.objects.get()
        assert response.status_code == 302
        assert (item.account_number, item.account_id, item.priority) == (
            account.number,
            account.pk,
            2,
        )
        assert item.team.name == "CSR"
        assert item.created_by_label == csr.username
        assert AuditEvent.objects.filter(event="workqueue.item.raised").count() == 1

    def test_refuses_a_due_date_in_the_past(self, client, csr):
        client.force_login(csr)

        response = client.post(
            "/console/work/new/",
            {"category": "general", "title": "Follow up", "due_date": "2026-03-01"},
        )

        assert "in the past" in response.context["form"].errors["due_date"][0]
        assert WorkItem.objects.count() == 0

    def test_refuses_an_unknown_account(self, client, csr):
        client.force_login(csr)

        response = client.post(
            "/console/work/new/", {"account": "1234", "category": "general", "title": "Follow up"}
        )

        assert response.status_code == 200
        assert WorkItem.objects.count() == 0

    def test_is_forbidden_to_a_cashier(self, client, make_staff):
        client.force_login(make_staff("cashier"))

        response = client.post("/console/work/new/", {"category": "general", "title": "Follow up"})

        assert response.status_code == 403
