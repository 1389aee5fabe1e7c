"""Rate comparison: a year of the customer's own hourly usage priced under the current rate
and every eligible one, checked against a hand calculation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from ohm.agreements import operations as agreement_operations
from ohm.agreements.rate_comparison import compare_rates, comparison_months
from ohm.metering import operations as metering_operations
from ohm.metering.models import MeterChannel, Quality
from ohm.metering.store import DayVector, save_interval_days
from tests.factories import make_account, make_meter, make_premise, make_service_point
from tests.rates.support import (
    SYSTEM,
    approved_version,
    flat_document,
    make_schedule,
    tou_document,
)

AS_OF = date(2026, 3, 15)
LONG_AGO = datetime(2024, 1, 1, 8, tzinfo=UTC)


def served(rate, *, kind: str = "ami"):
    """An account on ``rate`` at a premise in territory T, its meter installed in 2024."""
    account = make_account(opened=date(2024, 1, 1))
    point = make_service_point(make_premise(baseline_territory="T", heat_source="gas"))
    meter = make_meter(kind=kind)
    metering_operations.install_meter(
        meter=meter, service_point=point, installed_at=LONG_AGO, actor=SYSTEM, at=LONG_AGO
    )
    agreement = agreement_operations.start_service(
        account=account,
        service_point=point,
        rate_schedule=rate,
        start_date=date(2024, 1, 1),
        actor=SYSTEM,
        at=LONG_AGO,
    )
    agreement.refresh_from_db()
    return agreement, meter


def store_hourly(meter, first: date, last: date, kwh: float = 1.0, measure="kwh_delivered"):
    """``kwh`` in every hour of the UTC days ``[first, last]``."""
    channel = meter.channels.get(measure=measure)
    days = (last - first).days + 1
    save_interval_days(
        days=[
            DayVector(
                channel.pk,
                first + timedelta(days=k),
                60,
                np.full(24, kwh, dtype=np.float32),
                np.full(24, Quality.ACTUAL, dtype=np.uint8),
            )
            for k in range(days)
        ],
        recorded_at=LONG_AGO,
        source="test",
    )


@pytest.fixture
def rates(db):
    current = make_schedule("RES-1")
    approved_version(current, date(2024, 1, 1), flat_document("0.20", fixed="10.00"))
    approved_version(current, date(2025, 7, 16), flat_document("0.30", fixed="10.00"))
    tou = make_schedule("RES-TOU", requires_interval_meter=True)
    approved_version(tou, date(2024, 1, 1), tou_document("0.15", "0.30", fixed="10.00"))
    ev = make_schedule("RES-EV", requires_interval_meter=True, required_program="ev")
    approved_version(ev, date(2024, 1, 1), tou_document("0.05", "0.40"))
    shop = make_schedule("A-1", customer_class="small_commercial")
    approved_version(shop, date(2024, 1, 1), flat_document("0.01"))
    return {"current": current, "tou": tou, "ev": ev, "shop": shop}


def test_comparison_months_are_the_twelve_whole_months_before_as_of():
    months = comparison_months(AS_OF)

    assert months[0] == (date(2025, 3, 1), date(2025, 4, 1))
    assert months[-1] == (date(2026, 2, 1), date(2026, 3, 1))
    assert len(months) == 12


@pytest.mark.django_db
class TestCompareRates:
    def test_prices_every_month_under_each_eligible_rate_by_hand(self, rates):
        agreement, meter = served(rates["current"])
        store_hourly(meter, date(2025, 2, 28), date(2026, 3, 1))

        comparison = compare_rates(agreement=agreement, as_of=AS_OF)

        assert [o.schedule.code for o in comparison.options] == ["RES-1", "RES-TOU"]
        assert [e.schedule.code for e in comparison.ineligible] == ["RES-EV"]
        current, tou = comparison.options
        months = {m.start_date: k for k, m in enumerate(comparison.months)}
        january, march, july = (
            months[date(2026, 1, 1)],
            months[date(2025, 3, 1)],
            months[date(2025, 7, 1)],
        )
        # January 2026: 744 kWh. Flat: 744 × 0.30 + 10 = 233.20 (the July change is in force).
        assert comparison.months[january].delivered_kwh == 744
        assert current.month_cents[january] == 233_20
        # TOU: 31 days × 5 peak hours = 155 kWh × 0.30 + 589 × 0.15 + 10 = 144.85.
        assert tou.month_cents[january] == 144_85
        assert comparison.difference_cents(tou)[january] == 144_85 - 233_20
        # March 2025 has the spring change: 743 hours. Flat at 0.20: 148.60 + 10.
        assert comparison.months[march].delivered_kwh == 743
        assert current.month_cents[march] == 158_60
        assert tou.month_cents[march] == 46_50 + 88_20 + 10_00
        # July 2025 is prorated across the change on the 16th: 15 days at 0.20, 16 at 0.30;
        # the $10 customer charge split 15/31 and 16/31 (4.84 + 5.16).
        assert current.month_cents[july] == 360 * 20 + 384 * 30 + 484 + 516

    def test_the_year_difference_is_the_sum_of_the_months(self, rates):
        agreement, meter = served(rates["current"])
        store_hourly(meter, date(2025, 2, 28), date(2026, 3, 1))

        comparison = compare_rates(agreement=agreement, as_of=AS_OF)

        tou = comparison.options[1]
        assert (
            comparison.year_difference_cents(tou)
            == tou.total_cents - comparison.current.total_cents
        )
        assert comparison.year_difference_cents(tou) == sum(comparison.difference_cents(tou))
        assert comparison.year_difference_cents(tou) < 0  # flat usage saves on TOU

    def test_months_without_data_are_left_out_for_every_rate(self, rates):
        agreement, meter = served(rates["current"])
        store_hourly(meter, date(2025, 11, 2), date(2026, 3, 1))  # from Nov 1, 5 pm local

        comparison = compare_rates(agreement=agreement, as_of=AS_OF)

        assert comparison.priced_months == 4
        for option in comparison.options:
            assert option.month_cents[:8] == [None] * 8
            assert None not in option.month_cents[8:]

    def test_an_ev_rate_customer_may_compare_ev_rates(self, rates):
        agreement, meter = served(rates["ev"])
        store_hourly(meter, date(2025, 2, 28), date(2026, 3, 1))

        comparison = compare_rates(agreement=agreement, as_of=AS_OF)

        assert comparison.current.schedule.code == "RES-EV"
        assert {o.schedule.code for o in comparison.options} == {"RES-1", "RES-TOU", "RES-EV"}

    def test_a_manual_meter_has_nothing_to_compare(self, rates):
        agreement, _ = served(rates["current"], kind="manual")

        comparison = compare_rates(agreement=agreement, as_of=AS_OF)

        assert comparison.note
        assert [e.schedule.code for e in comparison.ineligible] == ["RES-EV", "RES-TOU"]
        assert comparison.options[0].month_cents == [None] * 12

    def test_energy_received_makes_net_metering_rates_eligible(self, rates):
        nem = make_schedule(
            "RES-NEM", requires_interval_meter=True, required_program="net_metering"
        )
        approved_version(nem, date(2024, 1, 1), flat_document("0.20"))
        agreement, meter = served(rates["current"])
        store_hourly(meter, date(2025, 2, 28), date(2026, 3, 1))
        store_hourly(
            meter,
            date(2025, 6, 1),
            date(2025, 6, 30),
            kwh=0.5,
            measure=MeterChannel.Measure.KWH_RECEIVED,
        )

        comparison = compare_rates(agreement=agreement, as_of=AS_OF)

        assert "RES-NEM" in {o.schedule.code for o in comparison.options}
        june = [m.start_date for m in comparison.months].index(date(2025, 6, 1))
        assert comparison.months[june].received_kwh == pytest.approx(0.5 * 24 * 30, abs=12)

    def test_a_rate_without_a_version_says_so(self, rates):
        late = make_schedule("RES-NEW")
        approved_version(late, date(2025, 12, 1), flat_document("0.10"))
        agreement, meter = served(rates["current"])
        store_hourly(meter, date(2025, 2, 28), date(2026, 3, 1))

        comparison = compare_rates(agreement=agreement, as_of=AS_OF)

        option = next(o for o in comparison.options if o.schedule.code == "RES-NEW")
        assert "no approved version" in option.problem
        assert option.month_cents[-3:] != [None] * 3
        assert option.month_cents[:9] == [None] * 9
