"""The console's start page: a greeting, the search box, the user's work and recent accounts."""

from __future__ import annotations

from django.shortcuts import render

from ohm.console.views.account import RECENT_SESSION_KEY
from ohm.console.views.auth import staff_required
from ohm.core import clock
from ohm.core.localtime import localdate, to_local
from ohm.search.models import SearchDocument
from ohm.workqueue import queries as work_queries

MY_WORK_SHOWN = 10


def _greeting(hour: int) -> str:
    if hour < 12:
        return "Good morning"
    if hour < 18:
        return "Good afternoon"
    return "Good evening"


@staff_required
def home(request):
    now = clock.now()
    team_ids = list(request.user.groups.values_list("id", flat=True))
    recent_numbers = request.session.get(RECENT_SESSION_KEY, [])
    documents = {
        d.account_number: d
        for d in SearchDocument.objects.filter(account_number__in=recent_numbers)
    }
    my_work = list(
        work_queries.list_my_work(user=request.user).order_by("priority", "due_date", "id")[
            : MY_WORK_SHOWN + 1
        ]
    )
    context = {
        "greeting": _greeting(to_local(now).hour),
        "today": localdate(now),
        "queue": work_queries.summarize_queue(team_ids=team_ids, as_of=localdate(now)),
        "my_work": my_work[:MY_WORK_SHOWN],
        "more_work": len(my_work) > MY_WORK_SHOWN,
        "recent": [documents[n] for n in recent_numbers if n in documents],
    }
    return render(request, "console/home.html", context)
