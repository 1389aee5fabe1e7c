"""Account search, the same as the console's: name, address, phone, email, account or meter."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from ohm.api.auth import require_perm
from ohm.api.errors import invalid
from ohm.api.schemas import ERRORS, SearchOut
from ohm.search.queries import MIN_PREFIX, search_accounts

router = Router(tags=["search"])

VIEW_ACCOUNT = "customers.view_account"
MAX_RESULTS = 50


@router.get("/search", response={200: SearchOut, **ERRORS}, summary="Search accounts")
def search(
    request: HttpRequest,
    q: str = Query(..., description="Words to find, at least 2 characters"),
    limit: int = Query(20, ge=1, le=MAX_RESULTS),
):
    """Accounts matching every word of ``q`` (each word a prefix, case and punctuation
    ignored); active accounts first."""
    require_perm(request, VIEW_ACCOUNT, "search accounts")
    query = q.strip()
    if len(query) < MIN_PREFIX:
        raise invalid(
            "query", "q", f"Type at least {MIN_PREFIX} characters to search.", "too_short"
        )
    documents = search_accounts(query, limit=limit)
    return {
        "query": query,
        "count": len(documents),
        "items": [
            {
                "account_number": doc.account_number,
                "name": doc.display_name,
                "service_address": doc.service_address,
                "status": doc.status,
                "phone": doc.phone,
                "meter_serials": doc.meter_serials.split(),
            }
            for doc in documents
        ],
    }
