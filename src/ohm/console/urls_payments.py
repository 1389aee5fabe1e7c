"""Console pages for payments and cash handling."""

from django.urls import path

from ohm.console.views import payments

urlpatterns = [
    path("cashier/", payments.cashier, name="cashier"),
    path("cashier/lookup/", payments.cashier_lookup, name="cashier_lookup"),
    path("cashier/close/", payments.close_drawer, name="close_drawer"),
    path("payments/", payments.payment_search, name="payments"),
    path("payments/unapplied/", payments.unapplied_queue, name="unapplied"),
    path("payments/imports/", payments.import_file, name="payment_imports"),
    path("payments/imports/<int:pk>/", payments.import_detail, name="payment_import"),
    path("payments/report/", payments.cash_report, name="cash_report"),
    path("payments/drawers/", payments.drawer_list, name="drawers"),
    path("payments/drawers/<int:pk>/", payments.drawer_detail, name="drawer"),
    path("payments/drawers/<int:pk>/sign-off/", payments.drawer_sign_off, name="drawer_sign_off"),
    path("payments/deposits/", payments.deposit_make, name="deposit_make"),
    path("payments/deposits/<int:pk>/slip.pdf", payments.deposit_slip, name="deposit_slip"),
    path("payments/<int:pk>/", payments.payment_detail, name="payment"),
    path("payments/<int:pk>/receipt.pdf", payments.payment_receipt, name="payment_receipt"),
    path("payments/<int:pk>/reverse/", payments.payment_reverse, name="payment_reverse"),
    path("payments/<int:pk>/transfer/", payments.payment_transfer, name="payment_transfer"),
    path("payments/<int:pk>/apply/", payments.payment_apply, name="payment_apply"),
    path("payments/<int:pk>/cancel/", payments.cancel_payment, name="payment_cancel"),
    path("accounts/<str:number>/payments/", payments.account_payments, name="account_payments"),
]
