"""Rated bills are sealed column by column (``seal_rated``): the lines a bill shows, their
``lines_json`` text, charges, GL credits and check figures must be exactly what the rating
engine's line objects (``RatedBills.bills()``) give through a JSON encoder and
``compose.gl_totals`` / ``compose.line_facts``, and read back the same."""

import json
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ohm.billing import compose
from ohm.billing.models import decode_lines
from ohm.billing.operations import _add_periods, _determinants_head, seal_rated
from ohm.rates.calc import LineColumn, RatedBills

PRICE = Decimal("0.12430")


def _column(component, description, quantities, exp, price, amounts, **kw) -> LineColumn:
    return LineColumn(
        component=component,
        description=description,
        unit=kw.pop("unit", "kWh"),
        price=price,
        clause=kw.pop("clause", component),
        quantity=np.array(quantities, dtype=np.int64),
        exp=exp,
        amount_cents=np.array(amounts, dtype=np.int64),
        **kw,
    )


def _reference(rated: RatedBills):
    """What the line objects say, encoded by a JSON encoder."""
    out = []
    for bill in rated.bills():
        encoded = json.dumps(
            [
                [
                    line.component,
                    compose.gl_role(line.component),
                    line.description[:200],
                    str(line.quantity),
                    line.unit,
                    str(line.price),
                    line.amount_cents,
                    line.clause[:120],
                ]
                for line in bill.lines
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        charges, credits = compose.gl_totals(bill.lines)
        facts = compose.line_facts(bill.lines)
        negatives = [(n.component, n.description, n.amount_cents) for n in facts["negative_lines"]]
        out.append((encoded, charges, credits, facts["base_cents"], negatives))
    return out


def _sealed(rated: RatedBills):
    sealed = seal_rated(rated)
    return [
        (text, charges, credits, base, [(n.component, n.description, n.amount_cents) for n in neg])
        for text, charges, credits, base, neg in zip(
            sealed.lines_json,
            sealed.charges_cents,
            sealed.gl_credits,
            sealed.base_cents,
            sealed.negative_lines,
            strict=True,
        )
    ]


def test_sealed_lines_are_what_a_json_encoder_writes():
    rated = RatedBills(
        3,
        [
            _column(
                "fixed", "Fixed charge", [1, 1, 1], 0, Decimal("19.99"), [1999] * 3, always=True
            ),
            _column("energy", 'Energy "tier 1"', [152748, 0, 1000], -3, PRICE, [1899, 0, 12]),
            _column("energy", "Energía, nivel 2", [0, 5, 10], -1, PRICE, [0, 62, 124]),
            _column("energy", "Energy", [100, 100, 0], -2, PRICE, [12, 12, 0]),
            _column(
                "discount",
                "CARE \\ 20%",
                [-35, -35, -35],
                -1,
                Decimal("0.2"),
                [-70, -70, -70],
                applies=np.array([True, False, True]),
            ),
            _column("demand_flat", "Demand", [0, 0, 0], 0, Decimal("9.5"), [0, 0, 0]),
            _column(
                "tax", "Utility users tax", [3899, 3899, 3899], -2, Decimal("0.075"), [292] * 3
            ),
        ],
    )
    expected = _reference(rated)
    assert _sealed(rated) == expected
    first = json.loads(seal_rated(rated).lines_json[0])
    assert [row[3] for row in first] == ["1", "152.748", "1.00", "-3.5", "38.99"]
    # Agreement 1 has no discount (the column does not apply) and no zero energy line.
    assert [row[0] for row in json.loads(seal_rated(rated).lines_json[1])] == [
        "fixed",
        "energy",
        "energy",
        "tax",
    ]
    stored = decode_lines(seal_rated(rated).lines_json[2], segment_id=7)
    assert [(s.quantity, s.price) for s in stored][1:3] == [
        ("1.000", "0.12430"),
        ("1.0", "0.12430"),
    ]


def test_a_credit_bill_keeps_its_negative_lines_for_the_checks():
    rated = RatedBills(
        1,
        [
            _column("net_metering", "Exported", [-500], 0, Decimal("0.1"), [-5000]),
            _column("energy", "Energy", [-10], 0, Decimal("0.1"), [-100]),
            _column("tax", "Tax", [-5100], -2, Decimal("0.075"), [-383]),
        ],
    )
    sealed = seal_rated(rated)
    assert sealed.base_cents == [-5100]
    assert [n.component for n in sealed.negative_lines[0]] == ["net_metering", "energy", "tax"]
    assert _sealed(rated) == _reference(rated)


components = st.sampled_from(sorted(compose.GL_ROLE_BY_COMPONENT) + ["other"])
texts = st.text(min_size=0, max_size=12)


@st.composite
def rated_bills(draw):
    n = draw(st.integers(1, 6))
    columns = []
    for _ in range(draw(st.integers(0, 6))):
        quantities = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
        amounts = draw(st.lists(st.integers(-300, 300), min_size=n, max_size=n))
        applies = draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=n, max_size=n)))
        columns.append(
            _column(
                draw(components),
                draw(texts),
                quantities,
                draw(st.integers(-3, 1)),
                draw(st.decimals(min_value=-10, max_value=10, places=3, allow_nan=False)),
                amounts,
                unit=draw(texts),
                clause=draw(texts),
                always=draw(st.booleans()),
                applies=None if applies is None else np.array(applies),
            )
        )
    return RatedBills(n, columns)


