"""Rate version operations: drafts checked field by field, approval by another person, URDB
import of the real records (and refusal of the broken ones), export round trip, audit."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from ohm.core.models import AuditEvent
from ohm.rates import operations, queries, tariff
from ohm.rates.models import RateVersion
from tests.rates.support import (
    AT,
    BROKEN_URDB,
    GOOD_URDB,
    SYSTEM,
    flat_document,
    make_schedule,
    tou_document,
    urdb_record,
)


@pytest.fixture
def schedule(db):
    return make_schedule()


@pytest.fixture
def analyst(make_staff):
    return make_staff("billing_analyst", "ana")


@pytest.fixture
def supervisor(make_staff):
    return make_staff("supervisor", "sam")


def draft(schedule, actor, *, effective=date(2026, 4, 1), document=None):
    return operations.create_draft_version(
        schedule=schedule,
        effective_date=effective,
        document=document or flat_document(),
        notes="Resolution 2026-12",
        actor=actor,
        at=AT,
    )


@pytest.mark.django_db
class TestCreateDraftVersion:
    def test_numbers_versions_and_records_the_author(self, schedule, analyst):
        first = draft(schedule, analyst)
        second = draft(schedule, analyst, effective=date(2026, 5, 1))

        assert (first.number, second.number) == (1, 2)
        assert first.status == RateVersion.Status.DRAFT
        assert first.created_by == analyst
        assert first.created_by_label == "ana"
        event = AuditEvent.objects.get(event="rates.version.created", subject_id=str(first.pk))
        assert event.actor == analyst
        assert event.after["document"]["energyratestructure"] == [[{"rate": "0.20"}]]

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            (
                lambda d: d["energyratestructure"][0][0].pop("rate"),
                "energyratestructure[0][0].rate",
            ),
            (lambda d: d["energyweekdayschedule"].pop(), "energyweekdayschedule"),
            (
                lambda d: d["energyweekendschedule"][3].__setitem__(5, 4),
                "energyweekendschedule[3][5]",
            ),
            (lambda d: d.__setitem__("fixedchargefirstmeter", 12.5), "fixedchargefirstmeter"),
            (lambda d: d.__setitem__("fixedchargeunits", "$/week"), "fixedchargeunits"),
        ],
    )
    def test_refuses_a_bad_document_naming_the_field(self, schedule, analyst, change, field):
        document = flat_document()
        change(document)

        with pytest.raises(operations.InvalidTariffDocument) as refused:
            draft(schedule, analyst, document=document)

        assert refused.value.field == field
        assert refused.value.reason
        assert not RateVersion.objects.exists()
        assert not AuditEvent.objects.filter(event="rates.version.created").exists()

    def test_refuses_tiers_out_of_order(self, schedule, analyst):
        document = flat_document()
        document["energyratestructure"] = [
            [{"rate": "0.1", "max": "500"}, {"rate": "0.2", "max": "400"}, {"rate": "0.3"}]
        ]

        with pytest.raises(operations.InvalidTariffDocument) as refused:
            draft(schedule, analyst, document=document)

        assert refused.value.field == "energyratestructure[0][1].max"


@pytest.mark.django_db
class TestUpdateDraftVersion:
    def test_changes_a_draft_and_audits_before_and_after(self, schedule, analyst):
        version = draft(schedule, analyst)

        operations.update_draft_version(
            version=version, document=tou_document(), notes="TOU now", actor=analyst, at=AT
        )

        version.refresh_from_db()
        assert version.document == tou_document()
        assert version.notes == "TOU now"
        event = AuditEvent.objects.get(event="rates.version.changed")
        assert event.before["notes"] == "Resolution 2026-12"
        assert event.after["notes"] == "TOU now"

    def test_never_changes_an_approved_version(self, schedule, analyst, supervisor):
        version = draft(schedule, analyst)
        operations.approve_version(version=version, actor=supervisor, at=AT)

        with pytest.raises(operations.VersionNotEditable):
            operations.update_draft_version(
                version=version, document=tou_document(), actor=analyst, at=AT
            )

        version.refresh_from_db()
        assert version.document == flat_document()

    def test_a_bad_document_leaves_the_draft_as_it_was(self, schedule, analyst):
        version = draft(schedule, analyst)
        bad = flat_document()
        bad["energyratestructure"] = []

        with pytest.raises(operations.InvalidTariffDocument):
            operations.update_draft_version(version=version, document=bad, actor=analyst, at=AT)

        version.refresh_from_db()
        assert version.document == flat_document()


@pytest.mark.django_db
class TestApproveVersion:
    def test_a_supervisor_approves_an_analysts_draft(self, schedule, analyst, supervisor):
        version = draft(schedule, analyst)

        operations.approve_version(version=version, actor=supervisor, at=AT)

        version.refresh_from_db()
        assert version.status == RateVersion.Status.APPROVED
        assert (version.approved_by, version.approved_at) == (supervisor, AT)
        assert AuditEvent.objects.filter(event="rates.version.approved", actor=supervisor).exists()

    def test_the_author_may_not_approve_their_own_draft(self, schedule, supervisor):
        version = draft(schedule, supervisor)

        with pytest.raises(operations.ApprovalRefused):
            operations.approve_version(version=version, actor=supervisor, at=AT)

        version.refresh_from_db()
        assert version.status == RateVersion.Status.DRAFT

    def test_a_back_dated_version_needs_a_reason(self, schedule, analyst, supervisor):
        version = draft(schedule, analyst, effective=date(2026, 2, 1))

        with pytest.raises(operations.ApprovalRefused) as refused:
            operations.approve_version(version=version, actor=supervisor, at=AT)
        assert "backdated_reason" in refused.value.message_dict

        operations.approve_version(
            version=version, actor=supervisor, at=AT, backdated_reason="Council resolution 26-4"
        )
        event = AuditEvent.objects.get(event="rates.version.approved")
        assert event.reason == "Council resolution 26-4"

    def test_refuses_a_second_approved_version_on_the_same_date(
        self, schedule, analyst, supervisor
    ):
        operations.approve_version(version=draft(schedule, analyst), actor=supervisor, at=AT)
        second = draft(schedule, analyst)

        with pytest.raises(operations.ApprovalRefused) as refused:
            operations.approve_version(version=second, actor=supervisor, at=AT)

        assert "effective_date" in refused.value.message_dict


@pytest.mark.django_db
class TestWithdrawAndDiscard:
    def test_withdraws_an_approved_version_before_it_takes_effect(
        self, schedule, analyst, supervisor
    ):
        version = draft(schedule, analyst)
        operations.approve_version(version=version, actor=supervisor, at=AT)

        operations.withdraw_version(
            version=version, reason="Typo in peak price", actor=supervisor, at=AT
        )

        version.refresh_from_db()
        assert version.status == RateVersion.Status.WITHDRAWN
        assert version.withdrawn_reason == "Typo in peak price"
        assert AuditEvent.objects.filter(event="rates.version.withdrawn").exists()

    def test_a_version_in_effect_stays(self, schedule, analyst, supervisor):
        version = draft(schedule, analyst)
        operations.approve_version(version=version, actor=supervisor, at=AT)
        in_effect = datetime(2026, 4, 1, 19, tzinfo=UTC)

        with pytest.raises(operations.VersionNotEditable):
            operations.withdraw_version(
                version=version, reason="late", actor=supervisor, at=in_effect
            )

    def test_discards_a_draft_into_the_history(self, schedule, analyst):
        version = draft(schedule, analyst)

        operations.discard_draft(version=version, actor=analyst, at=AT)

        version.refresh_from_db()
        assert version.status == RateVersion.Status.DISCARDED
        with pytest.raises(operations.VersionNotEditable):
            operations.discard_draft(version=version, actor=analyst, at=AT)

    def test_copy_starts_a_new_draft_from_a_version(self, schedule, analyst, supervisor):
        version = draft(schedule, analyst, document=tou_document())
        operations.approve_version(version=version, actor=supervisor, at=AT)

        copy = operations.copy_version(
            version=version, effective_date=date(2026, 7, 1), actor=analyst, at=AT
        )

        assert copy.number == 2
        assert copy.status == RateVersion.Status.DRAFT
        assert copy.document == version.document
        assert copy.source == RateVersion.Source.COPY


@pytest.mark.django_db
class TestUrdbImport:
    @pytest.mark.parametrize("name", GOOD_URDB)
    def test_imports_a_real_record_as_a_draft(self, schedule, analyst, name):
        record = urdb_record(name)

        version = operations.import_urdb_version(
            schedule=schedule, record=record, actor=analyst, at=AT
        )

        assert version.status == RateVersion.Status.DRAFT
        assert version.source == RateVersion.Source.URDB
        assert version.source_label == record["uri"]
        expected = datetime.fromtimestamp(record["startdate"], tz=UTC)
        assert abs(version.effective_date - expected.date()) <= timedelta(days=1)
        assert tariff.tariff_from_document(version.document) == tariff.parse_urdb(record)

    @pytest.mark.parametrize(("name", "field"), BROKEN_URDB.items())
    def test_refuses_a_broken_record_with_the_field(self, schedule, analyst, name, field):
        with pytest.raises(operations.InvalidTariffDocument) as refused:
            operations.import_urdb_version(
                schedule=schedule,
                record=urdb_record(name),
                effective_date=date(2026, 4, 1),
                actor=analyst,
                at=AT,
            )

        assert refused.value.field.startswith(field)
        assert not RateVersion.objects.exists()

    def test_a_record_without_a_startdate_needs_a_date(self, schedule, analyst):
        record = urdb_record(GOOD_URDB[0])
        del record["startdate"]

        with pytest.raises(ValidationError) as refused:
            operations.import_urdb_version(schedule=schedule, record=record, actor=analyst, at=AT)

        assert "effective_date" in refused.value.message_dict

    def test_takes_the_one_item_of_an_api_response(self, schedule, analyst):
        record = urdb_record(GOOD_URDB[2])

        version = operations.import_urdb_version(
            schedule=schedule, record={"items": [record]}, actor=analyst, at=AT
        )

        assert version.source_label == record["uri"]

    @pytest.mark.parametrize("name", GOOD_URDB)
    def test_export_gives_back_the_record(self, schedule, analyst, name):
        record = urdb_record(name)
        version = operations.import_urdb_version(
            schedule=schedule, record=record, actor=analyst, at=AT
        )

        exported = queries.export_urdb(version)

        assert tariff.parse_urdb(exported) == tariff.parse_urdb(record)
        assert exported["energyweekdayschedule"] == record["energyweekdayschedule"]
        assert exported["uri"] == record["uri"]


@pytest.mark.django_db
class TestEligibility:
    def test_time_of_use_needs_an_interval_meter_and_ev_a_program(self, db):
        e1 = make_schedule("E-1")
        tou = make_schedule("E-TOU", requires_interval_meter=True)
        ev = make_schedule("EV", requires_interval_meter=True, required_program="ev")
        make_schedule("A-1", customer_class="small_commercial")

        manual = queries.list_eligible_schedules(
            customer_class="residential", has_interval_meter=False, programs=set()
        )
        ami = queries.list_eligible_schedules(
            customer_class="residential", has_interval_meter=True, programs=set()
        )
        with_ev = queries.list_eligible_schedules(
            customer_class="residential", has_interval_meter=True, programs={"ev"}
        )

        assert manual == [e1]
        assert ami == [e1, tou]
        assert with_ev == [e1, tou, ev]
        assert (
            "interval"
            in queries.check_eligibility(
                tou, customer_class="residential", has_interval_meter=False, programs=set()
            ).reason
        )

    def test_schedule_changes_are_audited(self, db):
        schedule = make_schedule("E-1")

        operations.update_rate_schedule(
            schedule=schedule, requires_interval_meter=True, actor=SYSTEM, at=AT
        )

        event = AuditEvent.objects.get(event="rates.schedule.changed")
        assert event.before == {"requires_interval_meter": False}
        assert event.after == {"requires_interval_meter": True}
