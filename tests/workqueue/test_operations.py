from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError

from ohm.core.models import AuditEvent
from ohm.core.permissions import role_group
from ohm.workqueue import operations, queries
from ohm.workqueue.models import WorkItem
from tests.factories import SYSTEM, make_account

FRIDAY_AT = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)  # 10:00 Pacific, Friday March 6
THURSDAY_EVENING_AT = datetime(2026, 3, 6, 5, 0, tzinfo=UTC)  # 21:00 Pacific, Thursday March 5


def raise_item(title="Call back about the bill", *, category="callback", at=FRIDAY_AT, **kwargs):
    return operations.raise_work_item(
        category_code=category, title=title, actor=SYSTEM, at=at, **kwargs
    )


class TestAddBusinessDays:
    @pytest.mark.parametrize(
        ("start", "days", "due"),
        [
            (date(2026, 3, 6), 1, date(2026, 3, 9)),
            (date(2026, 3, 7), 1, date(2026, 3, 9)),
            (date(2026, 3, 2), 5, date(2026, 3, 9)),
            (date(2026, 3, 2), 0, date(2026, 3, 2)),
        ],
    )
    def test_skips_weekends(self, start, days, due):
        assert operations.add_business_days(start, days) == due


@pytest.mark.django_db
class TestRaiseWorkItem:
    def test_an_item_raised_friday_with_one_day_is_due_monday(self):
        item = raise_item()

        assert item.due_date == date(2026, 3, 9)
        assert item.team == role_group("csr")
        assert item.priority == 2
        assert item.status == WorkItem.Status.OPEN
        assert AuditEvent.objects.get(event="workqueue.item.raised").subject_id == str(item.pk)

    def test_counts_from_the_utilitys_day_not_utcs(self):
        item = raise_item(at=THURSDAY_EVENING_AT)

        assert item.due_date == date(2026, 3, 6)

    def test_keeps_the_account_it_is_about(self):
        account = make_account()

        item = raise_item(subject=account, account_id=account.pk, account_number=account.number)

        assert WorkItem.objects.get(pk=item.pk).subject == account
        assert list(queries.list_account_work(account_id=account.pk)) == [item]

    def test_refuses_an_unknown_category(self):
        with pytest.raises(ValidationError) as caught:
            raise_item(category="gardening")

        assert "category" in caught.value.message_dict
        assert not WorkItem.objects.exists()

    def test_refuses_an_empty_title(self):
        with pytest.raises(ValidationError) as caught:
            raise_item("  ")

        assert "title" in caught.value.message_dict


@pytest.mark.django_db
class TestAssignNextWorkItem:
    def test_gives_the_most_urgent_then_the_oldest_due(self, csr):
        raise_item("normal, due first", priority=3, due_date=date(2026, 3, 9))
        raise_item("urgent, due later", priority=1, due_date=date(2026, 3, 20))
        raise_item("urgent, due sooner", priority=1, due_date=date(2026, 3, 12))

        titles = [operations.assign_next_work_item(user=csr, at=FRIDAY_AT).title for _ in range(3)]

        assert titles == ["urgent, due sooner", "urgent, due later", "normal, due first"]

    def test_two_people_get_different_items(self, csr, make_staff):
        other = make_staff("csr")
        raise_item("one")
        raise_item("two")

        first = operations.assign_next_work_item(user=csr, at=FRIDAY_AT)
        second = operations.assign_next_work_item(user=other, at=FRIDAY_AT)

        assert first.pk != second.pk
        assert (first.assignee, first.status) == (csr, WorkItem.Status.IN_PROGRESS)
        assert list(queries.list_my_work(user=other)) == [second]

    def test_takes_only_the_persons_teams_work(self, csr):
        raise_item(category="investigation")

        with pytest.raises(operations.NothingToAssign):
            operations.assign_next_work_item(user=csr, at=FRIDAY_AT)

    def test_says_when_there_is_nothing_to_assign(self, csr):
        with pytest.raises(operations.NothingToAssign):
            operations.assign_next_work_item(user=csr, at=FRIDAY_AT)


@pytest.mark.django_db
class TestAssignWorkItem:
    def test_refuses_someone_off_the_team(self, csr, make_staff):
        item = raise_item(category="investigation")

        with pytest.raises(ValidationError) as caught:
            operations.assign_work_item(item=item, assignee=csr, actor=csr, at=FRIDAY_AT)

        assert "assignee" in caught.value.message_dict
        assert WorkItem.objects.get(pk=item.pk).assignee is None

    def test_assigns_a_team_member_and_audits(self, csr, supervisor):
        item = raise_item()

        operations.assign_work_item(item=item, assignee=csr, actor=supervisor, at=FRIDAY_AT)

        assert WorkItem.objects.get(pk=item.pk).assignee == csr
        event = AuditEvent.objects.get(event="workqueue.item.assigned")
        assert (event.before, event.after, event.actor) == (
            {"assignee": None},
            {"assignee": "casey"},
            supervisor,
        )


@pytest.mark.django_db
class TestSetWorkStatus:
    def test_closing_needs_a_resolution(self, csr):
        item = raise_item()

        with pytest.raises(ValidationError) as caught:
            operations.set_work_status(
                item=item, status="done", actor=csr, at=FRIDAY_AT, resolution=" "
            )

        assert "resolution" in caught.value.message_dict
        assert WorkItem.objects.get(pk=item.pk).status == WorkItem.Status.OPEN

    def test_closing_records_when_and_how(self, csr):
        item = raise_item()

        closed = operations.set_work_status(
            item=item, status="done", actor=csr, at=FRIDAY_AT, resolution="called back"
        )

        assert (closed.closed_at, closed.resolution, closed.is_closed) == (
            FRIDAY_AT,
            "called back",
            True,
        )
        assert queries.summarize_queue(team_ids=[item.team_id], as_of=date(2026, 3, 6))["open"] == 0

    @pytest.mark.parametrize("closed_as", ["done", "cancelled"])
    def test_a_closed_item_cannot_change(self, csr, closed_as):
        item = raise_item()
        operations.set_work_status(
            item=item, status=closed_as, actor=csr, at=FRIDAY_AT, resolution="finished"
        )

        with pytest.raises(ValidationError) as reopen:
            operations.set_work_status(item=item, status="open", actor=csr, at=FRIDAY_AT)
        with pytest.raises(ValidationError) as reassign:
            operations.assign_work_item(item=item, assignee=csr, actor=csr, at=FRIDAY_AT)

        assert "status" in reopen.value.message_dict
        assert "status" in reassign.value.message_dict
        assert WorkItem.objects.get(pk=item.pk).status == closed_as

    def test_refuses_an_unknown_status(self, csr):
        with pytest.raises(ValidationError) as caught:
            operations.set_work_status(
                item=raise_item(), status="sleeping", actor=csr, at=FRIDAY_AT
            )

        assert "status" in caught.value.message_dict

    def test_notes_need_text(self, csr):
        with pytest.raises(ValidationError) as caught:
            operations.add_work_note(item=raise_item(), text=" ", actor=csr, at=FRIDAY_AT)

        assert "text" in caught.value.message_dict
