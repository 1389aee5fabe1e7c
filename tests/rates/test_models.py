"""Rate versions by effective date: which version prices a day, and a bill period's segments."""

from datetime import date, timedelta
from itertools import pairwise

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ohm.rates import operations, queries
from ohm.rates.models import RateVersion
from tests.rates.support import AT, SYSTEM, approved_version, flat_document, make_schedule


@pytest.fixture
def schedule(db):
    return make_schedule()


@pytest.mark.django_db
class TestVersionInEffect:
    def test_picks_the_latest_approved_version_on_or_before_the_day(self, schedule):
        first = approved_version(schedule, date(2025, 1, 1), flat_document("0.10"))
        second = approved_version(schedule, date(2025, 7, 1), flat_document("0.12"))

        assert queries.get_version_in_effect(schedule=schedule, on_date=date(2025, 6, 30)) == first
        assert queries.get_version_in_effect(schedule=schedule, on_date=date(2025, 7, 1)) == second
        assert queries.get_version_in_effect(schedule=schedule, on_date=date(2026, 1, 1)) == second

    def test_ignores_drafts_and_withdrawn_versions(self, schedule):
        first = approved_version(schedule, date(2025, 1, 1))
        operations.create_draft_version(
            schedule=schedule,
            effective_date=date(2025, 3, 1),
            document=flat_document("0.50"),
            actor=SYSTEM,
            at=AT,
        )

        assert queries.get_version_in_effect(schedule=schedule, on_date=date(2025, 4, 1)) == first

    def test_refuses_a_day_before_the_first_version(self, schedule):
        approved_version(schedule, date(2025, 1, 1))

        with pytest.raises(queries.NoVersionInEffect):
            queries.get_version_in_effect(schedule=schedule, on_date=date(2024, 12, 31))


@pytest.mark.django_db
class TestVersionSegments:
    def test_splits_a_period_at_a_rate_change(self, schedule):
        first = approved_version(schedule, date(2025, 1, 1))
        second = approved_version(schedule, date(2025, 7, 16), flat_document("0.30"))

        segments = queries.list_version_segments(
            schedule=schedule, start_date=date(2025, 7, 1), end_date=date(2025, 8, 1)
        )

        assert [(s.version, s.start_date, s.end_date, s.days) for s in segments] == [
            (first, date(2025, 7, 1), date(2025, 7, 16), 15),
            (second, date(2025, 7, 16), date(2025, 8, 1), 16),
        ]

    def test_a_change_on_the_first_day_is_one_segment(self, schedule):
        approved_version(schedule, date(2025, 1, 1))
        second = approved_version(schedule, date(2025, 7, 1))

        segments = queries.list_version_segments(
            schedule=schedule, start_date=date(2025, 7, 1), end_date=date(2025, 8, 1)
        )

        assert [(s.version, s.days) for s in segments] == [(second, 31)]

    def test_a_change_on_the_end_date_is_outside_the_period(self, schedule):
        first = approved_version(schedule, date(2025, 1, 1))
        approved_version(schedule, date(2025, 8, 1))

        segments = queries.list_version_segments(
            schedule=schedule, start_date=date(2025, 7, 1), end_date=date(2025, 8, 1)
        )

        assert [(s.version, s.days) for s in segments] == [(first, 31)]


@pytest.mark.django_db
class TestConstraints:
    def test_one_approved_version_per_schedule_and_date(self, schedule):
        version = approved_version(schedule, date(2025, 1, 1))

        with pytest.raises(IntegrityError), transaction.atomic():
            RateVersion.objects.create(
                schedule=schedule,
                number=99,
                effective_date=version.effective_date,
                document=version.document,
                status=RateVersion.Status.APPROVED,
                created_at=AT,
                created_by_label="x",
                updated_at=AT,
            )

    def test_version_numbers_are_unique_within_a_schedule(self, schedule):
        version = approved_version(schedule, date(2025, 1, 1))

        with pytest.raises(IntegrityError), transaction.atomic():
            RateVersion.objects.create(
                schedule=schedule,
                number=version.number,
                effective_date=date(2025, 2, 1),
                document=version.document,
                created_at=AT,
                created_by_label="x",
                updated_at=AT,
            )


class _Rollback(Exception):
    pass


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    offsets=st.sets(st.integers(min_value=0, max_value=400), min_size=1, max_size=5),
    start=st.integers(min_value=0, max_value=420),
    length=st.integers(min_value=1, max_value=70),
)
def test_segments_cover_the_period_with_the_version_in_effect_each_day(offsets, start, length):
    base = date(2025, 1, 1)
    start_date = base + timedelta(days=start)
    end_date = start_date + timedelta(days=length)
    try:
        with transaction.atomic():
            schedule = make_schedule("PROP")
            for offset in sorted(offsets):
                approved_version(schedule, base + timedelta(days=offset))
            if start < min(offsets):
                with pytest.raises(queries.NoVersionInEffect):
                    queries.list_version_segments(
                        schedule=schedule, start_date=start_date, end_date=end_date
                    )
                raise _Rollback
            segments = queries.list_version_segments(
                schedule=schedule, start_date=start_date, end_date=end_date
            )
            assert segments[0].start_date == start_date
            assert segments[-1].end_date == end_date
            assert sum(s.days for s in segments) == length
            for before, after in pairwise(segments):
                assert before.end_date == after.start_date
            for segment in segments:
                for k in range(segment.days):
                    day = segment.start_date + timedelta(days=k)
                    assert (
                        queries.get_version_in_effect(schedule=schedule, on_date=day)
                        == segment.version
                    )
            raise _Rollback
    except _Rollback:
        pass
