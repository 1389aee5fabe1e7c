from django.apps import AppConfig


class MeteringConfig(AppConfig):
    name = "ohm.metering"
    label = "metering"
