"""VEE exceptions as work items, their resolution, analysts' estimates, and register estimates
that never create energy the register says was not used."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ohm.core.audit import SystemActor
from ohm.core.models import AuditEvent
from ohm.metering import operations as metering_operations
from ohm.metering.ingest.checks import DayFinding
from ohm.metering.models import IntervalDay, MeterEvent, Quality, RegisterRead
from ohm.metering.queries import (
    ExceptionFilters,
    list_day_quality,
    list_day_versions,
    list_interval_history,
    list_meter_vee_exceptions,
    list_vee_exceptions,
)
from ohm.metering.store import DayVector, load_intervals, save_interval_days
from ohm.metering.vee import Reason, register_delta
from ohm.metering.vee_config import rules_for
from ohm.metering.vee_operations import (
    EstimationMethod,
    Resolution,
    Rule,
    estimate_intervals,
    estimate_register_read,
    findings_from_import,
    get_vee_exception,
    resolve_vee_exception,
    run_vee,
)
from ohm.workqueue.models import WorkItem
from tests.factories import make_meter, make_premise, make_service_point

VEE = SystemActor("vee")
AT = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
DAY = date(2026, 3, 10)  # a Tuesday; Pacific daylight time began Sunday March 8
START, END = datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC)
SHAPE = np.array([0.4] * 6 + [1.0] * 3 + [0.6] * 8 + [1.5] * 5 + [0.8] * 2)
NO_PROFILE = rules_for("default", profile_weeks=0)


def installed_channel(route="R01", premise_type="single_family", serial=None):
    point = make_service_point(make_premise(premise_type=premise_type), route=route)
    meter = make_meter(serial)
    metering_operations.install_meter(
        meter=meter,
        service_point=point,
        installed_at=datetime(2026, 1, 1, tzinfo=UTC),
        actor=VEE,
        at=AT,
    )
    return meter.channels.get(number=1)


def store(channel, first: date, count: int, values=SHAPE, flags=None):
    flags = np.full(24, Quality.ACTUAL, dtype=np.uint8) if flags is None else flags
    save_interval_days(
        days=[
            DayVector(
                channel.pk,
                first + timedelta(days=i),
                60,
                np.asarray(values, dtype=np.float32),
                np.asarray(flags, dtype=np.uint8),
            )
            for i in range(count)
        ],
        recorded_at=AT,
        source="test",
    )


def gap(hours, values=SHAPE):
    values = np.array(values, dtype=np.float32)
    flags = np.full(24, Quality.ACTUAL, dtype=np.uint8)
    values[list(hours)], flags[list(hours)] = 0, Quality.MISSING
    return values, flags


def register(channel, read_at, reading, read_type="ami"):
    return RegisterRead.objects.create(
        channel=channel,
        read_at=read_at,
        reading=Decimal(reading),
        read_type=read_type,
        recorded_at=AT,
        source="test",
    )


def vee(channel, start=START, end=END, **options):
    return run_vee(channels=[channel], start_at=start, end_at=end, actor=VEE, at=AT, **options)


@pytest.mark.django_db
class TestExceptionsAsWorkItems:
    def test_one_exception_per_run_of_local_days_with_its_particulars(self):
        channel = installed_channel()
        store(channel, DAY, 1, *gap(range(8, 16)))  # 01:00-09:00 Pacific on March 10
        store(channel, DAY + timedelta(days=1), 1)
        store(channel, DAY + timedelta(days=2), 1, *gap(range(8, 16)))

        report = vee(channel, END - timedelta(days=1), END + timedelta(days=2), rules=NO_PROFILE)

        assert [(e.rule, e.first_day, e.last_day) for e in report.exceptions] == [
            (Reason.UNESTIMATED_GAP, DAY, DAY),
            (Reason.UNESTIMATED_GAP, DAY + timedelta(days=2), DAY + timedelta(days=2)),
        ]
        first = report.exceptions[0]
        assert first.start_at == START + timedelta(hours=8)
        assert first.end_at == START + timedelta(hours=16)
        assert first.item.category.code == "meter_exception"
        assert first.item.subject == channel.meter
        assert get_vee_exception(first.item.pk) == first
        assert "2026-03-10" in first.item.title

    def test_a_rerun_over_a_wider_period_or_after_acceptance_raises_nothing_again(self, make_staff):
        analyst = make_staff("billing_analyst", "bea")
        channel = installed_channel()
        store(channel, DAY - timedelta(days=30), 30)
        values, flags = gap([])
        values[20] = 40.0
        store(channel, DAY, 1, values, flags)
        (spike,) = vee(channel).exceptions
        resolve_vee_exception(
            exception=spike, action="accept", reason="Welder on site", actor=analyst, at=AT
        )

        again = vee(channel, START - timedelta(days=2), END + timedelta(days=1))

        assert again.exceptions == []
        assert again.already_raised == 1
        assert WorkItem.objects.count() == 1

    def test_use_on_an_inactive_service_point_goes_to_investigators_as_possible_theft(self):
        channel = installed_channel()
        store(channel, DAY, 1)

        report = vee(channel, account_lookup=lambda *_: None)

        (exception,) = [e for e in report.exceptions if e.rule == Reason.INACTIVE_CONSUMPTION]
        assert exception.unauthorized
        assert exception.item.category.code == "investigation"
        assert exception.item.title.startswith("Possible unauthorized usage")
        assert "unauthorized usage" in exception.item.description

    def test_a_tamper_event_is_an_exception_with_the_drop_in_use(self):
        channel = installed_channel()
        store(channel, DAY - timedelta(days=7), 7)
        store(channel, DAY, 8, values=SHAPE * 0.25)
        MeterEvent.objects.create(
            meter=channel.meter,
            kind=MeterEvent.Kind.TAMPER,
            occurred_at=START + timedelta(minutes=5),
            received_at=START,
            source="test",
        )

        report = vee(channel)

        (tamper,) = [e for e in report.exceptions if e.rule == Rule.TAMPER]
        assert tamper.unauthorized
        assert "25% of the week before" in tamper.message
        assert tamper.start_at == START

    def test_reverse_energy_is_normal_on_a_net_metered_meter(self):
        channel = installed_channel()  # AMI meters have a received channel
        store(channel, DAY, 1)
        MeterEvent.objects.create(
            meter=channel.meter,
            kind=MeterEvent.Kind.REVERSE_ENERGY,
            occurred_at=START + timedelta(hours=3),
            received_at=START,
            source="test",
        )

        report = vee(channel)

        assert [e.rule for e in report.exceptions] == []

    def test_only_the_period_asked_is_estimated_and_reported(self):
        channel = installed_channel()
        store(channel, DAY, 1, *gap(range(0, 24)))

        report = vee(channel, START + timedelta(hours=8), START + timedelta(hours=10))

        assert report.unestimated_intervals == 2
        assert [(e.start_at, e.end_at) for e in report.exceptions] == [
            (START + timedelta(hours=8), START + timedelta(hours=10))
        ]


def day_finding(channel, code, day, intervals=(), message="found at import"):
    return DayFinding(
        channel_id=channel.pk,
        meter_serial=channel.meter.serial,
        channel_number=channel.number,
        day=day,
        interval_minutes=60,
        code=code,
        message=message,
        intervals=tuple(intervals),
    )


@pytest.mark.django_db
class TestImportFindings:
    """An import's own checks' findings raised through ``run_vee``'s work items."""

    def test_day_findings_become_one_finding_per_channel_and_rule_across_midnight(self):
        channel = installed_channel()
        other = installed_channel()
        findings = [
            day_finding(channel, Reason.SPIKE, DAY + timedelta(days=1), [0], "b"),
            day_finding(channel, Reason.SPIKE, DAY, [22, 23], "a"),
            day_finding(channel, Reason.NEGATIVE, DAY, []),
            day_finding(other, Reason.SPIKE, DAY, [5]),
        ]

        located = findings_from_import(findings, {channel.pk: channel})

        assert list(located) == [channel.pk]  # only the channels asked about
        negative, spike = located[channel.pk]
        assert spike.runs == ((START + timedelta(hours=22), END + timedelta(hours=1)),)
        assert spike.message == "2026-03-10 (UTC): a; 2026-03-11 (UTC): b"
        assert (negative.code, negative.runs) == (Reason.NEGATIVE, ((START, END),))

    def test_raised_once_gaps_left_to_estimation_and_no_zero_run_at_a_vacant_premise(self):
        channel = installed_channel()
        store(channel, DAY, 1)
        imported = findings_from_import(
            [
                day_finding(channel, Reason.NEGATIVE, DAY, [3]),
                day_finding(channel, Reason.UNESTIMATED_GAP, DAY, [4]),
                day_finding(channel, Reason.ZERO_RUN, DAY, range(10, 20)),
            ],
            {channel.pk: channel},
        )
        vacant = {"account_lookup": lambda *_: None, "imported": imported}

        report = vee(channel, **vacant)
        again = vee(channel, **vacant)
        served = vee(channel, imported=imported)

        rules = [e.rule for e in report.exceptions]
        assert Reason.NEGATIVE in rules
        assert Reason.UNESTIMATED_GAP not in rules
        assert Reason.ZERO_RUN not in rules
        (negative,) = [e for e in report.exceptions if e.rule == Reason.NEGATIVE]
        assert negative.runs == ((START + timedelta(hours=3), START + timedelta(hours=4)),)
        assert again.exceptions == []
        assert again.already_raised == len(report.exceptions)
        # Served (no lookup to say otherwise): the zero run is raised; the negative is known.
        assert [e.rule for e in served.exceptions] == [Reason.ZERO_RUN]

    def test_an_exception_both_passes_find_is_raised_once_and_not_called_known(self):
        channel = installed_channel()
        store(channel, DAY - timedelta(days=30), 30)
        values, flags = gap([])
        values[20] = 40.0
        store(channel, DAY, 1, values, flags)
        imported = findings_from_import(
            [day_finding(channel, Reason.SPIKE, DAY, [20])], {channel.pk: channel}
        )

        report = vee(channel, imported=imported)

        assert [e.rule for e in report.exceptions] == [Reason.SPIKE]
        assert report.exceptions[0].message != "found at import"  # the run's own wins
        assert report.already_raised == 0
        assert WorkItem.objects.count() == 1


