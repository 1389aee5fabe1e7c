"""The demo utility's tariffs: approved, valid versions with the 2023 residential prices, a
mid-year change on E-1, and every demo agreement on a rate its service is eligible for."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ohm.agreements.models import ServiceAgreement
from ohm.batch.demo import build_demo_utility, ensure_demo_rates
from ohm.batch.demo_rates import ensure_demo_rate_versions, rate_change_date
from ohm.metering.models import Meter
from ohm.rates import queries
from ohm.rates.models import RateVersion

AS_OF = date(2026, 3, 3)


@pytest.mark.django_db
class TestDemoRates:
    def test_every_schedule_has_an_approved_version_and_e1_a_change(self):
        rates = ensure_demo_rates()

        added = ensure_demo_rate_versions(rates, as_of=AS_OF)

        assert added == 7
        assert set(RateVersion.objects.values_list("status", flat=True)) == {"approved"}
        e1 = rates["E-1"]
        before = queries.get_version_in_effect(schedule=e1, on_date=date(2025, 9, 30))
        after = queries.get_version_in_effect(schedule=e1, on_date=rate_change_date(AS_OF))
        assert rate_change_date(AS_OF) == date(2025, 10, 1)
        old, new = queries.tariff_of(before), queries.tariff_of(after)
        assert [t.rate for t in old.energy_rates[0]] == [
            Decimal("0.12430"),
            Decimal("0.19794"),
            Decimal("0.29453"),
        ]
        assert old.fixed_charge == Decimal("19.99")
        assert old.baseline.tier_percents == (Decimal(100), Decimal(130))
        assert new.energy_rates[0][0].rate == Decimal("0.12927")  # 4% up
        assert [t.code for t in old.taxes] == ["UUT"]
        assert old.taxes[0].percent == Decimal("7.5")
        assert old.discounts[0].percent == Decimal(25)

    def test_is_idempotent(self):
        rates = ensure_demo_rates()
        ensure_demo_rate_versions(rates, as_of=AS_OF)

        assert ensure_demo_rate_versions(rates, as_of=AS_OF) == 0
        assert RateVersion.objects.count() == 7

    def test_demo_agreements_are_on_rates_they_may_have(self):
        build_demo_utility(accounts=120, seed=5, as_of=AS_OF)

        agreements = ServiceAgreement.objects.select_related("rate_schedule").prefetch_related(
            "service_point__meter_installations__meter"
        )
        for agreement in agreements:
            meters = [i.meter for i in agreement.service_point.meter_installations.all()]
            has_interval = any(m.kind == Meter.Kind.AMI for m in meters)
            schedule = agreement.rate_schedule
            verdict = queries.check_eligibility(
                schedule,
                customer_class=schedule.customer_class,
                has_interval_meter=has_interval,
                programs={schedule.required_program},
            )
            assert verdict.eligible, (agreement.number, schedule.code, verdict.reason)
