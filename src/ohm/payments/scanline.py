"""The OCR scan line printed on a bill's remittance stub, and read back by the lockbox bank,
the cashier's scanner and pay agents. Pure: no Django.

Format (21 digits, printed in three groups separated by one space)::

    AAAAAAAAAA CCCCCCCCCC K
    │          │          └ check digit: Luhn (ohm.core.checkdigit) over the 20 digits before it
    │          └ amount due in cents, zero-padded to 10 digits (0 when the account has a credit)
    └ account number: 10 digits, its own last digit already a Luhn check digit

Example: account ``1000000008`` owing $123.45 → ``1000000008 0000012345 7``.

Readers ignore spaces, dashes and the ``<``/``>`` OCR-A field marks some printers add, so a
line typed by hand or read by any scanner parses the same. The two check digits catch a
misread account number and a misread amount independently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ohm.core.checkdigit import luhn_digit

ACCOUNT_DIGITS = 10
AMOUNT_DIGITS = 10
SCAN_LINE_DIGITS = ACCOUNT_DIGITS + AMOUNT_DIGITS + 1
MAX_AMOUNT_CENTS = 10**AMOUNT_DIGITS - 1
_IGNORED = re.compile(r"[\s\-<>]")


_DOUBLED = {str(d): (2 * d if d < 5 else 2 * d - 9) for d in range(10)}


def is_luhn_valid(number: str) -> bool:
    """``ohm.core.checkdigit.is_luhn_valid`` for digit strings, table-driven: a lockbox file
    checks two of these per item, 100,000 for a 50,000-item file."""
    total = sum(map(int, number[-1::-2])) + sum(map(_DOUBLED.__getitem__, number[-2::-2]))
    return total % 10 == 0


#: Luhn weights over a scan line's 21 digits and over its account number's 10: every second
#: digit from the right (the check digit itself not) is doubled.
_DOUBLED_LINE = np.arange(SCAN_LINE_DIGITS) % 2 == 1
_DOUBLED_ACCOUNT = np.arange(ACCOUNT_DIGITS) % 2 == 0


def _luhn_ok(digits: np.ndarray, doubled: np.ndarray) -> np.ndarray:
    twice = digits * 2
    values = np.where(doubled, np.where(twice > 9, twice - 9, twice), digits)
    return values.sum(axis=1) % 10 == 0


def _digit_rows(texts: Sequence[str], width: int) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The texts of ``width`` characters as a matrix of digits: (their indexes, the digits,
    whether each is all ASCII digits)."""
    chosen = [i for i, text in enumerate(texts) if len(text) == width]
    if not chosen:
        return chosen, np.zeros((0, width), dtype=np.int16), np.zeros(0, dtype=bool)
    raw = "".join([texts[i] for i in chosen]).encode("ascii", "replace")
    digits = (np.frombuffer(raw, dtype=np.uint8).reshape(len(chosen), width) - 48).astype(np.int16)
    good = ((digits >= 0) & (digits <= 9)).all(axis=1)
    return chosen, np.where(good[:, None], digits, 0), good


def scan_line_accounts(lines: Sequence[str]) -> list[str]:
    """The account number of each line that is a plain scan line (its 21 digits, both check
    digits right), "" for any other: a file's scan lines checked as one column (numpy), the
    hot path of matching. A line given "" here may still be a scan line written with spaces
    or marks, or a misread one: ``parse_scan_line`` says which."""
    found = [""] * len(lines)
    chosen, digits, good = _digit_rows(lines, SCAN_LINE_DIGITS)
    if chosen:
        good &= _luhn_ok(digits, _DOUBLED_LINE)
        good &= _luhn_ok(digits[:, :ACCOUNT_DIGITS], _DOUBLED_ACCOUNT)
        for i in np.flatnonzero(good).tolist():
            found[chosen[i]] = lines[chosen[i]][:ACCOUNT_DIGITS]
    return found


def plain_account_numbers(texts: Sequence[str]) -> list[str]:
    """Each text that is an account number as printed (ten digits, its check digit right),
    "" for any other; one numpy pass, as ``scan_line_accounts``."""
    found = [""] * len(texts)
    chosen, digits, good = _digit_rows(texts, ACCOUNT_DIGITS)
    if chosen:
        good &= _luhn_ok(digits, _DOUBLED_ACCOUNT)
        for i in np.flatnonzero(good).tolist():
            found[chosen[i]] = texts[chosen[i]]
    return found


class InvalidScanLine(ValueError):
    """Text that is not a scan line; the message says what is wrong, for a person to read."""


@dataclass(frozen=True)
class ScanLine:
    account_number: str
    amount_due_cents: int

    @property
    def text(self) -> str:
        return build_scan_line(
            account_number=self.account_number, amount_due_cents=self.amount_due_cents
        )


def build_scan_line(*, account_number: str, amount_due_cents: int) -> str:
    """The printed scan line for an account and the amount due on its bill (cents; a credit
    prints as zero).

    :raises InvalidScanLine: if the account number is not ten digits with a valid check digit,
        or the amount does not fit ten digits.
    """
    if not (
        len(account_number) == ACCOUNT_DIGITS
        and account_number.isdigit()
        and is_luhn_valid(account_number)
    ):
        raise InvalidScanLine(f"“{account_number}” is not a ten-digit account number.")
    if not isinstance(amount_due_cents, int) or isinstance(amount_due_cents, bool):
        raise InvalidScanLine(f"The amount due must be whole cents, not {amount_due_cents!r}.")
    amount = max(amount_due_cents, 0)
    if amount > MAX_AMOUNT_CENTS:
        raise InvalidScanLine(f"{amount} cents does not fit the scan line's ten digits.")
    body = f"{account_number}{amount:0{AMOUNT_DIGITS}d}"
    return f"{account_number} {amount:0{AMOUNT_DIGITS}d} {luhn_digit(body)}"


def looks_like_scan_line(text: str) -> bool:
    """True when ``text`` has the scan line's 21 digits (and nothing else but separators)."""
    digits = _IGNORED.sub("", text or "")
    return len(digits) == SCAN_LINE_DIGITS and digits.isdigit()


def parse_scan_line(text: str) -> ScanLine:
    """Read a scan line back.

    :raises InvalidScanLine: naming the first thing wrong (length, characters, check digits).
    """
    digits = (
        text if len(text) == SCAN_LINE_DIGITS and text.isdigit() else _IGNORED.sub("", text or "")
    )
    if digits and not digits.isdigit():
        raise InvalidScanLine(f"“{text}” is not a scan line: it must be digits only.")
    if len(digits) != SCAN_LINE_DIGITS:
        raise InvalidScanLine(
            f"“{text}” is not a scan line: it has {len(digits)} digits, a scan line has "
            f"{SCAN_LINE_DIGITS}."
        )
    if not is_luhn_valid(digits):
        raise InvalidScanLine(f"“{text}” fails the scan line's check digit: it was misread.")
    account = digits[:ACCOUNT_DIGITS]
    if not is_luhn_valid(account):
        raise InvalidScanLine(
            f"“{text}”: the account number {account} fails its check digit: it was misread."
        )
    return ScanLine(
        account_number=account,
        amount_due_cents=int(digits[ACCOUNT_DIGITS : ACCOUNT_DIGITS + AMOUNT_DIGITS]),
    )
