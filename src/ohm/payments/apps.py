from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "ohm.payments"
    label = "payments"
