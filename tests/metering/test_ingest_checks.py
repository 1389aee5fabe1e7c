"""VEE in the import pass: validation against each channel's carried history, stored as notes."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from ohm.metering import operations as metering_operations
from ohm.metering.models import IntervalDay, Quality, ReadException
from ohm.metering.store import load_intervals
from tests.factories import make_service_point
from tests.metering.ingest_support import ACTOR, IMPORT_AT, meter, run, write

HEADER = "meter,channel,interval_end,value,quality\n"


def quarter_hours(serial, day, values, skip=()):
    """CSV lines of one 15-minute day; slots in ``skip`` left out."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    return "".join(
        f"{serial},1,{(start + timedelta(minutes=15 * (i + 1))).isoformat().replace('+00:00', 'Z')},{v},A\n"
        for i, v in enumerate(values)
        if i not in skip
    )


def codes(result, serial):
    return sorted({f.code for f in result.vee_findings if f.meter_serial == serial})


DAY1, DAY2 = date(2026, 3, 1), date(2026, 3, 2)


@pytest.mark.django_db
class TestSpikes:
    def test_a_value_far_above_the_day_before_is_a_spike(self, tmp_path):
        # given a channel whose day before was flat at 0.3 kWh per quarter hour
        meter("V1", minutes=15)
        run(write(tmp_path, "d1.csv", HEADER + quarter_hours("V1", DAY1, [0.3] * 96)))
        values = [0.3] * 96
        values[40] = 9.0

        # when the next day has one 9 kWh quarter hour (36 kW, over 4 × 0.3 and the floor)
        result = run(write(tmp_path, "d2.csv", HEADER + quarter_hours("V1", DAY2, values)))

        # then it is reported at that interval, and stored as read
        spike = next(f for f in result.vee_findings if f.code == "spike")
        assert spike.intervals == (40,)
        assert spike.day == DAY2
        got = load_intervals(
            channel=spike_channel(),
            start_at=datetime(2026, 3, 2, tzinfo=UTC),
            end_at=datetime(2026, 3, 3, tzinfo=UTC),
        )
        assert got.values[40] == pytest.approx(9.0)
        assert got.flags[40] == Quality.ACTUAL

    def test_a_channel_without_history_is_not_judged(self, tmp_path):
        meter("V2", minutes=15)
        values = [0.3] * 96
        values[40] = 9.0

        result = run(write(tmp_path, "d2.csv", HEADER + quarter_hours("V2", DAY2, values)))

        assert "spike" not in codes(result, "V2")

    def test_a_small_channel_is_not_judged_below_the_floor(self, tmp_path):
        # 0.4 kWh in a quarter hour is 1.6 kW, under the 2 kW floor, even at 10 × the usual
        meter("V3", minutes=15)
        run(write(tmp_path, "d1.csv", HEADER + quarter_hours("V3", DAY1, [0.04] * 96)))
        values = [0.04] * 96
        values[10] = 0.4

        result = run(write(tmp_path, "d2.csv", HEADER + quarter_hours("V3", DAY2, values)))

        assert "spike" not in codes(result, "V3")

    def test_the_level_carried_is_a_month_long_average_of_daily_highs(self, tmp_path):
        meter("V4", minutes=15)
        run(write(tmp_path, "d1.csv", HEADER + quarter_hours("V4", DAY1, [0.3] * 96)))

        run(write(tmp_path, "d2.csv", HEADER + quarter_hours("V4", DAY2, [0.6] * 96)))

        levels = dict(
            IntervalDay.objects.filter(channel__meter__serial="V4").values_list("day", "vee_level")
        )
        assert levels[DAY1] == pytest.approx(0.3)
        assert levels[DAY2] == pytest.approx(0.3 + (0.6 - 0.3) / 30)


def spike_channel():
    from ohm.metering.models import MeterChannel

    return MeterChannel.objects.get(meter__serial="V1", number=1)


