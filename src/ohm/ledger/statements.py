"""A statement of account and the GL summary as files: CSV, and PDF through Typst.

The ledger sits below ``customers`` in the layers, so who the statement is for (name,
account number, mailing address) comes from the caller as a ``StatementHeader``.

The PDF template reads its data as JSON (``sys.inputs.data``) with Typst's ``json()``:
customer text never becomes Typst markup, so a name like ``#exit()`` or ``*bold*`` prints
as typed.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from ohm.core.money import format_cents, to_dollars
from ohm.ledger.queries import StatementRow, list_statement

if TYPE_CHECKING:
    import typst

TEMPLATES = Path(__file__).resolve().parent / "templates" / "ledger"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class StatementHeader:
    utility_name: str
    account_number: str
    customer_name: str
    mailing_lines: list[str]
    as_of: date


@dataclass(frozen=True)
class Statement:
    header: StatementHeader
    start_date: date | None
    end_date: date
    opening_balance_cents: int
    closing_balance_cents: int
    rows: list[StatementRow] = field(default_factory=list)


def build_statement(
    *,
    account_id: int,
    header: StatementHeader,
    start_date: date | None = None,
    end_date: date | None = None,
) -> Statement:
    """Every receivable transaction of the account in ``[start_date, end_date]`` (end
    defaults to the as-of date) with its running balance."""
    end = end_date or header.as_of
    opening, rows = list_statement(account_id=account_id, start_date=start_date, end_date=end)
    closing = rows[-1].running_balance_cents if rows else opening
    return Statement(header, start_date, end, opening, closing, rows)


def _text(value: str) -> str:
    """Text a spreadsheet would take for a formula gets a leading apostrophe."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def statement_csv(statement: Statement) -> str:
    """Header rows (utility, account, name, address, period, as-of), a blank row, then one
    row per transaction between an opening and a closing balance row. Dollars as decimals."""
    header = statement.header
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Utility", _text(header.utility_name)])
    writer.writerow(["Account number", header.account_number])
    writer.writerow(["Customer", _text(header.customer_name)])
    writer.writerow(["Mailing address", _text(" / ".join(header.mailing_lines))])
    writer.writerow(["From", statement.start_date.isoformat() if statement.start_date else ""])
    writer.writerow(["To", statement.end_date.isoformat()])
    writer.writerow(["As of", header.as_of.isoformat()])
    writer.writerow([])
    writer.writerow(["date", "entry", "kind", "description", "amount", "balance"])
    first_day = statement.start_date.isoformat() if statement.start_date else ""
    writer.writerow(
        [
            first_day,
            "",
            "opening",
            "Opening balance",
            "",
            to_dollars(statement.opening_balance_cents),
        ]
    )
    for row in statement.rows:
        writer.writerow(
            [
                row.effective_date.isoformat(),
                row.entry_id,
                row.kind,
                _text(row.description),
                to_dollars(row.amount_cents),
                to_dollars(row.running_balance_cents),
            ]
        )
    writer.writerow(
        [
            statement.end_date.isoformat(),
            "",
            "closing",
            "Closing balance",
            "",
            to_dollars(statement.closing_balance_cents),
        ]
    )
    return buffer.getvalue()


def statement_data(statement: Statement) -> dict:
    """What the Typst template is given: plain strings, amounts already formatted."""
    header = statement.header
    return {
        "utility_name": header.utility_name,
        "account_number": header.account_number,
        "customer_name": header.customer_name,
        "mailing_lines": list(header.mailing_lines),
        "as_of": f"{header.as_of:%B} {header.as_of.day}, {header.as_of.year}",
        "period": (
            f"{statement.start_date.isoformat()} to {statement.end_date.isoformat()}"
            if statement.start_date
            else f"through {statement.end_date.isoformat()}"
        ),
        "opening_balance": format_cents(statement.opening_balance_cents),
        "closing_balance": format_cents(statement.closing_balance_cents),
        "rows": [
            {
                "date": row.effective_date.isoformat(),
                "entry": str(row.entry_id),
                "description": row.description
                + (" (reversed)" if row.reversed else "")
                + (f" — reverses JE {row.reverses_entry_id}" if row.reverses_entry_id else ""),
                "amount": format_cents(row.amount_cents),
                "balance": format_cents(row.running_balance_cents),
            }
            for row in statement.rows
        ],
    }


class _Typst:
    """One compiler per process and template: fonts are loaded once, not per document."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._compilers: dict[str, typst.Compiler] = {}

    def render(self, template: str, data: dict) -> bytes:
        import typst

        with self._lock:
            compiler = self._compilers.get(template)
            if compiler is None:
                compiler = self._compilers[template] = typst.Compiler(
                    TEMPLATES / template, root=TEMPLATES, ignore_system_fonts=True
                )
            pdf = compiler.compile(format="pdf", sys_inputs={"data": json.dumps(data)})
        if not isinstance(pdf, bytes):
            raise RuntimeError(f"typst gave no single PDF for {template}")
        return pdf


_typst = _Typst()


def statement_pdf(statement: Statement) -> bytes:
    return _typst.render("statement.typ", statement_data(statement))


def gl_summary_csv(rows: list[dict]) -> str:
    """The daily GL summary (``queries.get_gl_summary`` rows) for the city's GL system:
    date, GL code, name, debits, credits, net, in dollars."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["date", "gl_code", "gl_name", "debits", "credits", "net"])
    for row in rows:
        writer.writerow(
            [
                row["date"].isoformat(),
                row["code"],
                _text(row["name"]),
                to_dollars(row["debit_cents"]),
                to_dollars(row["credit_cents"]),
                to_dollars(row["net_cents"]),
            ]
        )
    return buffer.getvalue()
