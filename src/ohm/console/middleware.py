"""Pages show times in the utility's own zone.

The database and the code work in UTC (``TIME_ZONE = "UTC"``); Django's ``date`` and
``time`` template filters convert an aware datetime to the *current* time zone before
formatting it. Activating the utility's zone for each request makes every page — console,
admin, forms — show local wall-clock time, whatever filter the template uses.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


class UtilityTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.zone = ZoneInfo(settings.UTILITY_TIME_ZONE)

    def __call__(self, request):
        timezone.activate(self.zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
