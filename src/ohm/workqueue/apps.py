from django.apps import AppConfig


class WorkqueueConfig(AppConfig):
    name = "ohm.workqueue"
    label = "workqueue"
