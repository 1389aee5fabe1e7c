"""Console pages for financial transactions and the approvals queue."""

from django.urls import path

from ohm.console.views import financials

urlpatterns = [
    path("accounts/<str:number>/adjust/", financials.adjust, name="adjust"),
    path("accounts/<str:number>/fee/", financials.fee, name="fee"),
    path("accounts/<str:number>/transfer/", financials.transfer, name="transfer"),
    path("accounts/<str:number>/write-off/", financials.write_off, name="write_off"),
    path(
        "accounts/<str:number>/write-off/reverse/",
        financials.reverse_write_off,
        name="reverse_write_off",
    ),
    path("accounts/<str:number>/recovery/", financials.recovery, name="recovery"),
    path("approvals/", financials.approvals, name="approvals"),
    path("approvals/needed/", financials.approval_needed, name="approval_needed"),
    path("approvals/<int:pk>/", financials.request_detail, name="financial_request"),
    path("approvals/<int:pk>/decide/", financials.request_decide, name="financial_request_decide"),
    path("approvals/<int:pk>/cancel/", financials.request_cancel, name="financial_request_cancel"),
]
