from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "ohm.billing"
    label = "billing"
