from django.apps import AppConfig


class FinancialsConfig(AppConfig):
    name = "ohm.financials"
    label = "financials"
