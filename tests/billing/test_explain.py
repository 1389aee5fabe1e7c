"""“Why is my bill so high?”: the decomposition is exact and the sentences name the causes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ohm.billing import operations, queries
from ohm.billing.explain import BillFacts, decompose, explain
from ohm.core.audit import SystemActor
from tests.billing.support import delivered_channel, served_with_rate, store_local_days


def facts(days=30, wh=600_000, energy=6000, fixed=1000, other=525, **kw) -> BillFacts:
    return BillFacts(
        number="B1",
        start_date=date(2026, 3, 1),
        end_date=date(2026, 3, 1).fromordinal(date(2026, 3, 1).toordinal() + days),
        usage_wh=wh,
        energy_cents=energy,
        fixed_cents=fixed,
        demand_cents=0,
        other_cents=other,
        total_cents=energy + fixed + other,
        **kw,
    )


class TestDecompose:
    def test_more_days_and_more_usage_per_day(self):
        before = facts(days=30, wh=600_000, energy=6000)
        after = facts(days=33, wh=990_000, energy=9900)  # 20 → 30 kWh a day, same price

        parts = {p.key: p.cents for p in decompose(after, before)}

        assert parts["days"] == 600  # 3 days × 20 kWh × $0.10
        assert parts["usage"] == 3300  # 33 days × 10 kWh × $0.10
        assert "price" not in parts

    def test_a_price_change_alone_is_the_price_part(self):
        before = facts(energy=6000)
        after = facts(energy=6600)

        assert [(p.key, p.cents) for p in decompose(after, before)] == [("price", 600)]

    @given(
        st.integers(1, 40),
        st.integers(1, 40),
        st.integers(0, 5_000_000),
        st.integers(0, 5_000_000),
        st.integers(-50_000, 500_000),
        st.integers(-50_000, 500_000),
        st.integers(0, 10_000),
        st.integers(-5_000, 10_000),
    )
    def test_parts_always_sum_to_the_change(self, d0, d1, w0, w1, e0, e1, f1, o1):
        before = facts(days=d0, wh=w0, energy=e0)
        after = facts(days=d1, wh=w1, energy=e1, fixed=f1, other=o1)

        assert (
            sum(p.cents for p in decompose(after, before)) == after.total_cents - before.total_cents
        )


class TestExplain:
    def test_names_the_main_causes_in_plain_words(self):
        before = facts(days=30, wh=600_000, energy=6000)
        after = facts(days=30, wh=900_000, energy=9000, estimated=True)

        text = " ".join(
            explain(
                after,
                previous=before,
                last_year=None,
                daily_kwh=[(date(2026, 3, d), Decimal(10)) for d in range(1, 29)]
                + [(date(2026, 3, 29), Decimal(200))],
            ).points
        )

        assert "$30.00 higher than the previous bill" in text
        assert "30.0 kWh a day, 50% more" in text
        assert "estimated reads" in text
        assert "Sun Mar 29 (200 kWh)" in text


@pytest.mark.django_db
class TestExplainBill:
    def test_a_second_bill_is_explained_against_the_first(self):
        account = served_with_rate()
        channel = delivered_channel(account)
        store_local_days(channel, date(2026, 3, 1), date(2026, 4, 1), kwh=1.0)
        store_local_days(
            channel, date(2026, 4, 1), date(2026, 5, 1), kwh=1.0, per_day={date(2026, 4, 20): 5.0}
        )
        actor = SystemActor("tests")
        for read, bill_day, due in (
            (date(2026, 4, 1), date(2026, 4, 2), date(2026, 4, 23)),
            (date(2026, 5, 1), date(2026, 5, 4), date(2026, 5, 26)),
        ):
            operations.bill_accounts(
                account_ids=[account.pk],
                dates=operations.BillDates(1, read, bill_day, due),
                at=datetime.combine(bill_day, datetime.min.time(), tzinfo=UTC),
                actor=actor,
            )
        second = queries.list_bills(account_id=account.pk).first()

        result = queries.explain_bill(second)

        assert result.previous is not None
        assert result.explanation.comparisons[0].against == "previous bill"
        assert result.explanation.top_days[0].label == "Mon Apr 20"
        assert result.explanation.top_days[0].kwh == Decimal("120.000")
        assert len(result.profile.daily) == 30
