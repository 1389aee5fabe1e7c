from django.apps import AppConfig


class PremisesConfig(AppConfig):
    name = "ohm.premises"
    label = "premises"
