"""Printed payment documents, as PDF through Typst: the cashier's receipt and the bank
deposit slip. The templates read their data as JSON (``sys.inputs.data``), so a payer's name
is printed as typed and never read as Typst markup."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from ohm.core.localtime import to_local
from ohm.core.money import format_cents
from ohm.ledger import queries as ledger_queries
from ohm.payments import queries
from ohm.payments.models import DepositBatch, Payment

if TYPE_CHECKING:
    import typst

TEMPLATES = Path(__file__).resolve().parent / "templates" / "payments"


class _Typst:
    """One compiler per process and template: fonts load once, not per document."""

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

STATUS_NOTES: dict[str, str] = {
    Payment.Status.UNAPPLIED: "Held as unapplied: customer service will apply it to the right account.",
    Payment.Status.CANCELLED: "CANCELLED — this payment was undone.",
    Payment.Status.REVERSED: "RETURNED — this payment was reversed.",
    Payment.Status.DECLINED: "DECLINED — nothing was charged.",
    Payment.Status.UNKNOWN: "Waiting for the card processor's confirmation.",
    Payment.Status.PENDING: "Waiting for the card processor's confirmation.",
}


def receipt_data(payment: Payment, *, customer_name: str = "") -> dict:
    balance = (
        format_cents(ledger_queries.get_balance_cents(account_id=payment.account_id))
        if payment.account_id
        else "—"
    )
    received = to_local(payment.received_at)
    tender = queries.tender_label(payment.tender)
    if payment.tender_detail:
        tender += f" ({payment.tender_detail})"
    return {
        "utility_name": settings.UTILITY_NAME,
        "receipt_number": f"{payment.pk:08d}",
        "received": f"{received:%b %-d, %Y %-I:%M %p}",
        "account_number": payment.account.formatted_number if payment.account else "unapplied",
        "customer_name": customer_name or "—",
        "payer_name": payment.payer_name or "—",
        "tender": tender,
        "reference": payment.reference or "—",
        "taken_by": payment.created_by_label,
        "amount": format_cents(payment.amount_cents),
        "balance_after": balance,
        "status_note": STATUS_NOTES.get(payment.status, ""),
    }


def receipt_pdf(payment: Payment, *, customer_name: str = "") -> bytes:
    return _typst.render("receipt.typ", receipt_data(payment, customer_name=customer_name))


def deposit_slip_data(deposit: DepositBatch) -> dict:
    drawers = list(deposit.drawers.select_related("cashier", "signed_off_by"))
    items = queries.list_deposit_checks(drawer_ids=[d.pk for d in drawers])
    return {
        "utility_name": settings.UTILITY_NAME,
        "deposit_number": f"{deposit.pk:06d}",
        "business_date": deposit.business_date.isoformat(),
        "bank_account": deposit.bank_account or "—",
        "cash": format_cents(deposit.cash_cents),
        "checks": format_cents(deposit.checks_cents),
        "check_count": str(deposit.check_count),
        "money_orders": format_cents(deposit.money_orders_cents),
        "total": format_cents(deposit.total_cents),
        "prepared_by": deposit.created_by_label,
        "items": [
            {
                "kind": queries.tender_label(p.tender),
                "reference": p.reference or "—",
                "payer": p.payer_name or "—",
                "account": p.account.number if p.account else "unapplied",
                "amount": format_cents(p.amount_cents),
            }
            for p in items
        ],
        "drawers": [
            {
                "name": f"{d.name} ({d.business_date})",
                "cashier": d.cashier.username,
                "signed_off_by": d.signed_off_by.username if d.signed_off_by else "—",
                "over_short": format_cents(d.over_short_cents or 0),
            }
            for d in drawers
        ],
    }


def deposit_slip_pdf(deposit: DepositBatch) -> bytes:
    return _typst.render("deposit_slip.typ", deposit_slip_data(deposit))
