import pytest
from django.contrib.contenttypes.models import ContentType

from ohm.core import audit
from ohm.core.audit import SystemActor
from ohm.core.models import AuditEvent, AuditEventIsAppendOnly
from ohm.customers.models import Person
from tests.factories import make_person


@pytest.mark.django_db
class TestRecord:
    def test_writes_who_what_when_and_before_after(self, csr, at):
        person = make_person()

        row = audit.record(
            "customers.person.updated",
            subject=person,
            actor=csr,
            at=at,
            account_id=77,
            before={"last_name": "Lopez"},
            after={"last_name": "López"},
            reason="typo",
        )

        stored = AuditEvent.objects.get(pk=row.pk)
        assert stored.event == "customers.person.updated"
        assert stored.actor == csr
        assert stored.actor_label == "casey"
        assert stored.occurred_at == at
        assert stored.subject_type == ContentType.objects.get_for_model(Person)
        assert stored.subject_id == str(person.pk)
        assert stored.subject_label == "Maria Lopez"
        assert stored.account_id == 77
        assert stored.before == {"last_name": "Lopez"}
        assert stored.after == {"last_name": "López"}
        assert stored.reason == "typo"

    def test_names_a_job_that_acts_without_a_person(self, at):
        row = audit.record("batch.nightly.ran", subject=None, actor=SystemActor("nightly"), at=at)

        assert row.actor is None
        assert row.actor_label == "nightly"
        assert row.subject_type is None

    def test_stores_dates_and_records_as_json(self, at, today):
        person = make_person()

        row = audit.record(
            "x.y.z", subject=None, actor=SystemActor("t"), at=at, after={"on": today, "who": person}
        )

        assert AuditEvent.objects.get(pk=row.pk).after == {"on": "2026-03-03", "who": person.pk}

    def test_announces_the_write(self, at):
        heard = []

        def listener(sender, **kwargs):
            heard.append((kwargs["event"], kwargs["account_id"]))

        audit.domain_event.connect(listener)
        try:
            audit.record("x.y.z", subject=None, actor=SystemActor("t"), at=at, account_id=5)
        finally:
            audit.domain_event.disconnect(listener)

        assert heard == [("x.y.z", 5)]


@pytest.mark.django_db
class TestAuditEventIsAppendOnly:
    @pytest.fixture
    def event(self, at):
        return audit.record("x.y.z", subject=None, actor=SystemActor("t"), at=at, reason="original")

    def test_refuses_to_save_an_existing_event(self, event):
        event.reason = "rewritten"

        with pytest.raises(AuditEventIsAppendOnly):
            event.save()

        assert AuditEvent.objects.get(pk=event.pk).reason == "original"

    def test_refuses_to_delete_an_event(self, event):
        with pytest.raises(AuditEventIsAppendOnly):
            event.delete()

        assert AuditEvent.objects.filter(pk=event.pk).exists()

    def test_refuses_bulk_update_and_delete(self, event):
        with pytest.raises(AuditEventIsAppendOnly):
            AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
        with pytest.raises(AuditEventIsAppendOnly):
            AuditEvent.objects.all().delete()

        assert AuditEvent.objects.get(pk=event.pk).reason == "original"


class TestChangedFields:
    def test_keeps_only_what_differs(self):
        old, new = audit.changed_fields({"a": 1, "b": 2}, {"a": 1, "b": 3})

        assert (old, new) == ({"b": 2}, {"b": 3})
