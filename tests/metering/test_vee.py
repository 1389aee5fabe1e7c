"""The pure VEE rules and estimators: each rule failing and passing, estimation properties."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ohm.metering import vee
from ohm.metering.models import Quality
from ohm.metering.vee import ACTUAL, EDITED, ESTIMATED, MISSING, Reason
from ohm.metering.vee_config import (
    LARGE_COMMERCIAL,
    RESIDENTIAL,
    SMALL_COMMERCIAL,
    meter_class_for,
    rules_for,
)


def day(values, flags=None):
    values = np.asarray(values, dtype=np.float64)
    flags = (
        np.full(values.shape, ACTUAL, dtype=np.uint8)
        if flags is None
        else np.asarray(flags, dtype=np.uint8)
    )
    return values, flags


class TestQualityCodes:
    def test_agree_with_the_store(self):
        assert (MISSING, ACTUAL, ESTIMATED, EDITED) == (
            Quality.MISSING,
            Quality.ACTUAL,
            Quality.ESTIMATED,
            Quality.EDITED,
        )


class TestFindGaps:
    def test_counts_missing_intervals_and_the_longest_run_per_row(self):
        flags = np.array(
            [[1, 0, 0, 1, 0, 1], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 0]], dtype=np.uint8
        )

        findings = vee.find_gaps(flags)
        count, longest = vee.gap_stats(flags)

        assert [(f.row, f.intervals) for f in findings] == [(0, (1, 2, 4)), (2, (0, 1, 2, 3, 5))]
        assert count.tolist() == [3, 0, 5]
        assert longest.tolist() == [2, 0, 4]

    def test_finds_nothing_in_a_complete_row(self):
        assert vee.find_gaps(np.ones((2, 24), dtype=np.uint8)) == []


class TestFindSpikes:
    def test_flags_an_interval_far_above_the_channels_own_history(self):
        history_values, history_flags = day(np.tile([0.5, 1.0, 0.8, 1.2], 30 * 6))
        level = vee.history_percentile(history_values, history_flags, percentile=95)
        values, flags = day([1.0] * 10 + [9.0] + [1.0] * 13)

        findings = vee.find_spikes(values, flags, history_level=level, factor=4.0, floor=2.0)

        assert [(f.code, f.intervals) for f in findings] == [(Reason.SPIKE, (10,))]

    def test_passes_a_busy_hour_within_the_factor(self):
        values, flags = day([1.0] * 10 + [4.0] + [1.0] * 13)

        assert vee.find_spikes(values, flags, history_level=1.2, factor=4.0, floor=2.0) == []

    def test_does_not_judge_a_channel_without_history_or_below_the_floor(self):
        values, flags = day([0.01] * 23 + [1.0])

        assert vee.find_spikes(values, flags, history_level=np.nan, factor=4.0) == []
        assert vee.find_spikes(values, flags, history_level=0.01, factor=4.0, floor=2.0) == []


class TestFindNegative:
    def test_flags_negative_values_on_an_energy_channel(self):
        values, flags = day([1.0, -0.2, 0.5])

        assert [f.intervals for f in vee.find_negative(values, flags)] == [(1,)]

    def test_passes_non_negative_values_and_channels_it_does_not_apply_to(self):
        values, flags = day([1.0, -0.2, 0.5])

        assert vee.find_negative(np.abs(values), flags) == []
        assert vee.find_negative(values, flags, applies=False) == []


class TestFindZeroRuns:
    def test_flags_a_long_zero_run_at_an_occupied_premise(self):
        values, flags = day([[1.0] + [0.0] * 80 + [1.0]])

        findings = vee.find_zero_runs(values, flags, occupied=True, min_intervals=72)

        assert [(f.code, len(f.intervals)) for f in findings] == [(Reason.ZERO_RUN, 80)]

    def test_passes_a_vacant_premise_and_a_short_run(self):
        values, flags = day([[1.0] + [0.0] * 80 + [1.0]])

        assert vee.find_zero_runs(values, flags, occupied=False, min_intervals=72) == []
        assert vee.find_zero_runs(values, flags, occupied=True, min_intervals=81) == []


class TestRegisterDelta:
    def test_handles_dial_rollover_and_the_multiplier(self):
        assert vee.register_delta(99_990, 10, multiplier=40, dials=5) == pytest.approx(20 * 40)
        assert vee.register_delta(1000, 1250.5, multiplier=1, dials=5) == pytest.approx(250.5)


class TestFindRegisterMismatch:
    def test_flags_a_complete_day_that_disagrees_with_the_register(self):
        values, flags = day([1.0] * 24)

        findings = vee.find_register_mismatch(
            values, flags, register_kwh=30.0, tolerance_kwh=1.0, tolerance_share=0.02
        )

        assert [f.code for f in findings] == [Reason.REGISTER_MISMATCH]

    def test_passes_agreement_within_tolerance_and_a_shortfall_from_missing_intervals(self):
        values, flags = day([1.0] * 24)
        gappy = flags.copy()
        gappy[:6] = MISSING

        assert (
            vee.find_register_mismatch(
                values, flags, register_kwh=24.4, tolerance_kwh=1.0, tolerance_share=0.02
            )
            == []
        )
        assert (
            vee.find_register_mismatch(
                values, gappy, register_kwh=30.0, tolerance_kwh=1.0, tolerance_share=0.02
            )
            == []
        )

    def test_flags_intervals_above_the_register_even_with_gaps(self):
        values, flags = day([1.0] * 24)
        flags[:2] = MISSING

        assert (
            len(
                vee.find_register_mismatch(
                    values, flags, register_kwh=10.0, tolerance_kwh=1.0, tolerance_share=0.02
                )
            )
            == 1
        )


class TestFindMultiplierMismatch:
    def test_names_the_ratio_when_intervals_are_consistently_forty_times_the_register(self):
        intervals = np.array([[400.0, 812.0, 396.0], [100.0, 101.0, 99.0]])
        registers = np.array([[10.0, 20.2, 9.9], [100.0, 100.0, 100.0]])

        findings = vee.find_multiplier_mismatch(
            intervals, registers, ratios=(40, 80), tolerance_share=0.03
        )

        assert [(f.row, "×40" in f.message) for f in findings] == [(0, True)]

    def test_finds_a_divided_multiplier(self):
        findings = vee.find_multiplier_mismatch(
            np.array([[10.0, 12.0]]),
            np.array([[800.0, 960.0]]),
            ratios=(40, 80),
            tolerance_share=0.03,
        )

        assert "÷80" in findings[0].message

    def test_passes_an_inconsistent_or_too_short_history(self):
        assert (
            vee.find_multiplier_mismatch(
                np.array([[400.0, 100.0]]),
                np.array([[10.0, 100.0]]),
                ratios=(40,),
                tolerance_share=0.03,
            )
            == []
        )
        assert (
            vee.find_multiplier_mismatch(
                np.array([[400.0]]), np.array([[10.0]]), ratios=(40,), tolerance_share=0.03
            )
            == []
        )


class TestFindInactiveConsumption:
    def test_flags_energy_on_an_inactive_service_point(self):
        values, flags = day([[0.5] * 24, [0.5] * 24])

        findings = vee.find_inactive_consumption(
            values, flags, active=np.array([True, False]), min_kwh=1.0
        )

        assert [(f.row, f.code) for f in findings] == [(1, Reason.INACTIVE_CONSUMPTION)]

    def test_passes_an_idle_inactive_service_point(self):
        values, flags = day([0.01] * 24)

        assert vee.find_inactive_consumption(values, flags, active=False, min_kwh=1.0) == []


class TestInterpolateShortGaps:
    def test_draws_a_straight_line_between_the_neighbours(self):
        values, flags = day([1.0, 0.0, 0.0, 0.0, 5.0, 2.0], [1, 0, 0, 0, 1, 1])

        new_values, new_flags = vee.interpolate_short_gaps(values, flags, max_intervals=3)

        assert new_values[0].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 2.0]
        assert new_flags[0].tolist() == [1, 2, 2, 2, 1, 1]

    def test_leaves_long_gaps_and_gaps_at_the_edge(self):
        values, flags = day([0.0, 1.0, 0.0, 0.0, 0.0, 2.0], [0, 1, 0, 0, 0, 1])

        _, new_flags = vee.interpolate_short_gaps(values, flags, max_intervals=2)

        assert new_flags[0].tolist() == [0, 1, 0, 0, 0, 1]


class TestSameWeekdayProfile:
    def test_averages_the_same_interval_of_earlier_weeks_that_measured_it(self):
        week = 4
        values = np.array([[1.0, 2.0, 3.0, 4.0, 3.0, 0.0, 5.0, 6.0, 0.0, 0.0, 0.0, 0.0]])
        flags = np.array([[1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0]], dtype=np.uint8)

        profile = vee.same_weekday_profile(
            values, flags, target_start=8, target_length=4, intervals_per_week=week, weeks=2
        )

        assert profile[0].tolist() == [2.0, 2.0, 4.0, 5.0]

    def test_is_nan_where_no_week_has_data(self):
        profile = vee.same_weekday_profile(
            np.zeros((1, 8)),
            np.zeros((1, 8), dtype=np.uint8),
            target_start=4,
            target_length=4,
            intervals_per_week=4,
            weeks=1,
        )

        assert np.isnan(profile).all()


class TestEstimateIntervals:
    def test_fills_exactly_the_energy_the_register_says_is_missing(self):
        values, flags = day([1.0] * 8 + [0.0] * 8 + [1.0] * 8, [1] * 8 + [0] * 8 + [1] * 8)
        profile = np.full((1, 24), 2.0)

        new_values, new_flags = vee.estimate_intervals(
            values, flags, max_interpolate=4, profile=profile, register_kwh=20.0
        )

        assert new_values.sum() == pytest.approx(20.0)
        assert (new_flags[0, 8:16] == ESTIMATED).all()

    def test_estimates_nothing_when_the_register_says_nothing_was_used(self):
        values, flags = day([1.0] * 8 + [0.0] * 8 + [1.0] * 8, [1] * 8 + [0] * 8 + [1] * 8)

        new_values, new_flags = vee.estimate_intervals(
            values, flags, max_interpolate=4, profile=np.full((1, 24), 2.0), register_kwh=16.0
        )

        assert new_values[0, 8:16].tolist() == [0.0] * 8
        assert (new_flags[0, 8:16] == ESTIMATED).all()

    def test_leaves_a_long_gap_missing_without_a_profile_or_register(self):
        values, flags = day([1.0] * 8 + [0.0] * 8 + [1.0] * 8, [1] * 8 + [0] * 8 + [1] * 8)

        _, new_flags = vee.estimate_intervals(values, flags, max_interpolate=4)

        assert (new_flags[0, 8:16] == MISSING).all()


quality = st.sampled_from([MISSING, ACTUAL, ACTUAL, ACTUAL, ESTIMATED, EDITED])


@st.composite
def channel_rows(draw):
    width = draw(st.integers(min_value=1, max_value=48))
    rows = draw(st.integers(min_value=1, max_value=4))
    values = np.array(
        draw(
            st.lists(
                st.floats(min_value=0, max_value=50, allow_nan=False),
                min_size=rows * width,
                max_size=rows * width,
            )
        )
    ).reshape(rows, width)
    flags = np.array(
        draw(st.lists(quality, min_size=rows * width, max_size=rows * width)), dtype=np.uint8
    ).reshape(rows, width)
    values = np.where(flags == MISSING, 0.0, values)
    profile = np.array(
        draw(
            st.lists(
                st.one_of(st.just(np.nan), st.floats(min_value=-1, max_value=50)),
                min_size=rows * width,
                max_size=rows * width,
            )
        )
    ).reshape(rows, width)
    registers = np.array(
        draw(
            st.lists(
                st.one_of(st.just(np.nan), st.floats(min_value=0, max_value=3000)),
                min_size=rows,
                max_size=rows,
            )
        )
    )
    return values, flags, profile, registers, draw(st.integers(min_value=0, max_value=6))


class TestEstimationProperties:
    @settings(max_examples=200, deadline=None)
    @given(channel_rows())
    def test_estimates_are_non_negative_flagged_and_never_touch_present_intervals(self, case):
        values, flags, profile, registers, max_interpolate = case

        new_values, new_flags = vee.estimate_intervals(
            values, flags, max_interpolate=max_interpolate, profile=profile, register_kwh=registers
        )

        present = flags != MISSING
        assert (new_values >= 0).all()
        assert np.array_equal(new_values[present], values[present])
        assert np.array_equal(new_flags[present], flags[present])
        assert set(np.unique(new_flags[~present])) <= {MISSING, ESTIMATED}

    @settings(max_examples=200, deadline=None)
    @given(channel_rows())
    def test_a_register_bound_is_never_exceeded_by_estimates(self, case):
        values, flags, profile, registers, max_interpolate = case

        new_values, _ = vee.estimate_intervals(
            values, flags, max_interpolate=max_interpolate, profile=profile, register_kwh=registers
        )

        bounded = np.isfinite(registers)
        present_sum = np.where(flags != MISSING, values, 0.0).sum(axis=1)
        estimated_sum = np.where(flags == MISSING, new_values, 0.0).sum(axis=1)
        allowed = np.maximum(registers - present_sum, 0.0)
        assert (estimated_sum[bounded] <= allowed[bounded] + 1e-6).all()
        assert (estimated_sum[bounded] >= 0).all()


class TestFitToRegister:
    def test_a_vanishing_profile_cannot_overflow_the_estimate(self):
        values, flags = day([0.0] * 4, [MISSING] * 4)

        new_values, _ = vee.estimate_intervals(
            values,
            flags,
            max_interpolate=0,
            profile=np.array([[np.nan, np.nan, np.nan, 6e-308]]),
            register_kwh=360.0,
        )

        assert new_values.sum() == pytest.approx(360.0)
        assert np.isfinite(new_values).all()


class TestRegisterEstimate:
    def test_advances_by_average_daily_use_and_rolls_over(self):
        average = vee.average_daily_kwh(
            np.array([[10.0, 20.0, 999.0]]), np.array([[True, True, False]])
        )

        reading = vee.estimate_register_reading(
            previous_reading=99_950, average_daily_kwh=average, days=10, multiplier=1, dials=5
        )

        assert average.tolist() == [15.0]
        assert reading.tolist() == [100.0]


class TestVeeConfig:
    def test_maps_premises_and_ct_metering_to_meter_classes(self):
        assert meter_class_for(premise_type="single_family") == RESIDENTIAL
        assert meter_class_for(premise_type="commercial") == SMALL_COMMERCIAL
        assert meter_class_for(premise_type="commercial", multiplier=40) == LARGE_COMMERCIAL
        assert meter_class_for(premise_type=None) == "default"

    def test_rules_can_be_overridden_without_changing_the_table(self):
        rules = rules_for(RESIDENTIAL, spike_factor=9.0)

        assert rules.spike_factor == 9.0
        assert rules_for(RESIDENTIAL).spike_factor == 4.0


class TestHistoryPercentile:
    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.lists(
                st.tuples(
                    st.floats(min_value=-10, max_value=1e4, allow_nan=False),
                    st.sampled_from([MISSING, ACTUAL, ESTIMATED, EDITED]),
                ),
                min_size=24,
                max_size=24,
            ),
            min_size=1,
            max_size=6,
        ),
        st.sampled_from([50.0, 90.0, 95.0, 99.0]),
    )
    def test_agrees_with_numpy_over_the_measured_intervals(self, rows, percentile):
        values = np.array([[v for v, _ in row] for row in rows])
        flags = np.array([[f for _, f in row] for row in rows], dtype=np.uint8)
        masked = np.where((flags == ACTUAL) | (flags == EDITED), values, np.nan)

        got = vee.history_percentile(values, flags, percentile=percentile)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-missing rows are NaN
            expected = np.nanpercentile(masked, percentile, axis=1)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9, equal_nan=True)


class TestZeroRunsAcrossRows:
    def test_zeros_carried_from_before_count_toward_the_run(self):
        values = np.array([[0.0, 0.0, 1.0, 0.0]])
        flags = np.full((1, 4), ACTUAL, dtype=np.uint8)

        alone = vee.find_zero_runs(values, flags, occupied=True, min_intervals=4)
        carried = vee.find_zero_runs(values, flags, occupied=True, min_intervals=4, carried=2)

        assert alone == []
        assert [f.intervals for f in carried] == [(0, 1)]

    def test_the_trailing_run_adds_to_what_came_before_only_for_a_row_of_zeros(self):
        values = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
        flags = np.full((3, 3), ACTUAL, dtype=np.uint8)

        tail = vee.trailing_zero_run(values, flags, carried=np.array([5, 5, 5]))

        assert tail.tolist() == [2, 8, 0]


class TestPerRowThresholds:
    def test_spike_factor_and_floor_may_differ_by_row(self):
        values = np.array([[1.0, 5.0], [1.0, 5.0]])
        flags = np.full((2, 2), ACTUAL, dtype=np.uint8)

        found = vee.find_spikes(
            values, flags, history_level=1.0, factor=np.array([4.0, 6.0]), floor=0.0
        )

        assert [f.row for f in found] == [0]

    def test_interpolation_limit_may_differ_by_row(self):
        values = np.array([[1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 1.0]])
        flags = np.array([[ACTUAL, MISSING, MISSING, ACTUAL]] * 2, dtype=np.uint8)

        _, filled = vee.interpolate_short_gaps(values, flags, max_intervals=np.array([2, 1]))

        assert filled.tolist() == [
            [ACTUAL, ESTIMATED, ESTIMATED, ACTUAL],
            [ACTUAL] + [MISSING] * 2 + [ACTUAL],
        ]
