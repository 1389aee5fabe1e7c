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
    return compose.SegmentFacts(1, days, usage_wh, **compose.line_facts(lines), **defaults)


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


def _reference_check(segments, history, is_estimated, rules) -> list[tuple[str, str]]:
    """The rules one bill at a time, plainly (what ``check_bills`` does as columns)."""
    found = []
    usage = sum(s.usage_wh for s in segments)
    days = sum(s.days for s in segments)
    for s in segments:
        if rules.on("missing_rate") and not s.rated:
            found.append(("missing_rate", s.agreement_id))
    limit = float(rules.threshold("missing_reads", "0.1"))
    for s in segments:
        if rules.on("missing_reads") and s.missing_share > limit:
            found.append(("missing_reads", s.agreement_id))
    average = history.wh_per_day
    per_day = usage / days if days else 0.0
    reads_missing = any(s.missing_share > 0.5 for s in segments)
    active = any(s.premise_active for s in segments)
    if rules.on("zero_usage") and usage == 0 and not reads_missing and active:
        found.append(("zero_usage", None))
    if average and usage > 0:
        if rules.on("high_usage") and per_day > float(rules.threshold("high_usage", "3")) * average:
            found.append(("high_usage", round(per_day / average, 1)))
        if rules.on("low_usage") and per_day < float(rules.threshold("low_usage", "0.2")) * average:
            found.append(("low_usage", round(per_day / average, 2)))
    streak = history.estimated_streak + 1
    if (
        rules.on("estimated_streak")
        and is_estimated
        and streak >= int(rules.threshold("estimated_streak", "3"))
    ):
        found.append(("estimated_streak", streak))
    lines = [line for s in segments for line in s.negative_lines]
    credit = sum(s.base_cents for s in segments) < 0
    for line in lines:
        allowed = compose.CREDIT_COMPONENTS | (compose.PERCENTS if credit else frozenset())
        if rules.on("negative_line") and line.component not in allowed:
            found.append(("negative_line", line.amount_cents))
    if rules.on("implausible_total") and sum(s.charges_cents for s in segments) > 500_000:
        found.append(("implausible_total", None))
    return found


def _detail(exception: compose.Exception_, segments) -> tuple[str, object]:
    """What ``_reference_check`` records of an exception, read from its words."""
    code, message = exception.code, exception.message
    if code in ("missing_rate", "missing_reads"):
        return code, int(message.split(":")[0].removeprefix("Agreement "))
    if code in ("high_usage", "low_usage"):
        return code, float(message.split(" is ")[1].split("×")[0])
    if code == "estimated_streak":
        return code, int(message.split()[1])
    if code == "negative_line":
        return code, round(float(message.split(" is ")[-1].split(",")[0]) * 100)
    return code, None


facts = st.builds(
    lambda agreement, days, usage, est, missing, rated, active, lines: compose.SegmentFacts(
        agreement, days, usage, est, missing, rated, active, **compose.line_facts(lines)
    ),
    st.integers(1, 99),
    st.integers(0, 40),
    st.sampled_from([0, 1, 999, 300_000, 600_000, 2_000_000]),
    st.sampled_from([0.0, 0.04, 0.05, 0.5, 1.0]),
    st.sampled_from([0.0, 0.1, 0.11, 0.5, 0.51, 1.0]),
    st.booleans(),
    st.booleans(),
    st.lists(
        st.builds(
            line,
            st.sampled_from(["energy", "discount", "net_metering", "tax", "fixed"]),
            st.integers(-600_000, 600_000),
        ),
        max_size=4,
    ),
)


@given(
    st.lists(
        st.tuples(
            st.lists(facts, min_size=1, max_size=3),
            st.builds(
                compose.History,
                st.sampled_from([0, 1_800_000, 7_200_000, 18_000_000]),
                st.sampled_from([0, 30, 360]),
                st.integers(0, 4),
            ),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sets(st.sampled_from(sorted(RULES.thresholds))),
)
def test_checking_a_chunk_as_columns_is_checking_each_bill_plainly(bills, off):
    rules = compose.Rules({k: v for k, v in RULES.thresholds.items() if k not in off})
    segments = [s for mine, _, _ in bills for s in mine]
    columns = compose.SegmentColumns.of(
        segments, [k for k, (mine, _, _) in enumerate(bills) for _ in mine]
    )
    history = compose.HistoryColumns.of([h for _, h, _ in bills])
    estimated = [e for _, _, e in bills]

    found = compose.check_bills(columns, history, estimated, rules)

    for (mine, past, is_estimated), exceptions in zip(bills, found, strict=True):
        assert [_detail(e, mine) for e in exceptions] == _reference_check(
            mine, past, is_estimated, rules
        )