@pytest.mark.django_db
class TestResolveVeeException:
    def gap_exception(self, hours=range(10, 12)):
        channel = installed_channel()
        store(channel, DAY, 1, *gap(hours, values=np.arange(24, dtype=np.float32)))
        (exception,) = vee(
            channel, rules=rules_for("default", max_interpolate_minutes=0, profile_weeks=0)
        ).exceptions
        return channel, exception

    def test_accepting_closes_the_item_with_the_reason_and_audits_it(self, make_staff):
        analyst = make_staff("billing_analyst", "bea")
        _, exception = self.gap_exception()

        item = resolve_vee_exception(
            exception=exception, action="accept", reason="Outage confirmed", actor=analyst, at=AT
        )

        assert item.status == WorkItem.Status.DONE
        assert item.resolution == "Accepted as-is: Outage confirmed"
        event = AuditEvent.objects.get(event="metering.vee.exception_resolved")
        assert event.actor == analyst
        assert event.after["action"] == "accept"

    def test_estimating_fills_the_intervals_at_fault_as_a_new_version(self, make_staff):
        analyst = make_staff("billing_analyst", "bea")
        channel, exception = self.gap_exception()

        item = resolve_vee_exception(
            exception=exception,
            action=Resolution.ESTIMATE,
            method=EstimationMethod.LINEAR,
            reason="Radio dropped out",
            actor=analyst,
            at=AT,
        )

        series = load_intervals(channel=channel, start_at=START, end_at=END)
        assert series.values[10:12].tolist() == [10.0, 11.0]
        assert series.flags[9:13].tolist() == [1, 2, 2, 1]
        assert item.resolution.startswith("Estimated 2 intervals by linear interpolation")
        current = IntervalDay.objects.get(channel=channel, day=DAY, is_current=True)
        assert (current.version, current.source, current.actor_label) == (2, "edit", "bea")
        assert f"#{item.pk}" in current.reason

    def test_editing_puts_the_analysts_values_in(self, make_staff):
        analyst = make_staff("billing_analyst", "bea")
        channel, exception = self.gap_exception()

        resolve_vee_exception(
            exception=exception,
            action=Resolution.EDIT,
            values=[3.5, 4.5],
            reason="Field read",
            actor=analyst,
            at=AT,
        )

        series = load_intervals(channel=channel, start_at=START, end_at=END)
        assert series.values[10:12].tolist() == [3.5, 4.5]
        assert series.flags[10:12].tolist() == [Quality.EDITED] * 2

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"reason": "  "}, "reason"),
            ({"action": "edit", "values": [1.0]}, "values"),
            ({"action": "edit", "values": [1.0, -2.0]}, "values"),
            ({"action": "estimate", "method": "guess"}, "method"),
            ({"action": "shrug"}, "action"),
        ],
    )
    def test_refuses_bad_input_and_writes_nothing(self, make_staff, changes, field):
        analyst = make_staff("billing_analyst", "bea")
        channel, exception = self.gap_exception()
        arguments = {"action": "accept", "reason": "why"} | changes

        with pytest.raises(ValidationError) as caught:
            resolve_vee_exception(exception=exception, actor=analyst, at=AT, **arguments)

        assert field in caught.value.message_dict
        assert IntervalDay.objects.filter(channel=channel).count() == 1
        assert WorkItem.objects.get().status == WorkItem.Status.OPEN

    def test_refuses_to_resolve_twice(self, make_staff):
        analyst = make_staff("billing_analyst", "bea")
        _, exception = self.gap_exception()
        resolve_vee_exception(
            exception=exception, action="accept", reason="a", actor=analyst, at=AT
        )

        with pytest.raises(ValidationError, match="already done"):
            resolve_vee_exception(
                exception=exception, action="accept", reason="b", actor=analyst, at=AT
            )


