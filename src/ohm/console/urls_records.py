"""Console pages that create and change records, and the work queue pages."""

from django.urls import path

from ohm.console.views import meter, records, work

urlpatterns = [
    path("customers/new/", records.new_customer, name="customer_new"),
    path("persons/<int:pk>/", records.person_detail, name="person"),
    path("persons/<int:pk>/edit/", records.person_edit, name="person_edit"),
    path("persons/<int:pk>/phones/new/", records.phone_add, name="phone_add"),
    path(
        "persons/<int:pk>/phones/<int:phone_id>/remove/", records.phone_remove, name="phone_remove"
    ),
    path("persons/<int:pk>/emails/new/", records.email_add, name="email_add"),
    path(
        "persons/<int:pk>/emails/<int:email_id>/remove/", records.email_remove, name="email_remove"
    ),
    path("accounts/<str:number>/edit/", records.account_edit, name="account_edit"),
    path("accounts/<str:number>/status/", records.account_status, name="account_status"),
    path("accounts/<str:number>/alerts/new/", records.alert_new, name="alert_new"),
    path("alerts/<int:alert_id>/end/", records.alert_end, name="alert_end"),
    path(
        "accounts/<str:number>/persons/new/", records.account_person_new, name="account_person_new"
    ),
    path(
        "account-persons/<int:link_id>/end/", records.account_person_end, name="account_person_end"
    ),
    path("accounts/<str:number>/service/start/", records.service_start, name="service_start"),
    path("agreements/<str:sa_number>/stop/", records.service_stop, name="service_stop"),
    path("premises/new/", records.premise_new, name="premise_new"),
    path("premises/<str:number>/", records.premise_detail, name="premise"),
    path("meters/<str:serial>/", meter.meter_detail, name="meter"),
    path("meters/<str:serial>/ping/", meter.meter_ping, name="meter_ping"),
    path("meters/<str:serial>/read/", meter.meter_read, name="meter_read"),
    path("meters/<str:serial>/disconnect/", meter.meter_disconnect, name="meter_disconnect"),
    path("meters/<str:serial>/connect/", meter.meter_connect, name="meter_connect"),
    path("meters/<str:serial>/usage.json", meter.meter_usage, name="meter_usage"),
    path("work/", work.my_work, name="my_work"),
    path("work/team/", work.team_queue, name="team_queue"),
    path("work/next/", work.assign_next, name="work_assign_next"),
    path("work/new/", work.work_new, name="work_new"),
    path("work/<int:pk>/", work.work_item, name="work_item"),
    path("work/<int:pk>/notes/", work.work_note, name="work_note"),
    path("work/<int:pk>/status/", work.work_status, name="work_status"),
    path("work/<int:pk>/assign/", work.work_assign, name="work_assign"),
]
