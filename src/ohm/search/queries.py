"""Searching accounts: every typed term must prefix-match a token of the account."""

from __future__ import annotations

from django.db.models import QuerySet

from ohm.search.models import SearchDocument, SearchToken
from ohm.search.normalize import query_terms

_AFTER_ANY_TOKEN_CHAR = (
    "~"  # sorts after [a-z0-9] byte-wise, so [t, t + "~") are the tokens starting with t
)
MIN_PREFIX = 2


def _matching(term: str, *, exact: bool) -> QuerySet:
    tokens = (
        SearchToken.objects.filter(token=term)
        if exact
        else SearchToken.objects.filter(token__gte=term, token__lt=term + _AFTER_ANY_TOKEN_CHAR)
    )
    return tokens.values("document_id")


#: Past this many candidates for the most selective term, the database intersects the terms itself.
_CANDIDATE_CAP = 5_000


def search_accounts(query: str, *, limit: int = 20) -> list[SearchDocument]:
    """Accounts matching every term of ``query``; active accounts first, then by name.

    One-letter words (an initial, "N" for north) must match a whole token; a lone term needs
    at least two characters. The longest term (the most selective, usually) picks the
    candidates; each other term then only checks the candidates' own tokens, so a common
    word such as "st" never scans the whole index.
    """
    terms = sorted(set(query_terms(query)), key=len, reverse=True)
    if not terms or (len(terms) == 1 and len(terms[0]) < MIN_PREFIX):
        return []
    first = list(
        _matching(terms[0], exact=len(terms[0]) < MIN_PREFIX).values_list("document_id", flat=True)[
            : _CANDIDATE_CAP + 1
        ]
    )
    if len(first) > _CANDIDATE_CAP:
        documents = SearchDocument.objects.all()
        for term in terms:
            documents = documents.filter(pk__in=_matching(term, exact=len(term) < MIN_PREFIX))
        return list(documents.order_by("rank", "display_name", "account_number")[:limit])
    candidates = set(first)
    for term in terms[1:]:
        if not candidates:
            return []
        matching = _matching(term, exact=len(term) < MIN_PREFIX).filter(document_id__in=candidates)
        candidates &= set(matching.values_list("document_id", flat=True))
    if not candidates:
        return []
    return list(
        SearchDocument.objects.filter(pk__in=candidates).order_by(
            "rank", "display_name", "account_number"
        )[:limit]
    )
