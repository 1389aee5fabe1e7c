from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "ohm.api"
    label = "api"
