"""Console pages for rates: schedules, version history, the version editor, URDB import and
export, approvals, and the rate comparison on the account page."""

from django.urls import path

from ohm.console.views import rates

urlpatterns = [
    path("rates/", rates.schedule_list, name="rates"),
    path("rates/new/", rates.schedule_new, name="rate_schedule_new"),
    path("rates/<str:code>/", rates.schedule_detail, name="rate_schedule"),
    path("rates/<str:code>/edit/", rates.schedule_edit, name="rate_schedule_edit"),
    path("rates/<str:code>/import/", rates.urdb_import, name="rate_urdb_import"),
    path("rates/<str:code>/versions/new/", rates.version_new, name="rate_version_new"),
    path("rates/<str:code>/v<int:number>/", rates.version_detail, name="rate_version"),
    path("rates/<str:code>/v<int:number>/edit/", rates.version_edit, name="rate_version_edit"),
    path(
        "rates/<str:code>/v<int:number>/approve/",
        rates.version_approve,
        name="rate_version_approve",
    ),
    path(
        "rates/<str:code>/v<int:number>/withdraw/",
        rates.version_withdraw,
        name="rate_version_withdraw",
    ),
    path(
        "rates/<str:code>/v<int:number>/discard/",
        rates.version_discard,
        name="rate_version_discard",
    ),
    path("rates/<str:code>/v<int:number>/copy/", rates.version_copy, name="rate_version_copy"),
    path(
        "rates/<str:code>/v<int:number>/urdb.json",
        rates.version_export,
        name="rate_version_export",
    ),
    path(
        "rates/<str:code>/v<int:number>/preview/",
        rates.version_preview,
        name="rate_version_preview",
    ),
    path(
        "accounts/<str:number>/rate-comparison/",
        rates.account_comparison,
        name="rate_comparison",
    ),
]
