from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "ohm.customers"
    label = "customers"
