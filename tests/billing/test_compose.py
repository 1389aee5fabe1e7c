"""Bill composition: journal lines balance, exception checks name what is wrong."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ohm.billing import compose

RULES = compose.Rules(
    {
        "high_usage": Decimal(3),
        "low_usage": Decimal("0.2"),
        "zero_usage": None,
        "estimated_streak": Decimal(3),
        "negative_line": None,
        "implausible_total": Decimal(5000),
        "missing_rate": None,
        "missing_reads": Decimal("0.1"),
    }
)


def line(component: str, cents: int) -> compose.Line:
    return compose.Line(component, component, Decimal(1), "", Decimal(1), cents, "")


def segment(usage_wh=600_000, days=30, lines=(), **kw) -> compose.SegmentFacts:
    defaults = dict(estimated_share=0.0, missing_share=0.0, rated=True)
    defaults.update(kw)
    return compose.SegmentFacts(1, days, usage_wh, lines=tuple(lines), **defaults)


def codes(**kw) -> list[str]:
    params = dict(history=compose.History(), is_estimated=False, rules=RULES)
    segments = kw.pop("segments", [segment()])
    params.update(kw)
    return [e.code for e in compose.check_bill(segments=segments, **params)]


class TestCheckBill:
    def test_a_normal_bill_passes(self):
        assert codes(history=compose.History(7_200_000, 360, 0)) == []

    def test_usage_far_above_or_below_the_12_month_average(self):
        history = compose.History(usage_wh=1_800_000, days=360)  # 5 kWh a day
        assert codes(history=history) == ["high_usage"]  # 20 kWh a day
        assert codes(history=history, segments=[segment(usage_wh=20_000)]) == ["low_usage"]

    def test_zero_usage_missing_reads_and_missing_rate(self):
        assert codes(segments=[segment(usage_wh=0)]) == ["zero_usage"]
        assert codes(segments=[segment(missing_share=0.5)]) == ["missing_reads"]
        assert codes(segments=[segment(rated=False)]) == ["missing_rate"]

    def test_the_third_estimated_bill_in_a_row(self):
        assert codes(is_estimated=True, history=compose.History(estimated_streak=1)) == []
        assert codes(is_estimated=True, history=compose.History(estimated_streak=2)) == [
            "estimated_streak"
        ]

    def test_negative_lines_except_credits_and_taxes_on_a_credit(self):
        assert codes(segments=[segment(lines=[line("energy", -100)])]) == ["negative_line"]
        assert codes(segments=[segment(lines=[line("energy", 900), line("discount", -100)])]) == []
        net_metering = [line("fixed", 1000), line("net_metering", -5000), line("tax", -300)]
        assert codes(segments=[segment(lines=net_metering)]) == []
        assert codes(segments=[segment(lines=[line("energy", 500), line("tax", -1)])]) == [
            "negative_line"
        ]

    def test_an_implausible_total(self):
        assert codes(segments=[segment(lines=[line("energy", 600_000)])]) == ["implausible_total"]

    def test_inactive_rules_are_not_checked(self):
        assert (
            compose.check_bill(
                segments=[segment(usage_wh=0)],
                history=compose.History(),
                is_estimated=False,
                rules=compose.Rules({}),
            )
            == []
        )


class TestJournalLines:
    @given(
        st.lists(
            st.lists(
                st.tuples(
                    st.sampled_from(sorted(compose.GL_ROLE_BY_COMPONENT)),
                    st.integers(-100_000, 100_000),
                ),
                max_size=8,
            ),
            min_size=1,
            max_size=3,
        )
    )
    def test_every_entry_balances_and_receivables_carry_the_charges(self, segments):
        by_agreement = {
            k: [line(component, cents) for component, cents in lines]
            for k, lines in enumerate(segments)
        }

        entry = compose.journal_lines(by_agreement)

        assert sum(e.amount_cents for e in entry) == 0
        assert all(e.amount_cents for e in entry)
        for k, lines in by_agreement.items():
            receivable = [e for e in entry if e.role == "receivables" and e.agreement_id == k]
            charged = sum(item.amount_cents for item in lines)
            assert sum(e.amount_cents for e in receivable) == charged


class TestSummary:
    def test_payments_and_adjustments_are_split_by_kind(self):
        summary = compose.summarize(
            opening_cents=10_000,
            activity=[("payment", -10_000), ("adjustment", -500), ("fee", 1_000)],
            new_charges_cents=8_000,
        )

        assert (summary.payments_cents, summary.adjustments_cents) == (-10_000, 500)
        assert summary.total_due_cents == 8_500
