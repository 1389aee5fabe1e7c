"""An entry's lines in the one-row layout (ADR 0005). Pure: no Django.

A journal entry is one row. ``split`` sorts its lines into that row's parts:

- the first receivable line → the entry's inline receivable columns;
- further receivable lines → ``ReceivableExtra`` rows (position 1, 2, …);
- every other line → the compact JSON array ``other_lines``, one item per line:
  ``[gl_account_id, cents]``, or ``[gl_account_id, cents, account_id, agreement_id, memo]``
  when the line names a customer, an agreement or a memo.

``join`` puts them back in that order, so ``join(*split(lines))`` returns the same lines
with receivables first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Line:
    gl_account_id: int
    amount_cents: int
    account_id: int | None = None
    agreement_id: int | None = None
    due_date: date | None = None
    category: str = "charge"
    memo: str = ""
    receivable: bool = False


def encode_other(line: Line) -> list:
    if line.account_id is None and line.agreement_id is None and not line.memo:
        return [line.gl_account_id, line.amount_cents]
    return [line.gl_account_id, line.amount_cents, line.account_id, line.agreement_id, line.memo]


def decode_other(item: Sequence) -> Line:
    if len(item) == 2:
        return Line(int(item[0]), int(item[1]))
    return Line(int(item[0]), int(item[1]), item[2], item[3], memo=item[4] or "")


def split(lines: Iterable[Line]) -> tuple[Line | None, list[Line], list[list]]:
    """(first receivable line, further receivable lines, encoded other lines)."""
    receivables = []
    others = []
    for line in lines:
        if line.receivable:
            receivables.append(line)
        else:
            others.append(encode_other(line))
    first = receivables[0] if receivables else None
    return first, receivables[1:], others


def join(first: Line | None, extras: Iterable[Line], others: Iterable[Sequence]) -> list[Line]:
    lines = [first] if first is not None else []
    lines.extend(extras)
    lines.extend(decode_other(item) for item in others)
    return lines


def gl_totals(lines: Iterable[Line]) -> dict[int, list[int]]:
    """GL account id → [debit cents, credit cents (positive), number of lines]."""
    totals: dict[int, list[int]] = {}
    for line in lines:
        total = totals.setdefault(line.gl_account_id, [0, 0, 0])
        if line.amount_cents > 0:
            total[0] += line.amount_cents
        else:
            total[1] -= line.amount_cents
        total[2] += 1
    return totals
