"""A prepared bill's lines are written as the JSON their segment row holds: what ``_seal``
formats piece by piece must be exactly what a JSON encoder writes, and read back the same."""

import json
from datetime import date
from decimal import Decimal

from ohm.billing import compose
from ohm.billing.models import decode_lines
from ohm.billing.operations import _seal, _Segment
from ohm.rates.calc import BillLine

PRICE = Decimal("0.12430")


def _segment(lines) -> _Segment:
    agreement = {
        "id": 1,
        "account_id": 1,
        "rate_schedule__code": "T-FLAT",
        "start_date": date(2026, 3, 1),
        "end_date": None,
    }
    return _Segment(agreement, date(2026, 3, 1), date(2026, 4, 1), lines=list(lines))


def test_sealed_lines_are_what_a_json_encoder_writes():
    lines = [
        BillLine("fixed", "Fixed charge", Decimal("1"), "month", Decimal("19.99"), 1999, "fixed"),
        BillLine("energy", 'Energy "tier 1"', Decimal("152.748"), "kWh", PRICE, 1899, "e p1 t1"),
        BillLine("energy", "Energía, nivel 2", Decimal("0.000"), "kWh", PRICE, 0, "e p1 t2"),
        BillLine("energy", "Energy", Decimal("1.0"), "kWh", PRICE, 12, "e"),
        BillLine("energy", "Energy", Decimal("1.00"), "kWh", PRICE, 12, "e"),
        BillLine("discount", "CARE \\ 20%", Decimal("-3.5"), "$", Decimal("0.2"), -70, "d"),
        BillLine("tax", "Utility users tax", Decimal("38.99"), "$", Decimal("0.075"), 292, "t"),
    ]
    texts: dict = {}
    segment = _segment(lines)
    _seal(segment, texts, {})
    expected = [
        [
            line.component,
            compose.gl_role(line.component),
            line.description,
            str(line.quantity),
            line.unit,
            str(line.price),
            line.amount_cents,
            line.clause,
        ]
        for line in lines
    ]
    assert json.loads(segment.lines_json) == expected
    assert segment.lines_json == json.dumps(expected, ensure_ascii=False, separators=(",", ":"))
    assert segment.charges_cents == sum(line.amount_cents for line in lines)
    assert segment.gl_credits["revenue_energy"] == -(1899 + 0 + 12 + 12)
    stored = decode_lines(segment.lines_json, segment_id=7)
    assert [(s.quantity, s.price) for s in stored][3:5] == [("1.0", "0.12430"), ("1.00", "0.12430")]

    # The texts are shared across a chunk: a second segment reuses them and stays exact.
    again = _segment(lines[:2])
    _seal(again, texts, {})
    assert json.loads(again.lines_json) == expected[:2]
