from django.apps import AppConfig


class AgreementsConfig(AppConfig):
    name = "ohm.agreements"
    label = "agreements"
