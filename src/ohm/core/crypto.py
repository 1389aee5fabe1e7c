"""Encryption at rest for sensitive fields, and masking for screens.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under
``settings.FIELD_ENCRYPTION_KEYS``: the first key encrypts, every key decrypts, so keys
rotate by prepending. Encrypted columns cannot be searched or sorted; store a separate
non-secret value (e.g. last four digits) where a search needs one.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

MASK = "•"


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "Each FIELD_ENCRYPTION_KEYS entry must be 32 url-safe base64-encoded bytes "
            "(make one with: ohm generate_field_key)."
        ) from exc


def encrypt(plaintext: str) -> str:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS)).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS)).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A sensitive field could not be decrypted: FIELD_ENCRYPTION_KEYS does not hold "
            "the key it was written with."
        ) from exc


class EncryptedTextField(models.TextField):
    """A text value stored as a Fernet token; reads back as the plain string.

    The ciphertext differs on every save, so the column is never compared in SQL.
    """

    description = "Text encrypted at rest"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))


def mask_tail(value: str | None, *, visible: int = 4) -> str:
    """Show only the last ``visible`` characters: "123456789" -> "•••••6789"."""
    if not value:
        return ""
    shown = value[-visible:] if visible else ""
    return MASK * max(len(value) - len(shown), 4) + shown


def mask_all(value: str | None) -> str:
    return MASK * 8 if value else ""
