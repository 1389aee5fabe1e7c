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


def search_accounts(query: str, *, limit: int = 20) -> list[SearchDocument]:
    """Accounts matching every term of ``query``; active accounts first, then by name.

    One-letter words (an initial, "N" for north) must match a whole token; a lone term needs
    at least two characters. Each term is an index range scan; the database intersects them
    (measured faster, on SQLite and PostgreSQL, than fetching candidates for the most selective
    term and probing the others: see bench/README.md).
    """
    terms = sorted(set(query_terms(query)), key=len, reverse=True)
    if not terms or (len(terms) == 1 and len(terms[0]) < MIN_PREFIX):
        return []
    documents = SearchDocument.objects.all()
    for term in terms:
        documents = documents.filter(pk__in=_matching(term, exact=len(term) < MIN_PREFIX))
    return list(documents.order_by("rank", "display_name", "account_number")[:limit])
