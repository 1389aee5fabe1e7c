from django.apps import AppConfig


class BatchConfig(AppConfig):
    name = "ohm.batch"
    label = "batch"