@pytest.mark.django_db
class TestEstimateIntervals:
    def test_same_weekday_profile_averages_the_weeks_before(self):
        channel = installed_channel()
        for weeks, scale in ((1, 1.0), (2, 3.0)):
            store(channel, DAY - timedelta(weeks=weeks), 1, values=SHAPE * scale)
        store(channel, DAY, 1)

        counts = estimate_intervals(
            channel=channel,
            start_at=START + timedelta(hours=18),
            end_at=START + timedelta(hours=20),
            method=EstimationMethod.PROFILE,
            reason="spike",
            actor=VEE,
            at=AT,
        )

        series = load_intervals(channel=channel, start_at=START, end_at=END)
        assert counts["intervals"] == 2
        assert series.values[18:20] == pytest.approx(SHAPE[18:20] * 2.0)
        assert series.flags[18:20].tolist() == [Quality.ESTIMATED] * 2
        event = AuditEvent.objects.get(event="metering.intervals.estimated_by_analyst")
        assert event.before["values"] == pytest.approx(SHAPE[18:20].tolist())

    def test_refuses_what_it_cannot_estimate_and_writes_nothing(self):
        channel = installed_channel()
        store(channel, DAY, 1, *gap(range(0, 3)))

        with pytest.raises(ValidationError) as caught:
            estimate_intervals(
                channel=channel,
                start_at=START,
                end_at=START + timedelta(hours=3),
                method=EstimationMethod.LINEAR,
                reason="gap",
                actor=VEE,
                at=AT,
            )

        assert "no actual reading on both sides" in caught.value.message_dict["method"][0]
        assert IntervalDay.objects.filter(channel=channel).count() == 1


