"""Console pages for banking: autopay, ACH files and returns, refunds, the check register."""

from django.urls import path

from ohm.console.views import banking

urlpatterns = [
    path("banking/", banking.hub, name="banking"),
    path("accounts/<str:number>/autopay/", banking.autopay_page, name="autopay"),
    path("accounts/<str:number>/autopay/enrol/", banking.autopay_enrol, name="autopay_enrol"),
    path("accounts/<str:number>/autopay/change/", banking.autopay_change, name="autopay_change"),
    path(
        "accounts/<str:number>/autopay/<str:action>/",
        banking.autopay_status,
        name="autopay_status",
    ),
    path("accounts/<str:number>/refund/", banking.refund_new, name="refund_new"),
    path("banking/ach/", banking.ach_files, name="ach_files"),
    path("banking/ach/build/", banking.ach_build, name="ach_build"),
    path("banking/ach/<int:pk>/", banking.ach_file_detail, name="ach_file"),
    path("banking/ach/<int:pk>/release/", banking.ach_release, name="ach_release"),
    path("banking/ach/<int:pk>/resume/", banking.ach_resume, name="ach_resume"),
    path("banking/ach/<int:pk>/cancel/", banking.ach_cancel, name="ach_cancel"),
    path("banking/ach/<int:pk>/download/", banking.ach_download, name="ach_download"),
    path("banking/returns/", banking.returns_page, name="ach_returns"),
    path("banking/returns/import/", banking.returns_import, name="ach_returns_import"),
    path("banking/returns/<int:pk>/", banking.returns_detail, name="ach_returns_detail"),
    path("banking/refunds/", banking.refund_list, name="refunds"),
    path("banking/refunds/<int:pk>/", banking.refund_detail, name="refund"),
    path("banking/refunds/<int:pk>/decide/", banking.refund_decide, name="refund_decide"),
    path("banking/refunds/<int:pk>/cancel/", banking.refund_cancel, name="refund_cancel"),
    path("banking/refunds/<int:pk>/check/", banking.refund_issue_check, name="refund_issue_check"),
    path("banking/refunds/<int:pk>/card/", banking.refund_issue_card, name="refund_issue_card"),
    path("banking/checks/", banking.check_register, name="check_register"),
    path("banking/checks/<int:pk>/void/", banking.check_void, name="check_void"),
    path("banking/positive-pay/", banking.positive_pay, name="positive_pay"),
]