@settings(max_examples=200, deadline=None)
@given(rated_bills())
def test_sealing_column_by_column_is_sealing_the_line_objects(rated):
    assert _sealed(rated) == _reference(rated)


def test_determinants_text_is_what_a_json_encoder_writes():
    grid = SimpleNamespace(interval_minutes=60, starts=np.zeros(743))
    start, end = date(2026, 3, 2), date(2026, 4, 1)
    wh = np.array([[1200, 0, 35], [7, 8, 9]], dtype=np.int64)
    w = np.array([[5000], [0]], dtype=np.int64)
    texts = _add_periods(["", ""], "wh_by_energy_period", [1, 2, 10], wh)
    texts = _add_periods(texts, "w_by_demand_period", [3], w)
    head = _determinants_head(grid, start, end)
    for row, text in enumerate(texts):
        expected = {
            "interval_minutes": 60,
            "intervals": 743,
            "rate_period": ["2026-03-02", "2026-04-01"],
            "wh_by_energy_period": dict(zip(["1", "2", "10"], wh[row].tolist(), strict=True)),
            "w_by_demand_period": {"3": w[row, 0].item()},
        }
        assert f"{head}{text}}}" == json.dumps(expected)
    plain = {"interval_minutes": 60, "intervals": 743, "rate_period": ["2026-03-02", "2026-04-01"]}
    assert f"{head}}}" == json.dumps(plain)


def test_a_prepared_chunk_pickles_as_columns_and_comes_back_the_same():
    import pickle

    from ohm.billing.operations import AccountFacts, Prepared, SealedSegment, _Pending

    def segment(k: int) -> SealedSegment:
        return SealedSegment(
            k,
            "R1",
            "[]",
            date(2026, 3, 2),
            date(2026, 4, 1),
            30,
            1000 + k,
            0,
            9,
            0.0,
            0.5,
            "{}",
            1234,
            "[]",
            {"revenue_energy": -1234},
        )

    bills = [
        _Pending(
            1, [segment(1)], 1234, False, 0, True, False, "[]", date(2026, 3, 2), date(2026, 4, 1)
        ),
        _Pending(
            2,
            [segment(2), segment(3)],
            2468,
            True,
            2,
            False,
            True,
            '[{"code": "missing_reads", "message": "…"}]',
            date(2026, 3, 2),
            date(2026, 4, 1),
        ),
    ]
    accounts = {
        1: AccountFacts("100-1", "en", True),
        2: AccountFacts("100-2", "es", False),
        3: AccountFacts("100-3", "en", False),
    }
    prepared = Prepared(accounts, [1, 2, 3], {3: date(2026, 3, 2)}, 1, bills)
    back = pickle.loads(pickle.dumps(prepared))
    assert back.bills == bills
    assert back.accounts == accounts
    assert type(back.bills[1]) is _Pending
    assert type(back.bills[1].segments[1]) is SealedSegment
    assert (back.agreement_ids, back.through, back.skipped) == ([1, 2, 3], {3: date(2026, 3, 2)}, 1)
    empty = pickle.loads(pickle.dumps(Prepared({}, [], {}, 0, [])))
    assert (empty.bills, empty.accounts) == ([], {})
