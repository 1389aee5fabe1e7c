from django.apps import AppConfig


class RatesConfig(AppConfig):
    name = "ohm.rates"
    label = "rates"
