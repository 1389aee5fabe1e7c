"""Console URLs for billing: cycles, bill runs (generic batch-run progress), held bills, bills."""

from django.urls import path

from ohm.console.views import billing

urlpatterns = [
    path("billing/", billing.home, name="billing_home"),
    path("billing/cycles/<int:cycle>/", billing.cycle_calendar, name="billing_cycle"),
    path("billing/runs/start/", billing.start_run, name="billing_start_run"),
    path("billing/exceptions/", billing.exceptions, name="billing_exceptions"),
    path("billing/bills/<str:number>/", billing.bill_detail, name="bill"),
    path("billing/bills/<str:number>/pdf/", billing.bill_pdf, name="bill_pdf"),
    path("billing/bills/<str:number>/release/", billing.release, name="bill_release"),
    path("billing/bills/<str:number>/cancel/", billing.cancel, name="bill_cancel"),
    path("billing/bills/<str:number>/rebill/", billing.rebill, name="bill_rebill"),
    path("batch-runs/<int:run_id>/", billing.run_detail, name="batch_run"),
    path("batch-runs/<int:run_id>/progress/", billing.run_progress, name="batch_run_progress"),
    path("batch-runs/<int:run_id>/resume/", billing.resume_run, name="batch_run_resume"),
    path("batch-runs/<int:run_id>/cancel/", billing.cancel_run, name="batch_run_cancel"),
    path("accounts/<str:number>/bills/", billing.account_bills, name="account_bills"),
]
