from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "ohm.console"
    label = "console"
