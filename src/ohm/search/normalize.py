"""How text becomes search tokens, the same way for what is indexed and what is typed."""

from __future__ import annotations

import re
import unicodedata

from ohm.premises.addresses import normalize_words

_NON_TOKEN = re.compile(r"[^a-z0-9\s@._+'-]")


def fold(text: str) -> str:
    """Lowercase, accents removed: "José Núñez" -> "jose nunez"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def word_tokens(text: str) -> list[str]:
    """Words as tokens: "O'Brien-Smith" -> ["obrien", "smith", "obriensmith"]: apostrophes join, hyphens split and join."""
    tokens: list[str] = []
    for chunk in fold(text).split():
        chunk = re.sub(r"['’.]", "", chunk)
        parts = [p for p in re.split(r"[^a-z0-9]+", chunk) if p]
        tokens.extend(parts)
        if len(parts) > 1:
            tokens.append("".join(parts))
    return tokens


def address_tokens(text: str) -> list[str]:
    return normalize_words(fold(text))


def digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def phone_tokens(e164: str) -> list[str]:
    """A US number is found by its ten digits, the last seven, or the last four."""
    number = digits(e164)
    if number.startswith("1") and len(number) == 11:
        number = number[1:]
    return [number, number[-7:], number[-4:]]


def email_tokens(address: str) -> list[str]:
    address = fold(address)
    local = address.split("@", 1)[0]
    return [re.sub(r"[^a-z0-9]", "", address), re.sub(r"[^a-z0-9]", "", local)]


def query_terms(query: str) -> list[str]:
    """What a CSR typed, as prefixes to match. Number-like input ("(510) 555-0123",
    "1000-00001-7") is one term of its digits; otherwise each word is a term."""
    text = fold(query).strip()
    if not text:
        return []
    if re.fullmatch(r"[\d\s().+-]+", text) and len(digits(text)) >= 4:
        number = digits(text)
        if len(number) == 11 and number.startswith("1"):
            number = number[1:]
        return [number]
    if "@" in text:
        return [t for t in [re.sub(r"[^a-z0-9]", "", text)] if t]
    terms: list[str] = []
    for word in text.split():
        cleaned = re.sub(r"[^a-z0-9]", "", word)
        if cleaned:
            terms.extend(normalize_words(cleaned) or [cleaned])
    return terms
