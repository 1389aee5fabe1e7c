"""Pages show the utility's wall-clock time, not UTC."""

from datetime import UTC, datetime

from django.http import HttpResponse
from django.template import Context, Template
from django.test import RequestFactory, override_settings

from ohm.console.middleware import UtilityTimeZoneMiddleware

TEMPLATE = Template("{{ moment|date:'Y-m-d H:i T' }}")


def render(request):
    return HttpResponse(
        TEMPLATE.render(Context({"moment": datetime(2026, 3, 5, 20, 0, tzinfo=UTC)}))
    )


def test_a_page_shows_the_utility_zone_in_winter_and_summer():
    middleware = UtilityTimeZoneMiddleware(render)
    assert middleware(RequestFactory().get("/")).content == b"2026-03-05 12:00 PST"

    summer = UtilityTimeZoneMiddleware(
        lambda request: HttpResponse(
            TEMPLATE.render(Context({"moment": datetime(2026, 7, 5, 20, 0, tzinfo=UTC)}))
        )
    )
    assert summer(RequestFactory().get("/")).content == b"2026-07-05 13:00 PDT"


@override_settings(UTILITY_TIME_ZONE="America/New_York")
def test_the_zone_is_the_utility_setting_and_does_not_leak_after_the_request():
    middleware = UtilityTimeZoneMiddleware(render)
    assert middleware(RequestFactory().get("/")).content == b"2026-03-05 15:00 EST"
    assert TEMPLATE.render(Context({"moment": datetime(2026, 3, 5, 20, 0, tzinfo=UTC)})) == (
        "2026-03-05 20:00 UTC"
    )
