"""Running VEE over the store, estimated register reads, and analysts' edits."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from ohm.core.audit import SystemActor
from ohm.core.models import AuditEvent
from ohm.metering import operations as metering_operations
from ohm.metering.models import IntervalDay, Quality, RegisterRead
from ohm.metering.store import DayVector, load_intervals, save_interval_days
from ohm.metering.vee import Reason
from ohm.metering.vee_config import rules_for
from ohm.metering.vee_operations import edit_intervals, estimate_register_read, run_vee
from ohm.workqueue.models import WorkItem
from tests.factories import make_account, make_meter, make_service_point

VEE = SystemActor("vee")
AT = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
DAY = date(2026, 3, 10)  # a Tuesday
START, END = datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC)
SHAPE = np.array(
    [0.4] * 6 + [1.0] * 3 + [0.6] * 8 + [1.5] * 5 + [0.8] * 2
)  # kWh per hour, a home's day


def installed_channel():
    point = make_service_point()
    meter = make_meter()
    metering_operations.install_meter(
        meter=meter,
        service_point=point,
        installed_at=datetime(2026, 1, 1, tzinfo=UTC),
        actor=VEE,
        at=AT,
    )
    return meter.channels.get(number=1), point


def store_days(channel, first: date, count: int, values=SHAPE, flags=None):
    flags = np.full(24, Quality.ACTUAL, dtype=np.uint8) if flags is None else flags
    days = [
        DayVector(
            channel.pk,
            first + timedelta(days=i),
            60,
            np.asarray(values, dtype=np.float32),
            np.asarray(flags, dtype=np.uint8),
        )
        for i in range(count)
    ]
    save_interval_days(days=days, recorded_at=AT, source="test")


def with_gap(hours: range, values=SHAPE):
    values, flags = np.array(values, dtype=np.float32), np.full(24, Quality.ACTUAL, dtype=np.uint8)
    values[list(hours)], flags[list(hours)] = 0, Quality.MISSING
    return values, flags


@pytest.mark.django_db
class TestRunVee:
    def test_estimates_a_long_gap_from_the_same_weekdays_as_a_new_version(self):
        channel, _ = installed_channel()
        store_days(channel, DAY - timedelta(days=35), 35)
        store_days(channel, DAY, 1, *with_gap(range(8, 16)))

        report = run_vee(channels=[channel], start_at=START, end_at=END, actor=VEE, at=AT)

        series = load_intervals(channel=channel, start_at=START, end_at=END)
        assert report.estimated_intervals == 8
        assert report.work_items == []
        assert series.flags[8:16].tolist() == [Quality.ESTIMATED] * 8
        assert series.values[8:16] == pytest.approx(SHAPE[8:16])
        rows = IntervalDay.objects.filter(channel=channel, day=DAY).order_by("version")
        assert [(r.version, r.is_current, r.source) for r in rows] == [
            (1, False, "test"),
            (2, True, "vee"),
        ]
        assert AuditEvent.objects.filter(event="metering.intervals.estimated").count() == 1

    def test_interpolates_a_short_gap_between_its_neighbours(self):
        channel, _ = installed_channel()
        store_days(
            channel, DAY, 1, *with_gap(range(10, 12), values=np.arange(24, dtype=np.float32))
        )

        run_vee(channels=[channel], start_at=START, end_at=END, actor=VEE, at=AT)

        series = load_intervals(channel=channel, start_at=START, end_at=END)
        assert series.values[10:12].tolist() == [10.0, 11.0]
        assert series.flags[10:12].tolist() == [Quality.ESTIMATED] * 2

    def test_raises_work_items_for_a_gap_it_cannot_estimate_and_a_spike(self):
        channel, _ = installed_channel()
        store_days(channel, DAY - timedelta(days=30), 30)
        values, flags = with_gap(range(0, 8))
        values[20] = 40.0
        store_days(channel, DAY, 1, values, flags)

        report = run_vee(
            channels=[channel],
            start_at=START,
            end_at=END,
            actor=VEE,
            at=AT,
            rules=rules_for("default", profile_weeks=0),
        )

        assert sorted(f.code for f in report.findings) == [Reason.SPIKE, Reason.UNESTIMATED_GAP]
        titles = sorted(
            WorkItem.objects.filter(category__code="meter_exception").values_list(
                "title", flat=True
            )
        )
        assert len(titles) == 2
        assert "gap VEE could not estimate" in titles[0]
        assert "spike" in titles[1]
        assert WorkItem.objects.first().subject == channel.meter
        assert (
            load_intervals(channel=channel, start_at=START, end_at=END).flags[:8].tolist()
            == [Quality.MISSING] * 8
        )

    def test_a_second_run_changes_nothing_and_raises_nothing_new(self):
        channel, _ = installed_channel()
        store_days(channel, DAY - timedelta(days=30), 30)
        store_days(channel, DAY, 1, *with_gap(range(0, 8)))
        rules = rules_for("default", profile_weeks=0)
        run_vee(channels=[channel], start_at=START, end_at=END, actor=VEE, at=AT, rules=rules)

        again = run_vee(
            channels=[channel], start_at=START, end_at=END, actor=VEE, at=AT, rules=rules
        )

        assert again.work_items == []
        assert again.days_written == 0
        assert WorkItem.objects.count() == 1

    def test_fits_estimates_to_the_register_difference(self):
        channel, _ = installed_channel()
        store_days(channel, DAY - timedelta(days=35), 35)
        store_days(channel, DAY, 1, *with_gap(range(8, 16)))
        known = float(SHAPE.sum() - SHAPE[8:16].sum())
        for read_at, reading in (
            (START, Decimal("1000")),
            (END, Decimal(str(round(1000 + known + 2.0, 3)))),
        ):
            RegisterRead.objects.create(
                channel=channel,
                read_at=read_at,
                reading=reading,
                read_type="ami",
                recorded_at=AT,
                source="test",
            )

        run_vee(channels=[channel], start_at=START, end_at=END, actor=VEE, at=AT)

        series = load_intervals(channel=channel, start_at=START, end_at=END)
        assert series.values[8:16].sum() == pytest.approx(2.0, abs=1e-3)

    def test_reports_intervals_that_exceed_the_register(self):
        channel, _ = installed_channel()
        store_days(channel, DAY, 1)
        RegisterRead.objects.create(
            channel=channel,
            read_at=START,
            reading=Decimal("1000"),
            read_type="ami",
            recorded_at=AT,
            source="test",
        )
        RegisterRead.objects.create(
            channel=channel,
            read_at=END,
            reading=Decimal("1005"),
            read_type="ami",
            recorded_at=AT,
            source="test",
        )

        report = run_vee(channels=[channel], start_at=START, end_at=END, actor=VEE, at=AT)

        assert [f.code for f in report.findings] == [Reason.REGISTER_MISMATCH]

    def test_reports_use_where_no_one_is_served_and_zero_use_where_someone_is(self):
        channel, point = installed_channel()
        zero_channel, zero_point = installed_channel()
        account = make_account()
        store_days(channel, DAY, 1)
        store_days(zero_channel, DAY - timedelta(days=3), 4, values=np.zeros(24))
        lookup = {point.pk: None, zero_point.pk: account.pk}

        report = run_vee(
            channels=[channel, zero_channel],
            start_at=START - timedelta(days=3),
            end_at=END,
            actor=VEE,
            at=AT,
            account_lookup=lambda sp, s, e: lookup[sp],
        )

        assert sorted(
            (f.channel.pk, f.code) for f in report.findings if f.code != Reason.UNESTIMATED_GAP
        ) == [(channel.pk, Reason.INACTIVE_CONSUMPTION), (zero_channel.pk, Reason.ZERO_RUN)]
        zero_item = WorkItem.objects.get(title__contains="zero use")
        assert zero_item.account_id == account.pk
        assert zero_item.account_number == account.number

    def test_passes_a_clean_day(self):
        channel, _ = installed_channel()
        store_days(channel, DAY - timedelta(days=30), 31)

        report = run_vee(channels=[channel], start_at=START, end_at=END, actor=VEE, at=AT)

        assert report.findings == []
        assert WorkItem.objects.count() == 0


@pytest.mark.django_db
class TestEstimateRegisterRead:
    def test_advances_the_latest_read_by_the_average_daily_use(self):
        channel, _ = installed_channel()
        for days, reading in ((0, "99900"), (30, "99990")):
            RegisterRead.objects.create(
                channel=channel,
                read_at=START + timedelta(days=days),
                reading=Decimal(reading),
                read_type="ami",
                recorded_at=AT,
                source="test",
            )

        read = estimate_register_read(
            channel=channel, read_at=START + timedelta(days=40), actor=VEE, at=AT
        )

        assert read.read_type == RegisterRead.ReadType.ESTIMATED
        assert read.reading == Decimal("20.000")  # 3 kWh a day, rolled over past 99999
        assert AuditEvent.objects.filter(event="metering.register.estimated").exists()

    def test_refuses_without_history(self):
        channel, _ = installed_channel()

        with pytest.raises(ValidationError) as caught:
            estimate_register_read(channel=channel, read_at=START, actor=VEE, at=AT)

        assert "read_at" in caught.value.message_dict


@pytest.mark.django_db
class TestEditIntervals:
    def test_writes_edited_values_as_a_new_version_and_audits_the_old_ones(self, make_staff):
        analyst = make_staff("billing_analyst", "bea")
        channel, _ = installed_channel()
        store_days(channel, DAY, 1)

        edit_intervals(
            channel=channel,
            start_at=START + timedelta(hours=2),
            end_at=START + timedelta(hours=4),
            values=[0.7, 0.9],
            reason="Meter test showed a stuck register",
            actor=analyst,
            at=AT,
        )

        series = load_intervals(channel=channel, start_at=START, end_at=END)
        assert series.values[2:4] == pytest.approx([0.7, 0.9])
        assert series.flags[1:5].tolist() == [
            Quality.ACTUAL,
            Quality.EDITED,
            Quality.EDITED,
            Quality.ACTUAL,
        ]
        rows = IntervalDay.objects.filter(channel=channel, day=DAY).order_by("version")
        assert [(r.version, r.is_current, r.source, r.actor_label) for r in rows] == [
            (1, False, "test", ""),
            (2, True, "edit", "bea"),
        ]
        event = AuditEvent.objects.get(event="metering.intervals.edited")
        assert event.actor == analyst
        assert event.reason == "Meter test showed a stuck register"
        assert event.before["values"] == [0.4, 0.4]
        assert event.before["flags"] == ["actual", "actual"]

    def test_spans_midnight_across_two_days(self):
        channel, _ = installed_channel()

        counts = edit_intervals(
            channel=channel,
            start_at=END - timedelta(hours=1),
            end_at=END + timedelta(hours=1),
            values=[1, 2],
            reason="field read",
            actor=VEE,
            at=AT,
        )

        assert counts == {"inserted": 2, "versioned": 0, "unchanged": 0}

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"reason": " "}, "reason"),
            ({"values": [1.0]}, "values"),
            ({"values": [1.0, -1.0]}, "values"),
            ({"start_at": START + timedelta(minutes=30)}, "start_at"),
            ({"end_at": START}, "end_at"),
        ],
    )
    def test_refuses_bad_input_and_writes_nothing(self, changes, field):
        channel, _ = installed_channel()
        arguments = {
            "start_at": START + timedelta(hours=2),
            "end_at": START + timedelta(hours=4),
            "values": [1.0, 2.0],
            "reason": "why",
        } | changes

        with pytest.raises(ValidationError) as caught:
            edit_intervals(channel=channel, actor=VEE, at=AT, **arguments)

        assert field in caught.value.message_dict
        assert not IntervalDay.objects.filter(channel=channel).exists()
