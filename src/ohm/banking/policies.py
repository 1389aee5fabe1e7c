"""Banking settings and rules, read from ``settings.OHM_BANKING`` with demo defaults.

The defaults describe the demo's simulated bank; a utility sets its own in the environment's
settings (``OHM_BANKING = {...}``): the bank's routing number, the utility's company id and
the account its refund checks are drawn on (for the positive-pay file).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # File header: the bank that receives our files, and us.
    "immediate_destination": "121042882",
    "destination_name": "PACIFIC DEMO BANK",
    "immediate_origin": "1946000123",
    "origin_name": "",  # empty: the utility's name
    # Batch header: the company the customer's statement shows, and our bank's DFI id.
    "company_id": "1946000123",
    "company_name": "",  # empty: the utility's name, cut to 16 characters
    "odfi": "12104288",
    # The utility's disbursement account (refund checks are drawn on it): positive pay.
    "disbursement_account": "000123456789",
    "first_check_number": 100001,
    # Prenotes: live debits wait this many business days after a prenote is sent.
    "prenote_wait_business_days": 3,
    # Refunds: payments younger than this are not yet cleared and cannot be refunded.
    "uncleared_days": 10,
    # Refunds wait this many days after the bank details or mailing address change.
    "cooling_off_days": 30,
}

#: Return codes that are the customer's money (fee, autopay keeps going until cash-only).
#: Every other R-code is administrative: the bank details are wrong or the authorization
#: is gone, so autopay is suspended and the customer is told.
FUNDS_RETURN_CODES = {"R01", "R09"}

#: Change codes that correct the bank details Ohm holds.
BANK_DETAIL_CHANGE_CODES = {"C01", "C02", "C03", "C05", "C06", "C07"}

#: Work categories this app raises (seeded by migration 0002).
AUTOPAY_CATEGORY = "autopay_problem"
REFUND_APPROVAL_CATEGORY = "refund_approval"

#: The GL role refund checks are drawn on (seeded by migration 0002).
CHECK_CASH_ROLE = "cash_disbursements"
ACH_CASH_ROLE = "cash_ach"
#: A card refund leaves card cash clearing: the processor nets it from its next settlement.
CARD_CASH_ROLE = "cash_card"
REFUNDS_PAYABLE_ROLE = "refunds_payable"


def setting(name: str) -> Any:
    configured = getattr(settings, "OHM_BANKING", {}) or {}
    value = configured.get(name, DEFAULTS[name])
    if name in ("origin_name", "company_name") and not value:
        value = settings.UTILITY_NAME
    return value