@pytest.mark.django_db
class TestEstimationNeverCreatesEnergy:
    def test_interval_estimates_are_zero_when_the_register_did_not_move(self):
        channel = installed_channel()
        store(channel, DAY - timedelta(days=35), 35)
        store(channel, DAY, 1, *gap(range(8, 16), values=np.where(np.arange(24) < 16, 0.0, 0.0)))
        register(channel, START, "5000")
        register(channel, END, "5000")

        vee(channel)

        series = load_intervals(channel=channel, start_at=START, end_at=END)
        assert series.flags[8:16].tolist() == [Quality.ESTIMATED] * 8
        assert series.values[8:16].sum() == 0

    def test_a_register_estimate_between_equal_reads_adds_nothing(self):
        channel = installed_channel()
        register(channel, START - timedelta(days=60), "4000")
        register(channel, START - timedelta(days=30), "4900")  # 30 kWh a day before
        register(channel, START + timedelta(days=10), "4900")  # then nothing used

        read = estimate_register_read(channel=channel, read_at=START, actor=VEE, at=AT)

        assert read.reading == Decimal("4900.000")
        assert read.read_type == RegisterRead.ReadType.ESTIMATED

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        previous=st.integers(min_value=0, max_value=99_999_999),
        used=st.integers(min_value=0, max_value=5_000_000),
        history_per_day=st.integers(min_value=0, max_value=500_000),
        fraction=st.floats(min_value=0.01, max_value=0.99),
        multiplier=st.sampled_from(["1", "40", "0.5"]),
    )
    def test_a_register_estimate_never_exceeds_what_the_register_says(
        self, previous, used, history_per_day, fraction, multiplier
    ):
        RegisterRead.objects.all().delete()
        meter = make_meter()
        meter.multiplier, meter.dials = Decimal(multiplier), 5
        meter.save()
        channel = meter.channels.get(number=1)
        span = 10**5
        first = Decimal(previous % (span * 1000)) / 1000
        history = Decimal((previous - history_per_day * 30) % (span * 1000)) / 1000
        following = Decimal((previous + used) % (span * 1000)) / 1000
        register(channel, START - timedelta(days=30), str(history))
        register(channel, START, str(first))
        register(channel, START + timedelta(days=20), str(following))
        moment = START + timedelta(seconds=round(20 * 86400 * fraction))

        read = estimate_register_read(channel=channel, read_at=moment, actor=VEE, at=AT)

        into = register_delta(float(first), float(read.reading), multiplier=1, dials=5)
        out_of = register_delta(float(read.reading), float(following), multiplier=1, dials=5)
        total = register_delta(float(first), float(following), multiplier=1, dials=5)
        assert into + out_of == pytest.approx(total, abs=2e-3)


