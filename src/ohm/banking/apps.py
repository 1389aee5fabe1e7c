from django.apps import AppConfig


class BankingConfig(AppConfig):
    name = "ohm.banking"
    label = "banking"