@pytest.mark.django_db
class TestGapsAndNegatives:
    def test_a_missing_interval_inside_the_file_is_a_gap_and_stays_missing(self, tmp_path):
        meter("G1", minutes=15)

        result = run(
            write(tmp_path, "g.csv", HEADER + quarter_hours("G1", DAY1, [0.3] * 96, skip={50}))
        )

        gap = next(f for f in result.vee_findings if f.code == "unestimated_gap")
        assert gap.intervals == (50,)
        assert result.intervals_loaded == 95

    def test_a_file_that_starts_at_noon_has_no_gap_before_it(self, tmp_path):
        meter("G2", minutes=15)

        result = run(
            write(tmp_path, "g.csv", HEADER + quarter_hours("G2", DAY1, [0.3] * 96, skip=range(48)))
        )

        assert codes(result, "G2") == []

    def test_a_negative_energy_read_is_reported_and_loaded(self, tmp_path):
        meter("G3", minutes=15)
        values = [0.3] * 96
        values[7] = -1.5

        result = run(write(tmp_path, "n.csv", HEADER + quarter_hours("G3", DAY1, values)))

        assert codes(result, "G3") == ["negative"]
        assert result.intervals_loaded == 96

    def test_findings_are_notes_on_the_import_not_exceptions(self, tmp_path):
        meter("G4", minutes=15)

        result = run(
            write(tmp_path, "g.csv", HEADER + quarter_hours("G4", DAY1, [0.3] * 96, skip={5}))
        )

        note = ReadException.objects.get(read_import=result.read_import)
        assert (note.code, note.loaded, note.meter_ref, note.channel_ref) == (
            "vee_unestimated_gap",
            True,
            "G4",
            "1",
        )
        assert result.read_import.exception_count == 0

    def test_without_vee_nothing_is_found_or_carried(self, tmp_path):
        meter("G5", minutes=15)

        result = run(
            write(tmp_path, "g.csv", HEADER + quarter_hours("G5", DAY1, [0.3] * 96, skip={5})),
            vee=False,
        )

        assert result.vee_findings == []
        assert IntervalDay.objects.get(channel__meter__serial="G5").vee_level is None


@pytest.mark.django_db
class TestZeroRuns:
    def test_zeros_across_midnight_add_up_at_an_active_service_point(self, tmp_path):
        # given a meter installed at an active, energized service point, a residential
        # premise (72 hours of zeros are suspect), with zeros from noon of day 1
        m = meter("Z1", minutes=15)
        metering_operations.install_meter(
            meter=m,
            service_point=make_service_point(),
            installed_at=datetime(2026, 2, 1, tzinfo=UTC),
            actor=ACTOR,
            at=IMPORT_AT,
        )
        day1 = [0.3] * 48 + [0.0] * 48
        run(write(tmp_path, "z1.csv", HEADER + quarter_hours("Z1", DAY1, day1)))
        days = [date(2026, 3, 2) + timedelta(days=k) for k in range(3)]

        # when three more whole days of zeros arrive, one file each
        found = []
        for day in days:
            result = run(
                write(tmp_path, f"z{day}.csv", HEADER + quarter_hours("Z1", day, [0.0] * 96))
            )
            found.append(codes(result, "Z1"))

        # then the run is reported once it passes 72 hours (day 4: 12 + 72 hours)
        assert found == [[], [], ["zero_run"]]
        assert IntervalDay.objects.get(channel__meter__serial="Z1", day=days[-1]).vee_zero_run == (
            48 + 3 * 96
        )

    def test_a_meter_in_the_shop_is_not_judged_for_zeros(self, tmp_path):
        meter("Z2", minutes=15)

        result = run(
            write(
                tmp_path,
                "z.csv",
                HEADER
                + "".join(
                    quarter_hours("Z2", date(2026, 3, 1) + timedelta(days=k), [0.0] * 96)
                    for k in range(4)
                ),
            )
        )

        assert "zero_run" not in codes(result, "Z2")
        assert np.isfinite(
            IntervalDay.objects.filter(channel__meter__serial="Z2").latest("day").vee_zero_run
        )


@pytest.mark.django_db
class TestChannelOrder:
    def test_meters_whose_serials_sort_against_their_ids_are_checked(self, tmp_path):
        # given meters registered in the opposite order to their serials
        meter("ZZ9", minutes=15)
        meter("AA1", minutes=15)
        text = (
            HEADER
            + quarter_hours("ZZ9", DAY1, [0.3] * 96, skip={9})
            + quarter_hours("AA1", DAY1, [0.3] * 96, skip={20})
        )

        result = run(write(tmp_path, "o.csv", text))

        assert sorted((f.meter_serial, f.intervals) for f in result.vee_findings) == [
            ("AA1", (20,)),
            ("ZZ9", (9,)),
        ]
