"""Global search: live results under the top-bar box (htmx) and the full results page."""

from __future__ import annotations

import re

from django.shortcuts import redirect, render

from ohm.console.views.auth import staff_required
from ohm.core.checkdigit import is_luhn_valid
from ohm.search.queries import search_accounts

LIVE_LIMIT = 8
PAGE_LIMIT = 50
CHECK_DIGIT_HINT = "check digit fails: a digit is mistyped or two are swapped"


def check_digit_hint(query: str) -> str:
    """A warning when the query looks like an account number (ten digits, spaces and dashes
    allowed) but its Luhn check digit fails. It may still be a phone number, so the search runs."""
    if not re.fullmatch(r"[\d\s-]+", query):
        return ""
    digits = re.sub(r"\D", "", query)
    if len(digits) == 10 and not is_luhn_valid(digits):
        return f"{digits} is not an account number — {CHECK_DIGIT_HINT}."
    return ""


@staff_required(perm="customers.view_account")
def search(request):
    query = request.GET.get("q", "").strip()[:200]
    live = bool(request.htmx) and not request.htmx.boosted
    results = search_accounts(query, limit=LIVE_LIMIT if live else PAGE_LIMIT) if query else []
    context = {"q": query, "results": results, "hint": check_digit_hint(query)}
    if live:
        return render(request, "console/partials/core_search_dropdown.html", context)
    digits = re.sub(r"\D", "", query)
    if len(results) == 1 and results[0].account_number == digits:
        return redirect("console:account", number=digits)
    return render(request, "console/search.html", context)
