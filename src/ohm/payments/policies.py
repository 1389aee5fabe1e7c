"""Payment rules a utility configures, read from Django settings with the defaults below.

- ``OHM_PAYMENTS_CASH_ONLY_AFTER_RETURNS`` (2): returned payments within the window that make
  an account cash-only (checks and ACH refused).
- ``OHM_PAYMENTS_RETURNS_WINDOW_DAYS`` (365): the window, in days, counted back from a return.
- ``OHM_PAYMENTS_CARD_RECHECK_SECONDS`` (60): how long a card payment may stay pending or
  unknown before the janitor asks the processor about it.
"""

from __future__ import annotations

import re

from django.conf import settings

from ohm.payments.models import Channel, Tender


def cash_only_after_returns() -> int:
    return int(getattr(settings, "OHM_PAYMENTS_CASH_ONLY_AFTER_RETURNS", 2))


def returns_window_days() -> int:
    return int(getattr(settings, "OHM_PAYMENTS_RETURNS_WINDOW_DAYS", 365))


def card_recheck_seconds() -> int:
    return int(getattr(settings, "OHM_PAYMENTS_CARD_RECHECK_SECONDS", 60))


#: Which tenders each channel takes.
TENDERS_BY_CHANNEL: dict[str, set[str]] = {
    Channel.CASHIER: {Tender.CASH, Tender.CHECK, Tender.MONEY_ORDER, Tender.CARD},
    Channel.PHONE_IVR: {Tender.CARD, Tender.ACH},
    Channel.PORTAL: {Tender.CARD, Tender.ACH},
    Channel.AUTOPAY: {Tender.ACH, Tender.CARD},
    Channel.LOCKBOX: {Tender.CHECK, Tender.MONEY_ORDER, Tender.ACH},
    Channel.PAY_AGENT: {Tender.CASH, Tender.CHECK, Tender.MONEY_ORDER, Tender.CARD},
    Channel.COLLECTION_AGENCY: {
        Tender.CASH,
        Tender.CHECK,
        Tender.MONEY_ORDER,
        Tender.CARD,
        Tender.ACH,
    },
}

#: Channels where the money is already in the bank when Ohm hears of it: a payment Ohm
#: would refuse at the counter (a check from a cash-only account) goes to suspense instead.
RECEIVED_CHANNELS = {Channel.LOCKBOX, Channel.PAY_AGENT, Channel.COLLECTION_AGENCY}

#: Tenders a cash-only account may not use.
REFUSED_WHEN_CASH_ONLY = {Tender.CHECK, Tender.ACH}

#: Why a payment comes back. Those marked ``True`` are returns that count toward cash-only
#: and carry the returned-payment fee; ACH return codes (R01…R99) count too.
RETURN_REASONS: dict[str, tuple[str, bool]] = {
    "nsf": ("Insufficient funds (NSF)", True),
    "account_closed": ("Account closed", True),
    "stop_payment": ("Payment stopped", True),
    "no_account": ("No account / unable to locate", True),
    "refer_to_maker": ("Refer to maker", True),
    "uncollected_funds": ("Uncollected funds", True),
    "counterfeit": ("Counterfeit or altered item", True),
    "chargeback": ("Card chargeback", True),
    "bank_error": ("Bank error (not the customer's)", False),
    "posting_error": ("Posting error", False),
}
_ACH_RETURN = re.compile(r"^R\d\d$")


def return_reason_label(code: str) -> str:
    if _ACH_RETURN.match(code):
        return f"ACH return {code}"
    return RETURN_REASONS.get(code, (code, False))[0]


def is_known_return_reason(code: str) -> bool:
    return code in RETURN_REASONS or bool(_ACH_RETURN.match(code))


def counts_as_return(code: str) -> bool:
    """A customer's returned payment (fee, cash-only count), not a bank or posting error."""
    if _ACH_RETURN.match(code):
        return True
    return RETURN_REASONS.get(code, ("", False))[1]


_PAN = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def contains_card_number(text: str) -> bool:
    """True when ``text`` holds something shaped like a card number (13–19 digits passing
    Luhn). Ohm never stores one: card data stays with the processor's hosted fields."""
    from ohm.core.checkdigit import is_luhn_valid

    for match in _PAN.finditer(text or ""):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and is_luhn_valid(digits):
            return True
    return False
