"""Meter data pages: the VEE exception queue, one exception, the analyst's interval edit."""

from django.urls import path

from ohm.console.views import vee

urlpatterns = [
    path("meter-data/exceptions/", vee.exception_queue, name="vee_exceptions"),
    path("meter-data/exceptions/<int:item_id>/", vee.exception_detail, name="vee_exception"),
    path("meters/<str:serial>/intervals/", vee.interval_edit, name="interval_edit"),
]
