"""Address normalization so "123 N. Main Street" and "123 north main st" are one premise."""

from __future__ import annotations

import re

#: USPS street suffix and directional abbreviations (Publication 28), the common ones.
_ABBREVIATIONS = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "boulevard": "blvd",
    "drive": "dr",
    "road": "rd",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "terrace": "ter",
    "parkway": "pkwy",
    "highway": "hwy",
    "circle": "cir",
    "way": "way",
    "square": "sq",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "apartment": "apt",
    "suite": "ste",
    "unit": "unit",
}


def normalize_words(text: str) -> list[str]:
    """Lowercase alphanumeric words with USPS abbreviations applied."""
    words = re.findall(r"[a-z0-9]+", (text or "").lower())
    return [_ABBREVIATIONS.get(word, word) for word in words]


def address_key(street: str, city: str) -> str:
    return " ".join(normalize_words(street) + ["|"] + normalize_words(city))