@pytest.mark.django_db
class TestExceptionQueries:
    def test_filters_by_rule_route_class_and_age(self):
        home = installed_channel(route="R01")
        shop = installed_channel(route="R07", premise_type="commercial")
        for channel in (home, shop):
            store(channel, DAY, 1, *gap(range(0, 24)))
        vee(home, rules=NO_PROFILE)
        run_vee(
            channels=[shop],
            start_at=START,
            end_at=END,
            actor=VEE,
            at=AT + timedelta(days=5),
            rules=NO_PROFILE,
            account_lookup=lambda *_: None,
        )
        now = AT + timedelta(days=6)

        def serials(**filters):
            return sorted(
                (e.serial, e.rule)
                for e in list_vee_exceptions(filters=ExceptionFilters(**filters), as_of=now)
            )

        assert len(serials()) == 2
        assert serials(rule=Reason.INACTIVE_CONSUMPTION) == []  # nothing used: nothing to flag
        assert serials(rule=Reason.UNESTIMATED_GAP) == serials()
        assert serials(route="R07") == [(shop.meter.serial, Reason.UNESTIMATED_GAP)]
        assert serials(meter_class="residential") == [(home.meter.serial, Reason.UNESTIMATED_GAP)]
        assert serials(meter_class="small_commercial") == serials(route="R07")
        assert serials(min_age_days=3) == serials(route="R01")
        assert [e.serial for e in list_meter_vee_exceptions(meter=home.meter)] == [
            home.meter.serial
        ]

    def test_interval_history_shows_each_intervals_earlier_versions(self):
        channel = installed_channel()
        store(channel, DAY, 1, *gap(range(10, 12), values=np.arange(24, dtype=np.float32)))
        vee(channel)

        rows = list_interval_history(
            channel=channel, start_at=START + timedelta(hours=9), end_at=START + timedelta(hours=12)
        )
        versions = list_day_versions(channel=channel, start_at=START, end_at=END)
        quality = list_day_quality(
            channel=channel, start_date=DAY, end_date=DAY + timedelta(days=1)
        )

        assert [(r.value, r.quality, r.version) for r in rows] == [
            (9.0, "actual", 2),
            (10.0, "estimated", 2),
            (11.0, "estimated", 2),
        ]
        assert rows[0].earlier == ()
        assert [(v.version, v.quality, v.value) for v in rows[1].earlier] == [(1, "missing", 0.0)]
        assert [(v.version, v.is_current, v.source) for v in versions] == [
            (2, True, "vee"),
            (1, False, "test"),
        ]
        assert versions[1].quality_counts["missing"] == 2
        # The local day March 10 (PDT) begins at 07:00 UTC: 17 hours of the stored UTC day,
        # and the 7 hours of March 11 UTC that were never received.
        assert quality[0].counts == {"missing": 7, "actual": 15, "estimated": 2, "edited": 0}


@pytest.mark.django_db
class TestRegisterBoundsEveryEstimate:
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        hourly=st.lists(st.integers(min_value=0, max_value=3000), min_size=24, max_size=24),
        missing=st.sets(st.integers(min_value=0, max_value=23), min_size=1, max_size=23),
        unaccounted_wh=st.integers(min_value=0, max_value=20_000),
    )
    def test_estimates_carry_exactly_what_the_register_says_the_reads_lack(
        self, hourly, missing, unaccounted_wh
    ):
        IntervalDay.objects.all().delete()
        RegisterRead.objects.all().delete()
        channel = installed_channel()
        store(channel, DAY - timedelta(days=35), 35)
        values = np.array(hourly, dtype=np.float32) / 1000
        flags = np.full(24, Quality.ACTUAL, dtype=np.uint8)
        values[sorted(missing)], flags[sorted(missing)] = 0, Quality.MISSING
        store(channel, DAY, 1, values, flags)
        present_kwh = float(values.astype(np.float64).sum())
        register(channel, START, "1000")
        register(channel, END, f"{1000 + present_kwh + unaccounted_wh / 1000:.3f}")

        vee(channel)

        series = load_intervals(channel=channel, start_at=START, end_at=END)
        filled = series.values[sorted(missing)]
        assert (series.flags[sorted(missing)] == Quality.ESTIMATED).all()
        assert (filled >= 0).all()
        assert float(filled.sum()) == pytest.approx(unaccounted_wh / 1000, abs=2e-3)
