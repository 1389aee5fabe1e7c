"""Check digits for identifiers people type: account numbers use the Luhn (mod 10) digit,
which catches every single-digit error and almost every swap of two adjacent digits.
Imports no Django."""

from __future__ import annotations


def luhn_digit(body: str) -> int:
    """The check digit to append to the digit string ``body``."""
    if not body.isdigit():
        raise ValueError(f"{body!r} is not a string of digits")
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:  # doubled: these sit next to the check digit, every second one
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_luhn_valid(number: str) -> bool:
    """True when the last digit of ``number`` is the Luhn digit of the rest."""
    return len(number) >= 2 and number.isdigit() and luhn_digit(number[:-1]) == int(number[-1])


def with_luhn_digit(body: str) -> str:
    return body + str(luhn_digit(body))
